import { readFileSync } from 'node:fs';
import {
  customFetch,
  type FetchImplementation,
  calculateJwkThumbprint,
  createRemoteJWKSet,
  errors,
  exportJWK,
  importSPKI,
  jwtVerify,
  type CryptoKey,
  type JWTHeaderParameters,
  type JWTPayload,
} from 'jose';
import { Agent, fetch as undiciFetch } from 'undici';
import { ACCESS_TOKEN, isCanonicalJws } from '#contract';
import { serverIdentityCheck } from '../../runtime/src/index.js';
import { AuthError, makeIdentity, type Identity } from './identity.js';

export interface JwtOptions {
  readonly issuer: string;
  readonly audience: string;
  /** The auth service's JWKS: fetched on demand, cached 10 minutes, refetched for an unknown `kid` (at most every 30 s). */
  readonly jwksUrl?: string | undefined;
  /** CA bundle (PEM) an https JWKS URL's certificate must chain to (the mesh CA); default the system CAs. */
  readonly jwksCaFile?: string | undefined;
  /** URI SAN the JWKS server's certificate must carry (auth's workload identity). */
  readonly jwksServerIdentity?: string | undefined;
  /**
   * RS256 public keys (PEM): one key, or the auth service's rotation bundle of every key that still
   * verifies. Each key's `kid` is its RFC 7638 SHA-256 thumbprint; a token without a `kid` is
   * accepted only when the file holds exactly one key.
   */
  readonly publicKeyFile?: string | undefined;
  readonly clockToleranceSeconds: number;
  /** Verified tokens remembered; 0 disables the cache. */
  readonly cacheSize: number;
  /** Least time between two JWKS fetches for unknown `kid`s. @default 30 s */
  readonly jwksCooldownMs?: number;
  /**
   * How often the JWKS is fetched again even when every token is answered from the cache; cached tokens of a key
   * no longer in it are forgotten then (verified again, and refused). @default 10 minutes, the JWKS' own cache age
   */
  readonly jwksRefreshMs?: number;
}

interface Cached {
  readonly identity: Identity;
  readonly exp: number;
  readonly nbf: number;
  /** Verified with a key of the JWKS (not the key file), this one: forgotten when the JWKS stops listing it. */
  readonly jwksKid: string | undefined;
  readonly fromJwks: boolean;
}

const PEM_BLOCK = /-----BEGIN PUBLIC KEY-----[\s\S]+?-----END PUBLIC KEY-----/g;

/** The JWKS' cache age: a key withdrawn from it stops verifying within this long, cached tokens included. */
const JWKS_MAX_AGE_MS = 10 * 60_000;

/** fetch that trusts only the CA in `file` (read once): the JWKS is then fetched from auth over TLS verified against the mesh CA. */
function caPinnedFetch(file: string, serverIdentity: string | undefined): FetchImplementation {
  const dispatcher = new Agent({
    connect: { ca: readFileSync(file), checkServerIdentity: serverIdentityCheck(serverIdentity) },
  });
  return (url, options) => undiciFetch(url, { ...(options as object), dispatcher });
}

/**
 * RS256-only bearer token verification with jose: `typ: at+jwt`, signature, `exp` / `nbf` with
 * leeway, `iss`, `aud`, `sub` present. A token is verified once and then remembered (keyed by the whole token,
 * so any change to it misses the cache) until it expires, its `exp` / `nbf` checked again on every use. Revocation
 * does not depend on the cache (sessions are checked apart, `admission.ts`); a key withdrawn from the JWKS does:
 * the JWKS is fetched again every `jwksRefreshMs` and the tokens of a key it no longer lists are forgotten, so a
 * withdrawn key stops verifying within that time, cached tokens included, as it would without a cache.
 */
export class JwtVerifier {
  private readonly cache = new Map<string, Cached>();
  private fileKeys = new Map<string, CryptoKey>();
  private readonly jwks: ReturnType<typeof createRemoteJWKSet> | undefined;
  private jwksFetched = false;
  private readonly refresher: NodeJS.Timeout | undefined;

  private constructor(private readonly opts: JwtOptions) {
    this.jwks = opts.jwksUrl
      ? createRemoteJWKSet(new URL(opts.jwksUrl), {
          cacheMaxAge: JWKS_MAX_AGE_MS,
          cooldownDuration: opts.jwksCooldownMs ?? 30_000,
          timeoutDuration: 3_000,
          ...(opts.jwksCaFile ? { [customFetch]: caPinnedFetch(opts.jwksCaFile, opts.jwksServerIdentity) } : {}),
        })
      : undefined;
    if (this.jwks)
      this.refresher = setInterval(() => void this.refreshJwks(), opts.jwksRefreshMs ?? JWKS_MAX_AGE_MS).unref();
  }

  /** Fetches the JWKS again and forgets the cached tokens of keys it no longer lists (kept if it cannot be fetched). */
  private async refreshJwks(): Promise<void> {
    try {
      await this.jwks!.reload();
    } catch {
      return; // auth unreachable: the keys known stay, as for tokens verified now
    }
    const kids = new Set(this.jwks!.jwks()?.keys.map((k) => k.kid));
    for (const [token, c] of this.cache) if (c.fromJwks && !kids.has(c.jwksKid)) this.cache.delete(token);
  }

  close(): void {
    clearInterval(this.refresher);
  }

  static async create(opts: JwtOptions): Promise<JwtVerifier> {
    const v = new JwtVerifier(opts);
    if (opts.publicKeyFile) {
      const pems = readFileSync(opts.publicKeyFile, 'utf8').match(PEM_BLOCK) ?? [];
      if (pems.length === 0) throw new Error(`${opts.publicKeyFile}: no PEM public key in the file`);
      for (const pem of pems) {
        const key = await importSPKI(pem, 'RS256', { extractable: true });
        v.fileKeys.set(await calculateJwkThumbprint(await exportJWK(key), 'sha256'), key);
      }
    }
    return v;
  }

  /** The `kid`s of the public key file's keys. */
  get fileKids(): string[] {
    return [...this.fileKeys.keys()];
  }

  /** Throws when no verification key can be had (readiness check). */
  async checkKeys(): Promise<void> {
    if (this.fileKeys.size > 0 || this.jwksFetched || !this.jwks) return;
    await this.jwks.reload();
    this.jwksFetched = true;
  }

  private readonly getKey = async (
    header: JWTHeaderParameters,
    token: Parameters<ReturnType<typeof createRemoteJWKSet>>[1],
  ) => {
    const fileKey =
      header.kid === undefined
        ? this.fileKeys.size === 1
          ? [...this.fileKeys.values()][0]
          : undefined
        : this.fileKeys.get(header.kid);
    if (fileKey) return fileKey;
    if (!this.jwks) throw new errors.JWKSNoMatchingKey();
    const key = await this.jwks(header, token);
    this.jwksFetched = true;
    return key;
  };

  /**
   * The identity of a token verified before and still valid (`exp` / `nbf` checked now), without
   * waiting: the common case, answered synchronously. Otherwise undefined, and {@link verify} decides.
   */
  cached(token: string): Identity | undefined {
    const hit = this.cache.get(token);
    if (hit === undefined) return undefined;
    const sec = Date.now() / 1000;
    const tol = this.opts.clockToleranceSeconds;
    if (sec <= hit.exp + tol && sec >= hit.nbf - tol) return hit.identity;
    this.cache.delete(token);
    return undefined;
  }

  async verify(token: string): Promise<Identity> {
    const hit = this.cached(token);
    if (hit !== undefined) return hit;
    if (!isCanonicalJws(token)) throw new AuthError(401, 'invalid token');
    let payload: JWTPayload;
    let header: JWTHeaderParameters;
    let key: CryptoKey;
    try {
      ({
        payload,
        protectedHeader: header,
        key,
      } = await jwtVerify(token, this.getKey, {
        algorithms: [ACCESS_TOKEN.alg],
        // Only access tokens (RFC 9068 `typ: at+jwt`), never another kind of token signed by the same key.
        typ: ACCESS_TOKEN.typ,
        issuer: this.opts.issuer,
        audience: this.opts.audience,
        clockTolerance: this.opts.clockToleranceSeconds,
        requiredClaims: ['exp', 'sub'],
      }));
    } catch (e) {
      throw toAuthError(e);
    }
    const roles = payload[ACCESS_TOKEN.rolesClaim];
    const sid = payload[ACCESS_TOKEN.sessionClaim];
    const identity = makeIdentity('jwt', payload.sub!, {
      scopes: typeof payload.scope === 'string' ? payload.scope.split(' ').filter(Boolean) : [],
      roles: Array.isArray(roles) ? roles.filter((r): r is string => typeof r === 'string') : [],
      sessionId: typeof sid === 'string' ? sid : undefined,
    });
    if (this.opts.cacheSize > 0) {
      if (this.cache.size >= this.opts.cacheSize) this.cache.delete(this.cache.keys().next().value!);
      const fromJwks = ![...this.fileKeys.values()].includes(key);
      this.cache.set(token, { identity, exp: payload.exp!, nbf: payload.nbf ?? 0, jwksKid: header.kid, fromJwks });
    }
    return identity;
  }
}

function toAuthError(e: unknown): AuthError {
  if (e instanceof errors.JWKSTimeout) return new AuthError(503, 'authentication keys unavailable');
  if (e instanceof errors.JWTExpired) return new AuthError(401, 'token expired');
  if (e instanceof errors.JWTClaimValidationFailed && e.claim === 'typ')
    return new AuthError(401, 'not an access token');
  if (e instanceof errors.JWTClaimValidationFailed) return new AuthError(401, `token claim ${e.claim} rejected`);
  if (e instanceof errors.JWKSNoMatchingKey) return new AuthError(401, 'token signed with an unknown key');
  if (e instanceof errors.JOSEAlgNotAllowed) return new AuthError(401, 'token algorithm not allowed');
  if (e instanceof errors.JOSEError) return new AuthError(401, 'invalid token');
  // A JWKS fetch that failed on the network (not the token's fault).
  if (e instanceof TypeError || (e as { cause?: unknown })?.cause)
    return new AuthError(503, 'authentication keys unavailable');
  return new AuthError(401, 'invalid token');
}
