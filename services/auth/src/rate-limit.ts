import type { Redis } from 'ioredis';
import { AUTH_REDIS_KEYS } from '#contract';
import type { Logger } from '../../runtime/src/index.js';

/**
 * The gateway's per-address request limit, applied by auth itself to every `/auth` request, because
 * the edge also sends `/auth` straight to auth (the OAuth redirect URI lives there) and that path
 * would otherwise skip the gateway's limit. Same rate and burst as the gateway (the model gives both
 * the stack's `rateLimit`), shared by every auth replica through Redis, counted per client address
 * (the right-most untrusted `X-Forwarded-For` hop, as everywhere). Requests that came through the
 * gateway are counted here too, in auth's own bucket: a client's auth traffic, by either path,
 * stays within one allowance.
 *
 * GCRA in one Lua call: each request moves the address's theoretical arrival time on by
 * 1/rate; a request that would move it more than `burst` intervals ahead is refused (429 with
 * Retry-After) and moves nothing. Redis down: requests pass (logins keep their own throttle in
 * PostgreSQL), and the failure is logged.
 */
const GCRA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local tat = math.max(tonumber(redis.call('GET', KEYS[1]) or 0), now) + interval
local ahead = tat - now
local limit = interval * tonumber(ARGV[2])
if ahead > limit then return ahead - limit end
redis.call('SET', KEYS[1], tat, 'PX', math.ceil(ahead))
return 0
`;

export interface AuthRateLimit {
  readonly requestsPerSecond: number;
  readonly burst: number;
}

export class AddressRateLimiter {
  private lastLog = 0;
  constructor(
    private readonly redis: Redis,
    private readonly limit: AuthRateLimit,
    private readonly log: Logger,
  ) {}

  /** Milliseconds the address must wait, or 0 when the request may go on. */
  async check(address: string): Promise<number> {
    try {
      return Number(
        await this.redis.eval(
          GCRA,
          1,
          AUTH_REDIS_KEYS.rateLimit(address),
          1000 / this.limit.requestsPerSecond,
          this.limit.burst,
        ),
      );
    } catch (e) {
      if (Date.now() - this.lastLog > 10_000) {
        this.lastLog = Date.now();
        this.log.warn({ err: (e as Error).message }, 'rate limit unavailable (Redis): requests pass');
      }
      return 0;
    }
  }
}
