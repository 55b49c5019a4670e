import type { Redis } from 'ioredis';
import type { Logger } from '../../runtime/src/index.js';

/**
 * Failed authentications per client address (forged or expired tokens, unknown API keys), counted
 * in Redis so every gateway instance shares the count: a fixed window of `windowSeconds` from the
 * first failure, INCR and PEXPIRE in one script. Past `maxFailures`, the address is refused with 429
 * before any verification or call to auth until the window ends.
 *
 * Kept off the hot path: Redis is touched only when a credential has failed, and the check before
 * authentication is a lookup in this instance's map of blocked addresses (filled from Redis' answer
 * to a failure). Another instance learns of a block on the address's next failure there, so the
 * platform admits at most one failure per instance beyond the limit. Redis unavailable: failures are
 * not counted (each is still refused); the per-address request limit still applies.
 */
export interface AuthFailureSettings {
  readonly maxFailures: number;
  readonly windowSeconds: number;
}

const KEY_PREFIX = 'prism:gw:authfail:';
const MAX_BLOCKED = 100_000;
const SCRIPT = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return {n, redis.call('PTTL', KEYS[1])}
`;

type WithScript = Redis & { prismAuthFailure(key: string, windowMs: number): Promise<[number, number]> };

export class AuthFailureLimiter {
  /** Address → end of its block (ms since the epoch). */
  private readonly blocked = new Map<string, number>();
  private readonly redis: WithScript;
  private lastWarn = 0;

  constructor(
    redis: Redis,
    private readonly settings: AuthFailureSettings,
    private readonly log: Logger,
  ) {
    if (!('prismAuthFailure' in redis)) redis.defineCommand('prismAuthFailure', { numberOfKeys: 1, lua: SCRIPT });
    this.redis = redis as WithScript;
  }

  /** Milliseconds left on this address's block, or 0. No I/O. */
  blockedFor(ip: string): number {
    if (this.blocked.size === 0) return 0;
    const until = this.blocked.get(ip);
    if (until === undefined) return 0;
    const left = until - Date.now();
    if (left > 0) return left;
    this.blocked.delete(ip);
    return 0;
  }

  /** Counts one failure of `ip`; returns the block in milliseconds when it is now over the limit, else 0. */
  async record(ip: string): Promise<number> {
    let n: number;
    let ttl: number;
    try {
      [n, ttl] = await this.redis.prismAuthFailure(KEY_PREFIX + ip, this.settings.windowSeconds * 1000);
    } catch (e) {
      const now = Date.now();
      if (now - this.lastWarn > 5_000) {
        this.lastWarn = now;
        this.log.warn({ err: (e as Error).message }, 'authentication failures not counted: Redis unavailable');
      }
      return 0;
    }
    if (n <= this.settings.maxFailures || ttl <= 0) return 0;
    if (this.blocked.size >= MAX_BLOCKED) this.blocked.delete(this.blocked.keys().next().value!);
    this.blocked.set(ip, Date.now() + ttl);
    return ttl;
  }
}
