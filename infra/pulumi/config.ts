import * as pulumi from '@pulumi/pulumi';
import { CONFIG_NAMESPACE, stackConfigSchema, validateStackConfig, type StackConfig } from '../config/index.js';
import { SECRET_KEYS } from '../model/index.js';

/** Secret config keys: read only with `getSecret` (program secrets), never as plain values. */
export const SECRET_CONFIG_KEYS: ReadonlySet<string> = new Set(SECRET_KEYS.map((s) => s.pulumiKey));

/**
 * The stack's `prism:` configuration as Pulumi hands it to the program, validated with the same
 * zod schema as the cdk8s synth. The keys come from the schema's shape; unknown `prism:` keys are
 * passed through so the strict schema rejects them exactly as `loadStack` does.
 */
export function readStackConfig(stack: string, config: pulumi.Config = new pulumi.Config(CONFIG_NAMESPACE)): StackConfig {
  const values: Record<string, unknown> = {};
  const shape = stackConfigSchema.shape as Record<string, unknown>;
  for (const [key, schema] of Object.entries(shape)) {
    if (SECRET_CONFIG_KEYS.has(key)) continue;
    // Pulumi passes structured values as JSON text and strings as they are.
    const value = baseType(schema) === 'string' ? config.get(key) : config.getObject<unknown>(key);
    if (value !== undefined) values[key] = value;
  }
  const prefix = `${CONFIG_NAMESPACE}:`;
  for (const [fullKey, raw] of Object.entries(pulumi.runtime.allConfig())) {
    const key = fullKey.slice(prefix.length);
    if (fullKey.startsWith(prefix) && !(key in shape)) values[key] = raw;
  }
  return validateStackConfig(values, `stack ${stack}`);
}

/** The zod type under optional/default/prefault/pipe wrappers (`string`, `object`, ...). */
function baseType(schema: unknown): string | undefined {
  let s = schema as { def?: { type?: string; innerType?: unknown; in?: unknown } } | undefined;
  for (let i = 0; i < 8 && s?.def; i++) {
    const inner = s.def.innerType ?? s.def.in;
    if (!inner) return s.def.type;
    s = inner as typeof s;
  }
  return s?.def?.type;
}
