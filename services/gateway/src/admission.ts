import type { Identity } from './identity.js';
import { ADDRESS_BUCKET_PREFIX, type Decision, type RateLimiter } from './rate-limit.js';
import type { RevocationFeed } from './revocations.js';

const REVOKED: Decision = { allowed: false, revoked: true, limit: 0, remaining: 0, retryAfterMs: 0, resetMs: 0 };

/**
 * Whether a request passes: its credential not revoked (the pushed revocations, else Redis) and a token
 * in each of its rate-limit buckets: an anonymous request's address (`ip:<addr>`); an authenticated
 * one's account (`u:<sub>`, shared by its tokens and API keys) and address (`ipa:<addr>`, twice the
 * limit), so N accounts from one address do not get N allowances. Both questions go to Redis in one call when either needs it; most requests need neither.
 */
export class Admission {
  constructor(
    private readonly limiter: RateLimiter,
    private readonly revocations: RevocationFeed,
  ) {}

  /** undefined when there is nothing to check (limiting off, no revocable credential). */
  check(identity: Identity | undefined, ip: string): Decision | Promise<Decision> | undefined {
    const revocationKey = identity?.revocationKey ?? '';
    let ask = '';
    if (revocationKey !== '') {
      const state = this.revocations.state(revocationKey);
      if (state === 'revoked') return REVOKED;
      if (state === 'unknown') ask = revocationKey;
    }
    const enabled = this.limiter.enabled;
    if (!enabled && ask === '') return undefined;
    const buckets = !enabled
      ? []
      : identity !== undefined
        ? [identity.rateKey, ADDRESS_BUCKET_PREFIX + ip]
        : [`ip:${ip}`];
    if (ask === '') return this.limiter.check(buckets);
    const epoch = this.revocations.epoch;
    return Promise.resolve(this.limiter.check(buckets, ask)).then((d) => {
      if (!d.unchecked) this.revocations.learned(ask, d.revoked, epoch);
      return d;
    });
  }
}
