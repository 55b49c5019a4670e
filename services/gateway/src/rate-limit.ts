import { Counter } from 'prom-client';
import { METRICS } from '#contract';
import type { Logger, ServiceMetrics } from '../../runtime/src/index.js';
import { LEASE_LUA } from './lease-script.js';
import { ScriptPipeline } from './redis-script.js';
import type { GatewaySettings } from './settings.js';

export interface Decision {
  readonly allowed: boolean;
  /** The credential was revoked by auth (the request is refused with 401). */
  readonly revoked: boolean;
  /** Redis could not be asked (failing open): a revocation was not checked. */
  readonly unchecked?: boolean;
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

/**
 * How long leased tokens may be spent after the call that took them was sent. Tokens spent in a 1 s
 * window were then taken from Redis within that window or the LEASE_MS before it, so all instances
 * together admit at most `burst + rate × (1 s + LEASE_MS)`: at most 5% over the rate (README, bounds).
 */
const LEASE_MS = 50;
const KEY_PREFIX = 'prism:rl:';
/**
 * Buckets named with this prefix (an address's authenticated requests) get this many times the
 * configured rate and burst: two busy users behind one address still get their own allowance, while
 * N accounts from one address share 2 allowances, not N.
 */
export const ADDRESS_BUCKET_PREFIX = 'ipa:';
const ADDRESS_FACTOR = 2;
const factorOf = (bucket: string) => (bucket.startsWith(ADDRESS_BUCKET_PREFIX) ? ADDRESS_FACTOR : 1);
const LOCAL_MAX_KEYS = 100_000;

/** One bucket's state in this instance: its current lease and what Redis last said. */
interface Lease {
  /** Leased tokens not yet spent. */
  tokens: number;
  /** performance.now() after which they may not be spent (given back with the next call). */
  expires: number;
  /** Tokens spent from this lease (sizes the next one). */
  spent: number;
  /** Unspent tokens of expired leases, given back to Redis with the next call. */
  owed: number;
  /** Redis' remaining allowance after the lease; RateLimit-Remaining adds the unspent tokens. */
  remaining: number;
  resetMs: number;
  /** Redis refused: this bucket is refused here until then without asking. */
  refusedUntil: number;
  retryAfterMs: number;
  /** A call for this bucket in flight: concurrent requests wait for it rather than ask again. */
  inflight: Promise<unknown> | undefined;
}

/** Thrown in fail-closed mode when Redis cannot answer. */
export class RateLimitUnavailable extends Error {}

/**
 * Rate limiting shared through Redis, with the Redis round trip off most requests: each instance
 * leases a batch of a bucket's tokens (sized from what it spent of the previous lease, at most what the
 * rate refills in LEASE_MS) and spends them locally for LEASE_MS, after which the unspent ones go back.
 * Small rates lease one token at a time, which is the per-request check exactly. When Redis fails:
 * `open` falls back to the same algorithm in this process (so each instance admits up to the limit on
 * its own), `closed` refuses the request (503). Failures are counted in
 * `prism_gateway_rate_limit_redis_failures_total{mode}`.
 */
export class RateLimiter {
  private readonly redis: ScriptPipeline;
  private readonly leases = new Map<string, Lease>();
  private readonly local = new Map<string, number>();
  private readonly sweep: NodeJS.Timeout;
  readonly rejected: Counter<'reason'>;
  private readonly failures: Counter<'mode'>;
  private readonly limitRejected;
  private lastWarn = 0;

  constructor(
    redis: GatewaySettings['redis'],
    private settings: RateLimitSettings,
    metrics: ServiceMetrics,
    private readonly log: Logger,
  ) {
    // Fail fast rather than queue: a slow Redis then gets the Redis-failure policy at once.
    this.redis = new ScriptPipeline({
      ...redis,
      lua: LEASE_LUA,
      timeoutMs: 250,
      connectionName: 'prism-gateway-ratelimit',
      onDown: (e) => this.warn(e),
    });
    const registers = [metrics.registry];
    this.rejected = new Counter({
      name: METRICS.rateLimitRejected,
      help: 'Requests refused by the rate limiter',
      labelNames: ['reason'],
      registers,
    });
    this.failures = new Counter({
      name: METRICS.rateLimitRedisFailures,
      help: 'Rate-limit checks Redis could not answer',
      labelNames: ['mode'],
      registers,
    });
    this.limitRejected = this.rejected.labels({ reason: 'limit' });
    this.limitRejected.inc(0);
    this.rejected.inc({ reason: 'redis_unavailable' }, 0);
    // The policy can change at run time (config service): both series exist from the start.
    this.failures.inc({ mode: 'open' }, 0);
    this.failures.inc({ mode: 'closed' }, 0);
    this.sweep = setInterval(() => this.sweepLocal(), 10_000).unref();
  }

  /**
   * Whether a request may pass every bucket of `buckets` (each must have a token; none is spent
   * otherwise) and, when `revocationKey` is given, whether auth revoked that credential (asked in the
   * same Redis call). Answered without a promise from leased tokens when nothing needs Redis.
   * With Redis failing open, revocation cannot be asked: the answer says `unchecked`.
   */
  check(buckets: readonly string[], revocationKey = ''): Decision | Promise<Decision> {
    if (revocationKey === '') {
      const d = this.fromLeases(buckets, performance.now());
      if (d !== undefined) return d;
    }
    return this.ask(buckets, revocationKey);
  }

  /** The decision from this instance's leases alone, or undefined when a bucket needs Redis. */
  private fromLeases(buckets: readonly string[], now: number): Decision | undefined {
    let refused: Lease | undefined;
    let missing = false;
    for (const b of buckets) {
      const l = this.leases.get(b);
      if (l === undefined) missing = true;
      else if (l.refusedUntil > now) {
        if (refused === undefined || l.refusedUntil > refused.refusedUntil) refused = l;
      } else if (l.tokens <= 0 || l.expires <= now) missing = true;
    }
    // One bucket refused is enough: nothing is spent from the others.
    if (refused !== undefined) return this.refuse(refused.refusedUntil - now, refused.resetMs);
    if (missing) return undefined;
    let remaining = Infinity;
    let resetMs = 0;
    for (const b of buckets) {
      const l = this.leases.get(b)!;
      l.tokens--;
      l.spent++;
      remaining = Math.min(remaining, l.remaining + l.tokens);
      resetMs = Math.max(resetMs, l.resetMs);
    }
    return {
      allowed: true,
      revoked: false,
      limit: this.settings.burst,
      remaining: remaining === Infinity ? 0 : remaining,
      retryAfterMs: 0,
      resetMs,
    };
  }

  private refuse(retryAfterMs: number, resetMs: number): Decision {
    this.limitRejected.inc();
    return {
      allowed: false,
      revoked: false,
      limit: this.settings.burst,
      remaining: 0,
      retryAfterMs: Math.max(0, Math.ceil(retryAfterMs)),
      resetMs,
    };
  }

  private async ask(buckets: readonly string[], revocationKey: string): Promise<Decision> {
    // A call already on its way for one of these buckets: its lease may serve this request too.
    if (revocationKey === '') {
      const waits = buckets.map((b) => this.leases.get(b)?.inflight).filter((p) => p !== undefined);
      if (waits.length > 0) {
        await Promise.all(waits);
        const d = this.fromLeases(buckets, performance.now());
        if (d !== undefined) return d;
      }
    }
    const { requestsPerSecond: rate, burst } = this.settings;
    const sent = performance.now();
    const keys: string[] = [];
    const args: (string | number)[] = [revocationKey];
    const asked: Lease[] = [];
    // A bucket that still has a token gives this request one now (given back if another bucket refuses), so
    // concurrent requests cannot spend it while this call is on its way.
    const reserved: Lease[] = [];
    for (const b of buckets) {
      const f = factorOf(b);
      const maxBatch = Math.max(1, Math.min(burst * f, Math.floor((rate * f * LEASE_MS) / 1000)));
      let l = this.leases.get(b);
      if (l === undefined) {
        if (this.leases.size >= LOCAL_MAX_KEYS) this.leases.delete(this.leases.keys().next().value!);
        l = {
          tokens: 0,
          expires: 0,
          spent: 0,
          owed: 0,
          remaining: 0,
          resetMs: 0,
          refusedUntil: 0,
          retryAfterMs: 0,
          inflight: undefined,
        };
        this.leases.set(b, l);
      }
      if (l.tokens > 0 && l.expires > sent) {
        l.tokens--;
        l.spent++;
        reserved.push(l);
        continue;
      }
      // The next lease: what the last one served (a busy key), one for a key that was idle, and never more
      // than half of what the bucket had left, so near its limit a key is checked request by request and no
      // instance sits on tokens another one needs.
      const recent = sent - l.expires < LEASE_MS ? l.spent : 0;
      keys.push(KEY_PREFIX + b);
      args.push(
        Math.max(1, Math.min(maxBatch, Math.ceil(recent * 1.25), Math.floor(l.remaining / 2))),
        l.owed + l.tokens,
        rate * f,
        burst * f,
      );
      l.owed = 0;
      l.tokens = 0;
      l.spent = 0;
      asked.push(l);
    }
    let r: number[];
    const call = this.redis.call(keys, args) as Promise<number[]>;
    for (const l of asked) l.inflight = call;
    try {
      r = await call;
    } catch (e) {
      // The given-back tokens may not have arrived: forgetting them only admits less.
      for (const l of reserved) l.tokens++;
      return this.failed(e as Error, buckets);
    } finally {
      for (const l of asked) if (l.inflight === call) l.inflight = undefined;
    }
    if (r[0] === 1) {
      for (const l of reserved) l.tokens++;
      return { allowed: false, revoked: true, limit: burst, remaining: 0, retryAfterMs: 0, resetMs: 0 };
    }
    const now = performance.now();
    let refused: Lease | undefined;
    for (let i = 0; i < asked.length; i++) {
      const l = asked[i]!;
      const [granted, remaining, retryMs, resetMs] = [r[1 + 4 * i]!, r[2 + 4 * i]!, r[3 + 4 * i]!, r[4 + 4 * i]!];
      // Another call's lease may have arrived meanwhile: the tokens add up and all end with the earlier one.
      if (l.tokens > 0 && l.expires <= now) {
        l.owed += l.tokens;
        l.tokens = 0;
      }
      l.expires = l.tokens > 0 ? Math.min(l.expires, sent + LEASE_MS) : sent + LEASE_MS;
      l.tokens += granted;
      l.remaining = remaining;
      l.resetMs = resetMs;
      l.refusedUntil = granted === 0 ? now + retryMs : 0;
      if (granted === 0 && retryMs > 0 && (refused === undefined || l.refusedUntil > refused.refusedUntil)) refused = l;
    }
    if (refused !== undefined || asked.some((l) => l.tokens <= 0)) {
      // Refused (all or nothing): the tokens reserved from the other buckets go back to their leases.
      for (const l of reserved) {
        l.tokens++;
        l.spent--;
      }
      return this.refuse(refused ? refused.refusedUntil - now : 1, refused?.resetMs ?? 0);
    }
    // This call's grant: the first token of each asked bucket is this request's.
    let remaining = Infinity;
    let resetMs = 0;
    for (const l of asked) {
      l.tokens--;
      l.spent++;
    }
    for (const l of [...asked, ...reserved]) {
      remaining = Math.min(remaining, l.remaining + l.tokens);
      resetMs = Math.max(resetMs, l.resetMs);
    }
    return {
      allowed: true,
      revoked: false,
      limit: burst,
      remaining: remaining === Infinity ? 0 : remaining,
      retryAfterMs: 0,
      resetMs,
    };
  }

  /** Redis did not answer: the failure policy. */
  private failed(e: Error, buckets: readonly string[]): Decision {
    this.failures.inc({ mode: this.settings.onRedisFailure });
    this.warn(e);
    if (this.settings.onRedisFailure === 'closed') {
      this.rejected.inc({ reason: 'redis_unavailable' });
      throw new RateLimitUnavailable('rate limiter unavailable');
    }
    const now = Date.now() * 1000;
    const { burst } = this.settings;
    let refused: [number, number] | undefined;
    for (const b of buckets) {
      const r = this.wouldAllowLocal(b, now);
      if (r !== true) refused = r;
    }
    if (refused !== undefined) return { ...this.refuse(refused[0], refused[1]), unchecked: true };
    let remaining = burst;
    for (const b of buckets) remaining = Math.min(remaining, this.takeLocal(b, now));
    return { allowed: true, revoked: false, unchecked: true, limit: burst, remaining, retryAfterMs: 0, resetMs: 0 };
  }

  /** At most one warning every 5 s, however many requests fail. */
  private warn(e: Error): void {
    const now = Date.now();
    if (now - this.lastWarn < 5_000) return;
    this.lastWarn = now;
    this.log.warn({ err: e.message, mode: this.settings.onRedisFailure }, 'rate limiter: Redis unavailable');
  }

  /** The script's algorithm in this process (microseconds), for fail-open: true, or [retry_after_ms, reset_ms]. */
  private wouldAllowLocal(bucket: string, now: number): true | [number, number] {
    const interval = 1_000_000 / (this.settings.requestsPerSecond * factorOf(bucket));
    const tolerance = interval * this.settings.burst * factorOf(bucket);
    const tat = Math.max(this.local.get(bucket) ?? now, now);
    const allowAt = tat + interval - tolerance;
    return allowAt > now ? [Math.ceil((allowAt - now) / 1000), Math.ceil((tat - now) / 1000)] : true;
  }

  /** Spends one local token; returns the remaining allowance. */
  private takeLocal(bucket: string, now: number): number {
    const interval = 1_000_000 / (this.settings.requestsPerSecond * factorOf(bucket));
    const tolerance = interval * this.settings.burst * factorOf(bucket);
    const newTat = Math.max(this.local.get(bucket) ?? now, now) + interval;
    if (this.local.size >= LOCAL_MAX_KEYS && !this.local.has(bucket))
      this.local.delete(this.local.keys().next().value!);
    this.local.set(bucket, newTat);
    return Math.floor((now + tolerance - newTat) / interval);
  }

  private sweepLocal(): void {
    const now = Date.now() * 1000;
    for (const [k, tat] of this.local) if (tat < now) this.local.delete(k);
    const t = performance.now();
    for (const [k, l] of this.leases)
      if (l.inflight === undefined && l.expires < t - 1_000 && l.refusedUntil < t) this.leases.delete(k);
  }

  /** Whether requests are limited (revocation is asked either way). */
  get enabled(): boolean {
    return this.settings.enabled;
  }

  get onRedisFailure(): RateLimitSettings['onRedisFailure'] {
    return this.settings.onRedisFailure;
  }

  /** New settings from the config service; each bucket's state in Redis carries over, local leases lapse. */
  update(settings: RateLimitSettings): void {
    if (settings.requestsPerSecond !== this.settings.requestsPerSecond || settings.burst !== this.settings.burst)
      this.leases.clear();
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
