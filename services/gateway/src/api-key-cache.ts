import type { Identity } from './identity.js';

/** Validates an `X-API-Key` (auth's gRPC, through the Redis cache). */
export interface ApiKeyValidation {
  validate(apiKey: string): Promise<Identity>;
}

const MAX_ENTRIES = 50_000;

/**
 * The API keys this instance validated, remembered in memory for at most `ttlSeconds` (the gateway's
 * API-key cache time), so a request with a known key needs neither Redis nor auth. Revocation does not
 * wait for the entry to end: the key's id is checked against auth's pushed revocations on every request
 * (and in Redis when the push channel is down). Keys past their own expiry are dropped on use.
 */
export class LocalApiKeyCache implements ApiKeyValidation {
  private readonly entries = new Map<string, { identity: Identity; until: number }>();

  constructor(
    private readonly inner: ApiKeyValidation,
    private readonly ttlSeconds: number,
  ) {}

  /** A key validated before and still fresh: known without a promise. */
  cached(apiKey: string): Identity | undefined {
    const e = this.entries.get(apiKey);
    if (e === undefined) return undefined;
    if (e.until > Date.now()) return e.identity;
    this.entries.delete(apiKey);
    return undefined;
  }

  async validate(apiKey: string): Promise<Identity> {
    const identity = await this.inner.validate(apiKey);
    if (this.ttlSeconds > 0) {
      if (this.entries.size >= MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value!);
      const expires = identity.expiresAt ? identity.expiresAt * 1000 : Infinity;
      this.entries.set(apiKey, { identity, until: Math.min(Date.now() + this.ttlSeconds * 1000, expires) });
    }
    return identity;
  }
}
