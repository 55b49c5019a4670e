/**
 * What the auth service publishes for other services to read: the Redis keys of revoked
 * sessions (the gateway refuses access tokens whose `sid` has one), the access-token type and
 * claims, the API-key format and the JetStream stream of auth events.
 */

/**
 * Redis keys written by auth. `revokedSession(sid)` exists (value: the revocation reason) while
 * access tokens of that session may still be presented: its TTL is the access-token lifetime
 * plus {@link REVOCATION_TTL_MARGIN_SECONDS} (the gateway's clock tolerance and more).
 * Auth itself checks revocation in PostgreSQL, the source of truth; Redis is the gateway's fast copy.
 */
export const AUTH_REDIS_KEYS = {
  revokedSession: (sessionId: string) => `prism:auth:revoked-session:${sessionId}`,
  /**
   * Exists while the gateway may still hold a cached validation of the revoked key: TTL
   * {@link API_KEY_CACHE_MAX_SECONDS} plus {@link REVOCATION_TTL_MARGIN_SECONDS}. The gateway checks it
   * on every request made with the key, in the same Redis call as its rate limit.
   */
  revokedApiKey: (keyId: string) => `prism:auth:revoked-api-key:${keyId}`,
  /** Auth's own per-address request limit (the gateway's limit, for `/auth` requests that do not pass the gateway). */
  rateLimit: (address: string) => `prism:auth:rate:${address}`,
} as const;

export const REVOCATION_TTL_MARGIN_SECONDS = 60;

/**
 * Auth's revocation events (on its JetStream stream, after the revoking transaction commits; payload
 * `session_id` or `key_id`). Every gateway subscribes to them, so a revoked credential is refused without
 * asking Redis on each request.
 */
export const AUTH_EVENT_SUBJECTS = {
  sessionRevoked: 'prism.auth.token.session_revoked',
  apiKeyRevoked: 'prism.auth.token.api_key_revoked',
} as const;

/** The longest the gateway may cache an API key's validation (gateway.yaml `auth.api_key_cache_seconds`). */
export const API_KEY_CACHE_MAX_SECONDS = 300;

/** Access tokens: RS256 JWTs with this `typ` header (RFC 9068) and these claims besides iss, aud, sub, exp, iat, jti. */
export const ACCESS_TOKEN = {
  typ: 'at+jwt',
  alg: 'RS256',
  /** Session id: look up AUTH_REDIS_KEYS.revokedSession(sid). */
  sessionClaim: 'sid',
  /** User roles, an array of strings. */
  rolesClaim: 'roles',
} as const;

const BASE64URL = /^[A-Za-z0-9_-]+$/;

/**
 * Whether `token` is a compact JWS in its one canonical spelling: three unpadded base64url parts,
 * each exactly what its bytes encode to (no `=`, no non-zero spare bits in a last character).
 * Decoders accept the other spellings, so without this one token would have many strings: each
 * misses the gateway's verification cache and looks like a new token to anything keyed by it.
 */
export function isCanonicalJws(token: string): boolean {
  const parts = token.split('.');
  if (parts.length !== 3) return false;
  for (const p of parts)
    if (!BASE64URL.test(p) || Buffer.from(p, 'base64url').toString('base64url') !== p) return false;
  return true;
}

/**
 * API keys: `prism_<12-char id>_<32-char secret><6-char checksum>`, base62. The checksum is the
 * CRC32 of everything before it, so a mistyped or truncated key is refused without a lookup, and
 * the `prism_` prefix lets secret scanners find leaked keys. Clients send it in `X-API-Key`.
 */
export const API_KEY_PATTERN = /^prism_([0-9A-Za-z]{12})_([0-9A-Za-z]{32})([0-9A-Za-z]{6})$/;
export const API_KEY_HEADER = 'x-api-key';

/** The JetStream stream that stores auth events (subjects SUBJECTS.authUser and SUBJECTS.authToken). */
export const AUTH_EVENTS_STREAM = 'PRISM_AUTH';
