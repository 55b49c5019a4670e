/** Kubernetes resource quantities: parsing for validation and comparison. */

const CPU = /^(\d+(?:\.\d+)?)(m?)$/;
const MEMORY = /^(\d+)(Ki|Mi|Gi|Ti|K|M|G|T)?$/;
const MEMORY_FACTORS: Record<string, number> = {
  '': 1,
  K: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  Ki: 1024,
  Mi: 1024 ** 2,
  Gi: 1024 ** 3,
  Ti: 1024 ** 4,
};

/** CPU quantity in millicores, or undefined when it is not one ("100m", "0.5", "2"). */
export function cpuMillis(q: string): number | undefined {
  const m = CPU.exec(q);
  if (!m) return undefined;
  const n = Number(m[1]);
  return m[2] === 'm' ? n : n * 1000;
}

/** Memory or storage quantity in bytes, or undefined when it is not one ("128Mi", "1Gi"). */
export function bytes(q: string): number | undefined {
  const m = MEMORY.exec(q);
  if (!m) return undefined;
  return Number(m[1]) * (MEMORY_FACTORS[m[2] ?? ''] ?? NaN);
}
