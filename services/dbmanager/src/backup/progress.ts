/**
 * Progress of long operations, one line at most every `intervalMs` per phase, so a terminal or a
 * Job's log shows movement without flooding; phases and summaries are always printed.
 */
export interface Reporter {
  phase(name: string, detail?: string): void;
  /** `done` of `total` bytes, or of things counted (`unit` 'count': WAL segments, files). */
  progress(phase: string, done: number, total?: number, unit?: 'bytes' | 'count'): void;
  line(text: string): void;
  child(label: string): Reporter;
}

export function formatBytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

export function lineReporter(write: (line: string) => void, label = '', intervalMs = 1000): Reporter {
  const last = new Map<string, number>();
  const prefix = label ? `[${label}] ` : '';
  return {
    phase: (name, detail) => write(`${prefix}${name}${detail ? `: ${detail}` : ''}`),
    progress: (phase, done, total, unit = 'bytes') => {
      const now = Date.now();
      const finished = total !== undefined && done >= total;
      if (!finished && now - (last.get(phase) ?? 0) < intervalMs) return;
      last.set(phase, now);
      const pct = total ? ` (${Math.min(100, Math.floor((done / total) * 100))}%)` : '';
      const show = unit === 'bytes' ? formatBytes : String;
      write(`${prefix}${phase}: ${show(done)}${total ? ` of ${show(total)}` : ''}${pct}`);
    },
    line: (text) => write(`${prefix}${text}`),
    child: (l) => lineReporter(write, l, intervalMs),
  };
}

const silentReporter: Reporter = { phase: () => {}, progress: () => {}, line: () => {}, child: () => silentReporter };
