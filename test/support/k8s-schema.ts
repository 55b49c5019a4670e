import * as clientModels from '@kubernetes/client-node';
import type { ManifestObject } from '../../infra/manifest/index.js';

/**
 * Validation of synthesized objects against the Kubernetes OpenAPI schemas:
 * - kubernetes-models (5.x) validates types, required
 *   fields and formats, but accepts unknown fields;
 * - so unknown fields are found by walking the attribute type maps of
 *   @kubernetes/client-node's generated models (generated from the same OpenAPI spec).
 */

type Ctor = new (data: unknown) => { validate(): void };

/** `apps/v1` → `apps/v1`, `v1` → `v1` (kubernetes-models' subpath layout). */
async function modelClass(apiVersion: string, kind: string): Promise<Ctor | undefined> {
  try {
    const mod = (await import(/* @vite-ignore */ `kubernetes-models/${apiVersion}/${kind}`)) as Record<string, unknown>;
    return (mod[kind] ?? mod.default) as Ctor | undefined;
  } catch {
    return undefined;
  }
}

/** Errors of kubernetes-models' validate(); undefined when the kind is not a built-in one. */
export async function openApiErrors(obj: ManifestObject): Promise<string[] | undefined> {
  const Model = await modelClass(obj.apiVersion, obj.kind);
  if (!Model) return undefined;
  try {
    new Model(obj).validate();
    return [];
  } catch (e) {
    const err = e as { message: string; errors?: { instancePath: string; message?: string }[] };
    return err.errors?.map((x) => `${x.instancePath || '/'} ${x.message ?? ''}`.trim()) ?? [err.message];
  }
}

type AttributeMap = readonly { name: string; baseName: string; type: string }[];
const models = clientModels as unknown as Record<string, { attributeTypeMap?: AttributeMap } | undefined>;

/** The client-node model name of a kind: `apps/v1` Deployment → V1Deployment, `autoscaling/v2` → V2... */
function rootType(apiVersion: string, kind: string): string {
  const version = apiVersion.split('/').pop()!;
  return `${version[0]!.toUpperCase()}${version.slice(1)}${kind}`;
}

const SCALARS = new Set(['string', 'number', 'boolean', 'Date', 'any', 'object', 'IntOrString', 'RuntimeRawExtension']);

/** Field paths present in the object but absent from the schema. Undefined for unknown kinds. */
export function unknownFields(obj: ManifestObject): string[] | undefined {
  const type = rootType(obj.apiVersion, obj.kind);
  if (!models[type]?.attributeTypeMap) return undefined;
  const found: string[] = [];
  walk(obj, type, '', found);
  return found;
}

function walk(value: unknown, type: string, path: string, found: string[]): void {
  if (value === null || value === undefined || SCALARS.has(type)) return;
  const array = /^Array<(.+)>$/.exec(type);
  if (array) {
    if (Array.isArray(value)) value.forEach((v, i) => walk(v, array[1]!, `${path}[${i}]`, found));
    return;
  }
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map) {
    for (const [k, v] of Object.entries(value)) walk(v, map[1]!, `${path}.${k}`, found);
    return;
  }
  const attributes = models[type]?.attributeTypeMap;
  if (!attributes || typeof value !== 'object') return;
  for (const [key, v] of Object.entries(value)) {
    const attr = attributes.find((a) => a.baseName === key);
    if (!attr) found.push(`${path}.${key}`.replace(/^\./, ''));
    else walk(v, attr.type, `${path}.${key}`, found);
  }
}
