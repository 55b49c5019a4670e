import { Counter } from 'prom-client';
import { METRICS } from '#contract';
import type { Logger, ServiceMetrics } from '../../runtime/src/index.js';
import { ScriptPipeline } from './redis-script.js';
import type { GatewaySettings } from './settings.js';

/**
 * GCRA (the token bucket as one timestamp per key): `rate` requests per second sustained,
 * up to `burst` at once. The script reads Redis' own clock, so every gateway instance agrees
 * whatever their clocks say, and it is one atomic call (EVALSHA) per request. It also answers
 * whether the token's session is revoked (KEYS[2], written by auth; '' when there is none), so
 * that check costs no second round trip. ARGV[3] = '0' (limiting switched off) makes it the session check alone.
 * Returns { allowed (1, 0, or -1 for a revoked session), remaining, retry_after_ms, reset_ms }.
 */
const GCRA_LUA = `
if KEYS[2] ~= '' and redis.call('EXISTS', KEYS[2]) == 1 then return {-1, 0, 0, 0} end
if ARGV[3] == '0' then return {1, 0, 0, 0} end
local interval = 1000000 / tonumber(ARGV[1])
local tolerance = interval * tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - tolerance
if allow_at > now then
  return {0, 0, math.ceil((allow_at - now) / 1000), math.ceil((tat - now) / 1000)}
end
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1)
return {1, math.floor((now + tolerance - new_tat) / interval), 0, math.ceil((new_tat - now) / 1000)}
`;

export interface Decision {
  readonly allowed: boolean;
  /** The token's session was revoked by auth (the request is refused with 401). */
  readonly revoked: boolean;
  readonly limit: number;
  readonly remaining: number;
  /** Milliseconds until a request would be admitted (0 when allowed). */
  readonly retryAfterMs: number;
  /** Milliseconds until the bucket is full again. */
  readonly resetMs: number;
}

export interface RateLimitSettings {
  readonly enabled: boolean;
  readonly requestsPerSecond: number;
  readonly burst: number;
  readonly onRedisFailure: 'open' | 'closed';
}

const KEY_PREFIX = 'prism:rl:';
const LOCAL_MAX_KEYS = 100_000;

/** Thrown in fail-closed mode when Redis cannot answer. */
export class RateLimitUnavailable extends Error {}

/**
 * Redis rate limiting with a chosen behaviour when Redis fails: `open` falls back to the same
 * algorithm in this process (so each instance admits up to the limit on its own), `closed`
 * refuses the request (503). Failures are counted in `prism_gateway_rate_limit_redis_failures_total{mode}`.
 */
export class RateLimiter {
  private readonly redis: ScriptPipeline;
  private readonly local = new Map<string, number>();
  private readonly sweep: NodeJS.Timeout;
  readonly rejected: Counter<'reason'>;
  private readonly failures: Counter<'mode'>;
  private lastWarn = 0;

  constructor(
    redis: GatewaySettings['redis'],
    private settings: RateLimitSettings,
    metrics: ServiceMetrics,
    private readonly log: Logger,
  ) {
    // Fail fast rather than queue: a slow Redis then gets the Redis-failure policy at once.
    this.redis = new ScriptPipeline({ ...redis, lua: GCRA_LUA, numberOfKeys: 2, timeoutMs: 250, connectionName: 'prism-gateway-ratelimit', onDown: (e) => this.warn(e) });
    const registers = [metrics.registry];
    this.rejected = new Counter({ name: METRICS.rateLimitRejected, help: 'Requests refused by the rate limiter', labelNames: ['reason'], registers });
    this.failures = new Counter({ name: METRICS.rateLimitRedisFailures, help: 'Rate-limit checks Redis could not answer', labelNames: ['mode'], registers });
    this.rejected.inc({ reason: 'limit' }, 0);
    this.rejected.inc({ reason: 'redis_unavailable' }, 0);
    // The policy can change at run time (config service): both series exist from the start.
    this.failures.inc({ mode: 'open' }, 0);
    this.failures.inc({ mode: 'closed' }, 0);
    this.sweep = setInterval(() => this.sweepLocal(), 10_000).unref();
  }

  /**
   * One script call: the rate-limit decision for `identity` (always allowed while limiting is
   * switched off) and, when `revocationKey` is given, whether auth revoked that session or API key. With Redis
   * failing open, revocation cannot be checked and the credential is accepted until its expiry or cache time.
   */
  async check(identity: string, revocationKey = ''): Promise<Decision> {
    const { requestsPerSecond: rate, burst, enabled } = this.settings;
    let r: [number, number, number, number];
    try {
      r = (await this.redis.call([KEY_PREFIX + identity, revocationKey], [rate, burst, enabled ? 1 : 0])) as [number, number, number, number];
    } catch (e) {
      this.failures.inc({ mode: this.settings.onRedisFailure });
      const now = Date.now();
      this.warn(e as Error);
      if (this.settings.onRedisFailure === 'closed') {
        this.rejected.inc({ reason: 'redis_unavailable' });
        throw new RateLimitUnavailable('rate limiter unavailable');
      }
      r = enabled ? this.checkLocal(identity, now * 1000) : [1, 0, 0, 0];
    }
    if (r[0] === -1) return { allowed: false, revoked: true, limit: burst, remaining: 0, retryAfterMs: 0, resetMs: 0 };
    const allowed = r[0] === 1;
    if (!allowed) this.rejected.inc({ reason: 'limit' });
    return { allowed, revoked: false, limit: burst, remaining: r[1], retryAfterMs: r[2], resetMs: r[3] };
  }

  /** At most one warning every 5 s, however many requests fail. */
  private warn(e: Error): void {
    const now = Date.now();
    if (now - this.lastWarn < 5_000) return;
    this.lastWarn = now;
    this.log.warn({ err: e.message, mode: this.settings.onRedisFailure }, 'rate limiter: Redis unavailable');
  }

  /** The script's algorithm in this process (microseconds), for fail-open. */
  private checkLocal(identity: string, now: number): [number, number, number, number] {
    const interval = 1_000_000 / this.settings.requestsPerSecond;
    const tolerance = interval * this.settings.burst;
    let tat = this.local.get(identity) ?? now;
    if (tat < now) tat = now;
    const newTat = tat + interval;
    const allowAt = newTat - tolerance;
    if (allowAt > now) return [0, 0, Math.ceil((allowAt - now) / 1000), Math.ceil((tat - now) / 1000)];
    if (this.local.size >= LOCAL_MAX_KEYS && !this.local.has(identity)) this.local.delete(this.local.keys().next().value!);
    this.local.set(identity, newTat);
    return [1, Math.floor((now + tolerance - newTat) / interval), 0, Math.ceil((newTat - now) / 1000)];
  }

  private sweepLocal(): void {
    const now = Date.now() * 1000;
    for (const [k, tat] of this.local) if (tat < now) this.local.delete(k);
  }

  /** Whether requests are limited (the session revocation check is made either way). */
  get enabled(): boolean {
    return this.settings.enabled;
  }

  get onRedisFailure(): RateLimitSettings['onRedisFailure'] {
    return this.settings.onRedisFailure;
  }

  /** New settings from the config service; each identity's state in Redis carries over. */
  update(settings: RateLimitSettings): void {
    this.settings = settings;
  }

  /** Resolves once Redis is connected with the script loaded; rejects after `timeoutMs`. */
  waitReady(timeoutMs: number): Promise<void> {
    return this.redis.waitReady(timeoutMs);
  }

  /** A round trip on the limiter's own connection (readiness when failing closed). */
  ping(): Promise<void> {
    return this.redis.ping();
  }

  close(): void {
    clearInterval(this.sweep);
    this.redis.close();
  }
}
