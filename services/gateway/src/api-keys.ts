import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { Redis } from 'ioredis';
import { API_KEY_PATTERN, GRPC_APIS } from '#contract';
import { type grpc, loadProto, type Logger } from '../../runtime/src/index.js';
import type { AuthServiceClient } from '../../runtime/src/proto/prism/auth/v1/AuthService.js';
import type { ValidateApiKeyResponse__Output as ValidateApiKeyResponse } from '../../runtime/src/proto/prism/auth/v1/ValidateApiKeyResponse.js';
import { AuthError, makeIdentity, type Identity } from './identity.js';

const CACHE_PREFIX = 'prism:gw:apikey:';
/** A refused key is remembered for less time than an accepted one, long enough to absorb a flood of retries. */
const NEGATIVE_CACHE_SECONDS = 5;
const CALL_DEADLINE_MS = 2_000;
const MAX_KEY_LENGTH = 256;

export function authGrpcClient(
  address: string,
  creds: grpc.ChannelCredentials,
  options?: grpc.ClientOptions,
): AuthServiceClient {
  const { AuthService } = loadProto(GRPC_APIS.auth.proto).prism.auth.v1;
  return new AuthService(address, creds, options);
}

/**
 * `X-API-Key` validation through the auth service's gRPC `ValidateApiKey`, cached in Redis under
 * the key's SHA-256 (never the key itself) for `cacheSeconds`. When Redis is unavailable the
 * gateway asks auth directly; when auth is unavailable the request gets 503.
 *
 * Redis is not trusted with the decision: each entry carries an HMAC (a key only the gateways hold)
 * over the cache key, the answer and the time it stops counting, so an entry written by anyone else
 * (a made-up validation, one copied from another key's entry, an old one kept alive) is a miss.
 */
export class ApiKeyValidator {
  constructor(
    private readonly client: AuthServiceClient,
    private readonly redis: Redis,
    private readonly cacheSeconds: number,
    private readonly cacheKey: string,
    private readonly log: Logger,
  ) {}

  async validate(apiKey: string): Promise<Identity> {
    // Malformed keys are refused here, without a cache lookup or a call to auth.
    if (apiKey.length > MAX_KEY_LENGTH || !API_KEY_PATTERN.test(apiKey)) throw new AuthError(401, 'invalid API key');
    const cacheKey = CACHE_PREFIX + createHash('sha256').update(apiKey).digest('base64url');
    let res: ValidateApiKeyResponse | undefined;
    if (this.cacheSeconds > 0) {
      const cached = await this.redis.get(cacheKey).catch(() => null);
      if (cached) res = this.verified(cacheKey, cached);
    }
    if (!res) {
      res = await this.ask(apiKey);
      if (this.cacheSeconds > 0) {
        const ttl = res.valid ? this.cacheSeconds : Math.min(NEGATIVE_CACHE_SECONDS, this.cacheSeconds);
        const fields = {
          valid: res.valid,
          keyId: res.keyId,
          userId: res.userId,
          scopes: res.scopes,
          expiresAt: res.expiresAt,
          reason: res.reason,
          until: Date.now() + ttl * 1000,
        };
        this.redis.set(cacheKey, this.signed(cacheKey, JSON.stringify(fields)), 'EX', ttl).catch(() => {});
      }
    }
    if (!res.valid || (res.expiresAt > 0 && res.expiresAt * 1000 <= Date.now()))
      throw new AuthError(401, 'invalid API key');
    return makeIdentity('api_key', res.userId, { scopes: res.scopes, apiKeyId: res.keyId, expiresAt: res.expiresAt });
  }

  private mac(cacheKey: string, payload: string): Buffer {
    return createHmac('sha256', this.cacheKey).update(cacheKey).update('\n').update(payload).digest();
  }

  private signed(cacheKey: string, payload: string): string {
    return `${this.mac(cacheKey, payload).toString('base64url')}.${payload}`;
  }

  /** The cached answer when its HMAC holds and its time has not run out; otherwise a miss. */
  private verified(cacheKey: string, entry: string): ValidateApiKeyResponse | undefined {
    const dot = entry.indexOf('.');
    if (dot < 0) return undefined;
    const mac = Buffer.from(entry.slice(0, dot), 'base64url');
    const payload = entry.slice(dot + 1);
    const expected = this.mac(cacheKey, payload);
    if (mac.length !== expected.length || !timingSafeEqual(mac, expected)) {
      this.log.warn({ cacheKey }, 'cached API-key validation with a bad HMAC ignored');
      return undefined;
    }
    const v = parseCached(payload);
    return v && v.until > Date.now() ? v : undefined;
  }

  private ask(apiKey: string): Promise<ValidateApiKeyResponse> {
    return new Promise((resolve, reject) => {
      this.client.ValidateApiKey({ apiKey }, { deadline: Date.now() + CALL_DEADLINE_MS }, (err, res) => {
        if (err || !res) {
          this.log.warn({ code: err?.code, err: err?.details }, 'auth ValidateApiKey failed');
          reject(new AuthError(503, 'authentication service unavailable'));
        } else resolve(res);
      });
    });
  }
}

function parseCached(text: string): (ValidateApiKeyResponse & { until: number }) | undefined {
  try {
    const v = JSON.parse(text) as ValidateApiKeyResponse & { until: number };
    return typeof v === 'object' && v !== null && typeof v.valid === 'boolean' && typeof v.until === 'number'
      ? v
      : undefined;
  } catch {
    return undefined; // an unreadable entry is a cache miss
  }
}
