import type { IncomingMessage } from 'node:http';
import { API_KEY_HEADER } from '#contract';
import type { LocalApiKeyCache } from './api-key-cache.js';
import { AuthError, type Identity } from './identity.js';
import type { JwtVerifier } from './jwt.js';

// How a request's credential (API key header or bearer token) becomes an identity: the gateway's hot path asks the
// cached answer first and only then awaits verification.

/** What verifies the two kinds of credential. */
export interface Verifiers {
  readonly jwt: JwtVerifier;
  readonly apiKeys: LocalApiKeyCache;
}

/** A bearer token or API key verified before: known without a promise (most requests). */
export function cachedIdentity(req: IncomingMessage, deps: Verifiers): Identity | undefined {
  const apiKey = req.headers[API_KEY_HEADER];
  if (apiKey !== undefined) return typeof apiKey === 'string' ? deps.apiKeys.cached(apiKey) : undefined;
  const authz = req.headers.authorization;
  if (authz === undefined) return undefined;
  const token = bearerToken(authz);
  return token === undefined ? undefined : deps.jwt.cached(token);
}

/** The request's identity from its API key or bearer token (asked of auth or verified); AuthError when it has none that holds. */
export async function authenticate(
  req: IncomingMessage,
  required: boolean,
  deps: Verifiers,
): Promise<Identity | undefined> {
  const apiKey = req.headers[API_KEY_HEADER];
  const authz = req.headers.authorization;
  if (typeof apiKey === 'string') return await deps.apiKeys.validate(apiKey);
  if (authz !== undefined) {
    const token = bearerToken(authz);
    if (token === undefined) throw new AuthError(401, 'expected a Bearer token');
    return await deps.jwt.verify(token);
  }
  if (required) throw new AuthError(401, 'authentication required');
  return undefined;
}

/** The token of an `Authorization: Bearer <token>` header, or undefined for another scheme. */
function bearerToken(authz: string): string | undefined {
  return authz.length >= 8 && authz.slice(0, 7).toLowerCase() === 'bearer ' ? authz.slice(7).trim() : undefined;
}
