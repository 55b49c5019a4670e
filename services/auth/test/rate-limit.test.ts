import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, email, type Harness, PASSWORD, startHarness } from './support/harness.js';

/**
 * Issue 22 item 21: the edge sends /auth straight to auth, past the gateway's limit; auth applies the
 * same per-address limit itself (Redis, shared by replicas). Two replicas of auth on one database and
 * one Redis, behind a forwarder on 127.0.0.1 that says who the client is.
 */
let a: Harness;
let b: Harness;
beforeAll(async () => {
  const env = {
    PRISM_TRUSTED_PROXIES: '127.0.0.1/32',
    PRISM_AUTH_RATE_LIMIT_RPS: '1',
    PRISM_AUTH_RATE_LIMIT_BURST: '4',
  };
  a = await startHarness({ env });
  b = await startHarness({ env, db: { url: a.dbUrl } });
});
afterAll(async () => {
  await b?.close();
  await a?.close();
});

const someIp = () => `2001:db8:7::${randomBytes(2).toString('hex')}`;

describe("auth's own per-address limit", () => {
  it('a client flooding /auth directly gets 429 with Retry-After once over the burst, across replicas; other clients are served', async () => {
    const attacker = someIp();
    // Cheap requests (no password hashing), so the refill during the test is small against the burst.
    const me = (h: Harness, ip: string) => call(h.base, 'GET', '/auth/me', { headers: { 'x-forwarded-for': ip } });
    // Each replica warmed up first (from another address), so the timing below is the limiter's.
    await Promise.all([me(a, someIp()), me(b, someIp())]);
    const statuses: number[] = [];
    const t0 = performance.now();
    // Alternating replicas: the bucket is in Redis, not in one process.
    for (let i = 0; i < 12; i++) statuses.push((await me(i % 2 ? b : a, attacker)).status);
    const seconds = (performance.now() - t0) / 1000;
    // The burst (4) at once, then 1 a second: never more, whatever the machine's speed.
    const served = statuses.filter((s) => s === 401).length;
    expect(statuses.slice(0, 4)).toEqual([401, 401, 401, 401]);
    expect(served).toBeLessThanOrEqual(4 + Math.ceil(seconds));
    expect(statuses.filter((s) => s !== 401 && s !== 429)).toEqual([]);
    expect(statuses.at(-1)).toBe(429);
    const refused = await call(a.base, 'POST', '/auth/login', {
      body: { email: email('flood'), password: PASSWORD },
      headers: { 'x-forwarded-for': attacker },
    });
    expect(refused.status).toBe(429);
    expect(refused.body).toEqual({ error: 'rate_limited', message: 'rate limit exceeded' });
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    const login = (h: Harness, ip: string) =>
      call(h.base, 'POST', '/auth/login', {
        body: { email: email('flood'), password: PASSWORD },
        headers: { 'x-forwarded-for': ip },
      });
    // Another address is not affected, on either replica.
    expect((await login(b, someIp())).status).toBe(401);
    expect(
      (
        await call(a.base, 'POST', '/auth/register', {
          body: { email: email('other'), password: PASSWORD },
          headers: { 'x-forwarded-for': someIp() },
        })
      ).status,
    ).toBe(202);
  });
});
