import { madeLocally, secretSpec } from '../contract/index.js';
import { type EnvValue, type Platform, resolveRef } from '../model/index.js';

/**
 * Environment values and arguments as Compose needs them. Compose interpolates `$` in every
 * string of a compose file, so literal text is escaped (`$$`), and the only interpolations
 * are the `.env` variables of secrets, which must be set.
 */

/** A literal for a compose file: `$` doubled so Compose passes it through to the container. */
export const literal = (s: string): string => s.replaceAll('$', () => '$$');

/** The `.env` variables a compose file may interpolate (for `.env.example` and its test). */
export const INTERPOLATION = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[?-])([^}]*))?\}/g;

/**
 * A secret's `.env` variable. Generated passwords use `${VAR:?msg}` (set and non-empty).
 * Credentials only their owner can give (OAuth) may stay empty, so they use `${VAR?msg}`:
 * Compose still refuses to start when the variable is missing from `.env`, but accepts `VAR=`.
 */
export function secretInterpolation(key: Parameters<typeof secretSpec>[0]): string {
  const s = secretSpec(key);
  if (madeLocally(s)) return `\${${s.dotenv}:?${s.dotenv} is not set: run make dev-setup or copy .env.example to .env}`;
  if (s.source === 'provided') return `\${${s.dotenv}?${s.dotenv} must be defined in .env (it may be empty)}`;
  throw new Error(`secret ${key} is a key file (${s.source}); mount it from keys/ instead of the environment`);
}

/** One env value for a compose service; `serviceName` stands in for the pod name. */
function composeEnvValue(platform: Platform, v: EnvValue, serviceName: string): string {
  if ('value' in v) return literal(v.value);
  if ('ref' in v) return resolveRef(platform, v.ref);
  if ('field' in v) return serviceName;
  return secretInterpolation(v.secret);
}

export function composeEnvironment(
  platform: Platform,
  env: Readonly<Record<string, EnvValue>>,
  serviceName: string,
): Record<string, string> {
  return Object.fromEntries(
    Object.entries(env)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([name, v]) => [name, composeEnvValue(platform, v, serviceName)]),
  );
}

const K8S_VAR = /\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g;

/**
 * An argument with Kubernetes `$(VAR)` references to the container's own environment:
 * each becomes the Compose value of that variable (a `.env` interpolation for a secret);
 * every other `$` is literal. A reference to a variable the container lacks is a model error.
 */
export function composeArg(
  platform: Platform,
  arg: string,
  env: Readonly<Record<string, EnvValue>>,
  serviceName: string,
): string {
  let out = '';
  let last = 0;
  for (const m of arg.matchAll(K8S_VAR)) {
    const name = m[1]!;
    const v = env[name];
    if (!v)
      throw new Error(
        `${serviceName}: argument ${JSON.stringify(arg)} refers to $(${name}), which is not in the container's environment`,
      );
    out += literal(arg.slice(last, m.index)) + composeEnvValue(platform, v, serviceName);
    last = m.index + m[0].length;
  }
  return out + literal(arg.slice(last));
}
