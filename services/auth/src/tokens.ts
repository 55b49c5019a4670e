import { createHash, randomBytes, randomUUID, type webcrypto } from 'node:crypto';
import { errors, jwtVerify, SignJWT, type JWTPayload, type JWTHeaderParameters } from 'jose';
import { ACCESS_TOKEN, isCanonicalJws } from '#contract';
import type { KeyRing } from './keys.js';

export interface AccessClaims {
  readonly sub: string;
  readonly sid: string;
  readonly roles: readonly string[];
  readonly exp: number;
  readonly iat: number;
  readonly jti: string;
}

export interface IssuedAccessToken {
  readonly token: string;
  readonly expiresAt: number;
}

/** Why a token was refused; the gRPC API returns it as `reason`. */
export type TokenRejection =
  | 'malformed'
  | 'expired'
  | 'bad_signature'
  | 'unknown_key'
  | 'wrong_issuer'
  | 'wrong_audience'
  | 'wrong_type'
  | 'revoked';

export class InvalidToken extends Error {
  constructor(readonly reason: TokenRejection) {
    super(`access token refused: ${reason}`);
  }
}

export interface TokenSettings {
  readonly issuer: string;
  readonly audience: string;
  readonly accessTtlSeconds: number;
  /** Clock skew tolerated on exp / iat. @default 30 */
  readonly clockToleranceSeconds?: number;
}

/** Signs and verifies access tokens: RS256, `typ: at+jwt`, with kid, iss, aud, sub, sid, roles, a short exp. */
export class AccessTokens {
  constructor(
    private keys: KeyRing,
    readonly settings: TokenSettings,
  ) {}

  /** Replaces the key ring (rotation without a restart). */
  useKeys(keys: KeyRing): void {
    this.keys = keys;
  }

  get jwks(): KeyRing['jwks'] {
    return this.keys.jwks;
  }

  async issue(
    userId: string,
    sessionId: string,
    roles: readonly string[],
    now = Date.now(),
  ): Promise<IssuedAccessToken> {
    const iat = Math.floor(now / 1000);
    const exp = iat + this.settings.accessTtlSeconds;
    const token = await new SignJWT({ [ACCESS_TOKEN.sessionClaim]: sessionId, [ACCESS_TOKEN.rolesClaim]: [...roles] })
      .setProtectedHeader({ alg: ACCESS_TOKEN.alg, typ: ACCESS_TOKEN.typ, kid: this.keys.signing.kid })
      .setIssuer(this.settings.issuer)
      .setAudience(this.settings.audience)
      .setSubject(userId)
      .setIssuedAt(iat)
      .setExpirationTime(exp)
      .setJti(randomUUID())
      .sign(this.keys.signing.key);
    return { token, expiresAt: exp };
  }

  /** Verifies signature (any key of the ring), typ, iss, aud, exp; throws {@link InvalidToken}. Revocation is checked by the caller. */
  async verify(token: string): Promise<AccessClaims> {
    if (!isCanonicalJws(token)) throw new InvalidToken('malformed');
    try {
      const { payload } = await jwtVerify(token, (header: JWTHeaderParameters) => this.keyFor(header), {
        algorithms: [ACCESS_TOKEN.alg],
        issuer: this.settings.issuer,
        audience: this.settings.audience,
        typ: ACCESS_TOKEN.typ,
        clockTolerance: this.settings.clockToleranceSeconds ?? 30,
        requiredClaims: ['sub', 'exp', 'iat', 'jti', ACCESS_TOKEN.sessionClaim],
      });
      return toClaims(payload);
    } catch (e) {
      if (e instanceof InvalidToken) throw e;
      throw new InvalidToken(rejectionOf(e));
    }
  }

  private keyFor(header: JWTHeaderParameters): webcrypto.CryptoKey {
    const key = header.kid ? this.keys.verifying.get(header.kid) : undefined;
    if (!key) throw new InvalidToken('unknown_key');
    return key;
  }
}

function toClaims(p: JWTPayload): AccessClaims {
  const sid = p[ACCESS_TOKEN.sessionClaim];
  const roles = p[ACCESS_TOKEN.rolesClaim];
  if (typeof sid !== 'string' || !Array.isArray(roles) || !roles.every((r) => typeof r === 'string'))
    throw new InvalidToken('malformed');
  return { sub: p.sub!, sid, roles, exp: p.exp!, iat: p.iat!, jti: p.jti! };
}

function rejectionOf(e: unknown): TokenRejection {
  if (e instanceof errors.JWTExpired) return 'expired';
  if (e instanceof errors.JWSSignatureVerificationFailed) return 'bad_signature';
  if (e instanceof errors.JWTClaimValidationFailed) {
    if (e.claim === 'iss') return 'wrong_issuer';
    if (e.claim === 'aud') return 'wrong_audience';
    if (e.claim === 'typ') return 'wrong_type';
  }
  return 'malformed';
}

/** An opaque secret: 32 random bytes, base64url (refresh tokens, OAuth state, PKCE verifiers). */
export function opaqueToken(): string {
  return randomBytes(32).toString('base64url');
}

export function sha256(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
