import * as pulumi from '@pulumi/pulumi';
import {
  CONFIG_NAMESPACE,
  StackConfigError,
  innermostDef,
  stackConfigSchema,
  validateStackConfig,
  type StackConfig,
} from '../config/index.js';
import { SECRET_KEYS } from '../contract/index.js';

/** Stack files live here (Pulumi.yaml: `stackConfigDir: stacks`), the same files `npm run synth` reads. */
export const STACK_CONFIG_DIR = 'stacks';

/** Secret config keys: read only with `getSecret` (program secrets), never as plain values. */
const SECRET_CONFIG_KEYS: ReadonlySet<string> = new Set(SECRET_KEYS.map((s) => s.pulumiKey));

/**
 * The stack's `prism:` configuration as Pulumi hands it to the program, validated with the same
 * zod schema as the cdk8s synth. The keys come from the schema's shape; unknown `prism:` keys are
 * passed through so the strict schema rejects them exactly as `loadStack` does.
 */
export function readStackConfig(
  stack: string,
  config: pulumi.Config = new pulumi.Config(CONFIG_NAMESPACE),
): StackConfig {
  const values: Record<string, unknown> = {};
  const shape = stackConfigSchema.shape as Record<string, unknown>;
  for (const [key, schema] of Object.entries(shape)) {
    if (SECRET_CONFIG_KEYS.has(key)) continue;
    // Pulumi passes structured values as JSON text and strings as they are.
    const value = innermostDef(schema)?.type === 'string' ? config.get(key) : config.getObject<unknown>(key);
    if (value !== undefined) values[key] = value;
  }
  const prefix = `${CONFIG_NAMESPACE}:`;
  const all = pulumi.runtime.allConfig();
  for (const [fullKey, raw] of Object.entries(all)) {
    const key = fullKey.slice(prefix.length);
    if (fullKey.startsWith(prefix) && !(key in shape)) values[key] = raw;
  }
  const plaintext = [...SECRET_CONFIG_KEYS].filter(
    (k) => all[`${prefix}${k}`] !== undefined && !isSecretConfig(`${prefix}${k}`),
  );
  if (plaintext.length > 0) {
    throw new StackConfigError(
      `stack ${stack}`,
      plaintext.map(
        (k) =>
          `${prefix}${k}: stored in plain text; remove it and set it with pulumi config set --secret ${prefix}${k}`,
      ),
    );
  }
  return validateStackConfig(values, `stack ${stack}`, stack);
}

/**
 * Whether the engine passed a key as a secret (`pulumi config set --secret`). The SDK keeps this
 * check internal (Config.get* use it); without it the check is skipped, and `npm run synth` still
 * rejects a plain-text secret in the stack file (the schema wants `{ secure: ... }` there).
 */
function isSecretConfig(fullKey: string): boolean {
  const check = (pulumi.runtime as unknown as { isConfigSecret?: (k: string) => boolean }).isConfigSecret;
  return check ? check(fullKey) : true;
}
