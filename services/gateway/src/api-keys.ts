import { createHash } from 'node:crypto';
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

export function authGrpcClient(address: string, creds: grpc.ChannelCredentials, options?: grpc.ClientOptions): AuthServiceClient {
  const { AuthService } = loadProto(GRPC_APIS.auth.proto).prism.auth.v1;
  return new AuthService(address, creds, options);
}

/**
 * `X-API-Key` validation through the auth service's gRPC `ValidateApiKey`, cached in Redis under
 * the key's SHA-256 (never the key itself) for `cacheSeconds`. When Redis is unavailable the
 * gateway asks auth directly; when auth is unavailable the request gets 503.
 */
export class ApiKeyValidator {
  constructor(
    private readonly client: AuthServiceClient,
    private readonly redis: Redis,
    private readonly cacheSeconds: number,
    private readonly log: Logger,
  ) {}

  async validate(apiKey: string): Promise<Identity> {
    // Malformed keys are refused here, without a cache lookup or a call to auth.
    if (apiKey.length > MAX_KEY_LENGTH || !API_KEY_PATTERN.test(apiKey)) throw new AuthError(401, 'invalid API key');
    const cacheKey = CACHE_PREFIX + createHash('sha256').update(apiKey).digest('base64url');
    let res: ValidateApiKeyResponse | undefined;
    if (this.cacheSeconds > 0) {
      const cached = await this.redis.get(cacheKey).catch(() => null);
      if (cached) res = parseCached(cached);
    }
    if (!res) {
      res = await this.ask(apiKey);
      if (this.cacheSeconds > 0) {
        const ttl = res.valid ? this.cacheSeconds : Math.min(NEGATIVE_CACHE_SECONDS, this.cacheSeconds);
        const fields = { valid: res.valid, keyId: res.keyId, userId: res.userId, scopes: res.scopes, expiresAt: res.expiresAt, reason: res.reason };
        this.redis.set(cacheKey, JSON.stringify(fields), 'EX', ttl).catch(() => {});
      }
    }
    if (!res.valid || (res.expiresAt > 0 && res.expiresAt * 1000 <= Date.now())) throw new AuthError(401, 'invalid API key');
    return makeIdentity('api_key', res.userId, { scopes: res.scopes, apiKeyId: res.keyId });
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

function parseCached(text: string): ValidateApiKeyResponse | undefined {
  try {
    const v = JSON.parse(text) as ValidateApiKeyResponse;
    return typeof v === 'object' && v !== null && typeof v.valid === 'boolean' ? v : undefined;
  } catch {
    return undefined; // an unreadable entry is a cache miss
  }
}
