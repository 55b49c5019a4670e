// The bounds of the leased rate limit and of pushed revocation (README "Bounds"), with two gateways
// sharing one Redis and one NATS, as replicas do.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { privateNats } from '#test/support/private-servers';
import { createLogger, ServiceMetrics } from '../../runtime/src/index.js';
import { RateLimiter, type Decision } from '../src/rate-limit.js';
import {
  randomApiKey,
  makeKeys,
  revokeLikeAuth,
  route,
  startAuthGrpc,
  startTestGateway,
  TestUpstream,
  token,
  type Keys,
  type RunningGateway,
} from './support/harness.js';

let keys: Keys;
let upstream: TestUpstream;
beforeAll(async () => {
  keys = await makeKeys();
  upstream = await new TestUpstream().start();
});
afterAll(() => upstream.stop());

const pair = async (o: Parameters<typeof startTestGateway>[0]): Promise<RunningGateway[]> => {
  const gws = await Promise.all([startTestGateway(o), startTestGateway(o)]);
  await vi.waitUntil(() => gws.every((g) => g.revocations.connected), { timeout: 5_000 });
  return gws;
};

describe('leased rate limit across two gateways', () => {
  it('admissions never exceed the limit by more than 5% (plus the burst) in any 1 s window, and are not starved', async () => {
    const rate = 200;
    const burst = 20;
    const gws = await pair({
      keys,
      routes: [route('rl', upstream.origin)],
      rateLimit: { requests_per_second: rate, burst },
      server: { trusted_proxies: ['127.0.0.1'] },
    });
    const user = `lease-${randomUUID()}`;
    // When each admission of this account was decided, on the clock the leases expire by: the bound is about
    // decisions. (Stamped at the upstream instead, the forwarding delay of this loaded process moves requests
    // between windows: 225-233 measured there with the CPU busy, 218-221 at the decisions of the same runs.)
    const decided: number[] = [];
    // eslint-disable-next-line @typescript-eslint/unbound-method -- called with its instance below
    const check = RateLimiter.prototype.check;
    const spy = vi.spyOn(RateLimiter.prototype, 'check').mockImplementation(function (this: RateLimiter, b, k) {
      const d = check.call(this, b, k);
      if (!b.includes(`u:${user}`)) return d;
      const stamp = (x: Decision) => (x.allowed && decided.push(performance.now()), x);
      return d instanceof Promise ? d.then(stamp) : stamp(d);
    });
    // And that each of them reached the upstream, and nothing else of this account did.
    let upstreamSaw = 0;
    const prev = upstream.respond;
    upstream.respond = (r, res) => {
      if (r.headers['x-prism-user-id'] === user) upstreamSaw++;
      prev(r, res);
    };
    try {
      const headers = { authorization: `Bearer ${await token(keys, user)}`, 'x-forwarded-for': '10.77.0.1' };
      const until = performance.now() + 3_000;
      let offered = 0;
      // 24 clients over both gateways, well above the limit.
      await Promise.all(
        Array.from({ length: 24 }, async (_, i) => {
          while (performance.now() < until) {
            const r = await fetch(`${gws[i % 2]!.url}/api/rl/x`, { headers });
            await r.arrayBuffer();
            expect([200, 429]).toContain(r.status);
            offered++;
          }
        }),
      );
      const admitted = decided.toSorted((a, b) => a - b);
      expect(upstreamSaw).toBe(admitted.length);
      let worst = 0;
      for (let i = 0, j = 0; i < admitted.length; i++) {
        while (admitted[j]! < admitted[i]! - 1_000) j++;
        worst = Math.max(worst, i - j + 1);
      }
      // The clients asked for more than the limit (how much more depends on the machine).
      expect(offered).toBeGreaterThan(admitted.length);
      expect(worst).toBeLessThanOrEqual(Math.floor(rate * 1.05) + burst);
      // Leases do not starve the account: it gets a good part of what the limit allows (or of what the loaded machine
      // offered; on the shared 2-core machine, with the load generator in this process, 0.6-0.8 of it was measured).
      expect(admitted.length).toBeGreaterThanOrEqual(0.5 * Math.min(offered, rate * 3 + burst));
    } finally {
      spy.mockRestore();
      upstream.respond = prev;
      await Promise.all(gws.map((g) => g.close()));
    }
  });
});

describe('leased tokens expire', () => {
  it('tokens an instance leased and did not spend are not spent after LEASE_MS: they cannot add to a refilled bucket', async () => {
    const [host, port] = process.env.PRISM_TEST_REDIS_ADDRESS!.split(':');
    const burst = 100;
    const make = () =>
      new RateLimiter(
        { host: host!, port: Number(port), password: process.env.PRISM_TEST_REDIS_PASSWORD! },
        { enabled: true, requestsPerSecond: 1_000, burst, onRedisFailure: 'closed' },
        new ServiceMetrics('gateway'),
        createLogger({ service: 'gateway', level: 'silent' }),
      );
    const [a, b] = [make(), make()];
    await Promise.all([a.waitReady(5_000), b.waitReady(5_000)]);
    const bucket = [`u:expiry-${randomUUID()}`];
    // What A holds unspent (white-box, so that the test cannot pass for want of a leftover).
    const leftover = () =>
      (a as unknown as { leases: Map<string, { tokens: number }> }).leases.get(bucket[0]!)?.tokens ?? 0;
    const allowed = async (l: RateLimiter, n: number) =>
      (await Promise.all(Array.from({ length: n }, async () => l.check(bucket)))).filter((d) => d.allowed).length;
    try {
      // Busy rounds (30 at once: concurrent calls' leases add up) until A holds at least 20 tokens unspent.
      for (let i = 0; leftover() < 20 || i === 0; i++) {
        expect(i).toBeLessThan(50);
        if (i > 0) await new Promise((r) => setTimeout(r, 30));
        await allowed(a, 30);
      }
      const held = leftover();
      // Long enough for Redis to refill the bucket to its burst: A's tokens were taken before, from the old one.
      await new Promise((r) => setTimeout(r, 300));
      const t = performance.now();
      let total = 0;
      for (let round = 0; ; round++) {
        expect(round).toBeLessThan(100);
        const got = (await Promise.all([allowed(a, 20), allowed(b, 20)])).reduce((x, y) => x + y);
        if (got === 0) break;
        total += got;
      }
      // Everything both admitted came from the refilled bucket (and its refill, 1 per ms): A's stale tokens, given
      // back to a full bucket, are gone. Spent instead, they would add `held` (20-50) on top.
      expect(total).toBeLessThanOrEqual(burst + Math.ceil(performance.now() - t) + 2);
      expect(held).toBeGreaterThanOrEqual(20);
    } finally {
      a.close();
      b.close();
    }
  });
});

describe('revocation pushed to every gateway', () => {
  let gws: RunningGateway[];
  let auth: Awaited<ReturnType<typeof startAuthGrpc>>;
  const apiKey = randomApiKey();
  const keyId = `key-${randomUUID()}`;
  beforeAll(async () => {
    auth = await startAuthGrpc({ [apiKey]: { keyId, userId: `key-owner-${randomUUID()}`, scopes: [] } });
    gws = await pair({ keys, authGrpcPort: auth.port, routes: [route('rv', upstream.origin)] });
  });
  afterAll(async () => {
    await Promise.all(gws.map((g) => g.close()));
    await auth.close();
  });

  const status = (g: RunningGateway, headers: Record<string, string>) =>
    fetch(`${g.url}/api/rv/x`, { headers }).then(async (r) => (await r.arrayBuffer(), r.status));

  it('a revoked session is refused at every gateway within 100 ms', async () => {
    const sid = `sid-${randomUUID()}`;
    const headers = { authorization: `Bearer ${await token(keys, 'rv-user', { sid })}` };
    // Both gateways have seen the session (checked once in Redis): from now on they rely on the push.
    for (const g of gws) for (let i = 0; i < 3; i++) expect(await status(g, headers)).toBe(200);
    const revoked = performance.now();
    await revokeLikeAuth({ sessionId: sid });
    await Promise.all(gws.map((g) => expect.poll(() => status(g, headers), { timeout: 100, interval: 2 }).toBe(401)));
    expect(performance.now() - revoked).toBeLessThan(100 + 50);
  });

  it('a revoked API key is refused at every gateway within 100 ms, though its validation is in memory', async () => {
    const headers = { 'x-api-key': apiKey };
    for (const g of gws) for (let i = 0; i < 3; i++) expect(await status(g, headers)).toBe(200);
    const calls = auth.calls.length;
    for (const g of gws) expect(await status(g, headers)).toBe(200);
    expect(auth.calls.length).toBe(calls);
    await revokeLikeAuth({ keyId });
    await Promise.all(gws.map((g) => expect.poll(() => status(g, headers), { timeout: 100, interval: 2 }).toBe(401)));
  });

  it('a credential first seen after its revocation is refused on its first request (Redis asked on a local miss)', async () => {
    const sid = `sid-${randomUUID()}`;
    const headers = { authorization: `Bearer ${await token(keys, 'rv-late', { sid })}` };
    await revokeLikeAuth({ sessionId: sid }, { event: false });
    for (const g of gws) expect(await status(g, headers)).toBe(401);
  });
});

describe('push channel down', () => {
  it('every request is checked in Redis at once; when NATS is back, each credential is checked again once', async () => {
    const nats = await privateNats();
    const gws = await pair({ keys, routes: [route('pd', upstream.origin)], natsUrl: nats.url });
    const status = (g: RunningGateway, headers: Record<string, string>) =>
      fetch(`${g.url}/api/pd/x`, { headers }).then(async (r) => (await r.arrayBuffer(), r.status));
    try {
      const sids = [`sid-${randomUUID()}`, `sid-${randomUUID()}`];
      const headers = await Promise.all(
        sids.map(async (sid) => ({ authorization: `Bearer ${await token(keys, 'pd-user', { sid })}` })),
      );
      for (const g of gws) for (const h of headers) expect(await status(g, h)).toBe(200);
      await nats.stop();
      await vi.waitUntil(() => gws.every((g) => !g.revocations.connected), { timeout: 2_000, interval: 5 });
      // Revoked while no event can arrive: only the Redis marker says so, and it is asked on the very next request.
      await revokeLikeAuth({ sessionId: sids[0]! }, { event: false });
      for (const g of gws) expect(await status(g, headers[0]!)).toBe(401);
      for (const g of gws) expect(await status(g, headers[1]!)).toBe(200);
      await nats.start();
      await vi.waitUntil(() => gws.every((g) => g.revocations.connected), { timeout: 10_000, interval: 20 });
      // Events of the outage were lost: what was seen before is asked again, so a revocation made meanwhile holds.
      await revokeLikeAuth({ sessionId: sids[1]! }, { event: false });
      for (const g of gws) expect(await status(g, headers[1]!)).toBe(401);
      for (const g of gws) expect(await status(g, headers[0]!)).toBe(401);
    } finally {
      await Promise.all(gws.map((g) => g.close()));
      await nats.dispose();
    }
  });
});
