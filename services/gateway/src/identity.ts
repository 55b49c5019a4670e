import { AUTH_REDIS_KEYS, IDENTITY_HEADERS } from '#contract';

/** A verified caller. `headers` is the flat [name, value, ...] list forwarded upstream, built once. */
export interface Identity {
  readonly method: 'jwt' | 'api_key';
  readonly userId: string;
  /** Rate-limit key: the account, whether it calls with tokens or with any of its API keys (N keys do not buy N allowances). */
  readonly rateKey: string;
  /** The token's session (`sid`). */
  readonly sessionId: string | undefined;
  /** Auth's Redis marker that refuses this credential at once: the token's session, or the API key ('' for neither). */
  readonly revocationKey: string;
  /** An API key's own expiry (seconds since the epoch; 0 for none). */
  readonly expiresAt?: number;
  readonly headers: readonly string[];
}

/** Header values must not carry CR/LF or other control characters from a token's claims. */
const SAFE = /^[\x20-\x7e]*$/;

function clean(v: string): string {
  return SAFE.test(v) ? v : encodeURIComponent(v);
}

export function makeIdentity(
  method: Identity['method'],
  userId: string,
  opts: {
    scopes?: readonly string[];
    roles?: readonly string[];
    apiKeyId?: string;
    sessionId?: string | undefined;
    expiresAt?: number;
  },
): Identity {
  const headers = [IDENTITY_HEADERS.method, method, IDENTITY_HEADERS.userId, clean(userId)];
  if (opts.scopes?.length) headers.push(IDENTITY_HEADERS.scopes, clean(opts.scopes.join(' ')));
  if (opts.roles?.length) headers.push(IDENTITY_HEADERS.roles, clean(opts.roles.join(',')));
  if (opts.apiKeyId) headers.push(IDENTITY_HEADERS.apiKeyId, clean(opts.apiKeyId));
  const sessionId = opts.sessionId || undefined;
  const revocationKey =
    method === 'jwt'
      ? sessionId
        ? AUTH_REDIS_KEYS.revokedSession(sessionId)
        : ''
      : opts.apiKeyId
        ? AUTH_REDIS_KEYS.revokedApiKey(opts.apiKeyId)
        : '';
  return {
    method,
    userId,
    rateKey: `u:${userId}`,
    sessionId,
    revocationKey,
    headers,
    ...(opts.expiresAt ? { expiresAt: opts.expiresAt } : {}),
  };
}

/** Why a request is refused: HTTP status and a message safe to show the client. */
export class AuthError extends Error {
  constructor(
    readonly status: 401 | 403 | 503,
    message: string,
  ) {
    super(message);
  }
}
