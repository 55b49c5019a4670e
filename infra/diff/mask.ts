/**
 * Which values the manifest diff never prints. The manifests should hold no secret at all (they
 * reference `prism-secrets`); this is the second line of defence for a diff posted on a pull request.
 *
 * Hidden: everything under a Secret's `data`/`stringData`; any string or number under a key whose
 * name ends in password, passwd, secret, token, credential(s), private key, api key, secret key or
 * access key (so `clientSecret` and `redis-password` are hidden, while references such as
 * `secretKeyRef` and `secretName` stay visible); the `value` of a list item whose `name` is such a
 * name (an env var `PRISM_REDIS_PASSWORD` with a literal value); and in multi-line text (config
 * files), the value part of a `key: value`, `key=value` or `key value` line with such a key.
 * Booleans are never secret and stay visible (`automountServiceAccountToken: false`).
 */

const SENSITIVE_SUFFIXES = [
  'password',
  'passwd',
  'secret',
  'token',
  'credential',
  'credentials',
  'privatekey',
  'apikey',
  'secretkey',
  'accesskey',
  'requirepass',
];

function isSensitiveName(name: string): boolean {
  const n = name.toLowerCase().replace(/[^a-z0-9]/g, '');
  return SENSITIVE_SUFFIXES.some((s) => n.endsWith(s));
}

/** A path segment: an object key, or a list item (with its `name` when the list is keyed by name). */
export type Segment = { readonly key: string } | { readonly index: number; readonly name?: string };

export function isSensitivePath(kind: string, path: readonly Segment[]): boolean {
  const first = path[0];
  if (kind === 'Secret' && first && 'key' in first && (first.key === 'data' || first.key === 'stringData')) return true;
  return path.some((s, i) => {
    if ('key' in s) {
      if (isSensitiveName(s.key)) return true;
      const prev = path[i - 1];
      return (
        s.key === 'value' &&
        prev !== undefined &&
        'index' in prev &&
        prev.name !== undefined &&
        isSensitiveName(prev.name)
      );
    }
    return false;
  });
}

/** Whether a value at a sensitive path is hidden (strings and numbers; structures are walked into). */
export function hides(value: unknown): boolean {
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'bigint';
}

/** Stands in for a redacted value; printed as `(hidden)`. */
export const HIDDEN: unique symbol = Symbol('hidden');

/** Replaces the value of every sensitive `key: value` / `key=value` / `key value` line of a text. */
export function maskText(line: string): string {
  return line.replace(
    /^(\s*["']?)([A-Za-z0-9_.-]+)(["']?\s*(?:[:=]\s*|\s+))(\S.*)$/,
    (all, pre: string, key: string, sep: string) => (isSensitiveName(key) ? `${pre}${key}${sep}(hidden)` : all),
  );
}
