import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { METRICS } from '#contract';
import {
  makeKeys,
  metricValue,
  route,
  startTestGateway,
  TestUpstream,
  token,
  type Keys,
  type RunningGateway,
} from './support/harness.js';
import { privateRedis } from '#test/support/private-servers';

let keys: Keys;
let upstream: TestUpstream;
beforeAll(async () => {
  keys = await makeKeys();
  upstream = await new TestUpstream().start();
});
afterAll(() => upstream.stop());

const get = (g: RunningGateway, headers: Record<string, string>, path = '/api/things/x') =>
  fetch(g.url + path, { headers });
/** A client address of its own (the gateways trust 127.0.0.1 as a proxy), so tests of account limits do not share an address bucket. */
const addr = () =>
  `10.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}.${1 + Math.floor(Math.random() * 250)}`;
const as = (sub: string, ip = addr()) =>
  token(keys, sub).then((t) => ({ authorization: `Bearer ${t}`, 'x-forwarded-for': ip }));

describe('rate limiting in Redis', () => {
  let gw: RunningGateway;
  beforeAll(async () => {
    gw = await startTestGateway({
      keys,
      routes: [route('things', upstream.origin), route('open', upstream.origin, { auth_required: false })],
      rateLimit: { requests_per_second: 1, burst: 5 },
      server: { trusted_proxies: ['127.0.0.1'] },
    });
  });
  afterAll(() => gw.close());

  it('a burst over the limit gets 429 with Retry-After and RateLimit headers; the upstream sees only the admitted ones', async () => {
    const auth = await as(`burst-${randomUUID()}`);
    const before = upstream.requests.length;
    const statuses: number[] = [];
    const remaining: (string | null)[] = [];
    let refused: Response | undefined;
    for (let i = 0; i < 8; i++) {
      const r = await get(gw, auth);
      statuses.push(r.status);
      remaining.push(r.headers.get('ratelimit-remaining'));
      if (r.status === 429) refused ??= r;
      await r.arrayBuffer();
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429, 429]);
    expect(remaining.slice(0, 5)).toEqual(['4', '3', '2', '1', '0']);
    expect(Number(refused!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(refused!.headers.get('ratelimit-limit')).toBe('5');
    expect(upstream.requests.length - before).toBe(5);
    expect(metricValue(await gw.metrics(), METRICS.rateLimitRejected, { reason: 'limit' })).toBeGreaterThanOrEqual(3);
  });

  it('limits per identity: another user and another client address have their own allowance', async () => {
    const a = await as(`a-${randomUUID()}`);
    const b = await as(`b-${randomUUID()}`);
    for (let i = 0; i < 5; i++) expect((await get(gw, a)).status).toBe(200);
    expect((await get(gw, a)).status).toBe(429);
    expect((await get(gw, b)).status).toBe(200);
    const ip1 = { 'x-forwarded-for': `10.1.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}` };
    for (let i = 0; i < 5; i++) expect((await get(gw, ip1, '/api/open/x')).status).toBe(200);
    expect((await get(gw, ip1, '/api/open/x')).status).toBe(429);
    expect((await get(gw, { 'x-forwarded-for': '10.2.0.1, 10.9.9.9' }, '/api/open/x')).status).toBe(200);
  });
});

describe('sign-up does not buy rate limit (issue 22.7)', () => {
  it('five accounts from one address share that address bucket: together they get two allowances, not five', async () => {
    const gw = await startTestGateway({
      keys,
      routes: [route('things', upstream.origin)],
      rateLimit: { requests_per_second: 1, burst: 5 },
      server: { trusted_proxies: ['127.0.0.1'] },
    });
    try {
      const ip = addr();
      const accounts = await Promise.all(Array.from({ length: 5 }, (_, i) => as(`sybil-${i}-${randomUUID()}`, ip)));
      const statuses: number[] = [];
      for (let round = 0; round < 5; round++) for (const a of accounts) statuses.push((await get(gw, a)).status);
      // Per account only, this was 25 admitted; the address bucket (twice an account's) holds them to 10, plus what refills meanwhile.
      const admitted = statuses.filter((s) => s === 200).length;
      expect(admitted).toBeGreaterThanOrEqual(10);
      expect(admitted).toBeLessThanOrEqual(13);
      // Another address is not affected.
      expect((await get(gw, await as(`other-${randomUUID()}`))).status).toBe(200);
    } finally {
      await gw.close();
    }
  });
});

describe('two gateway instances sharing one Redis', () => {
  it('together admit no more than the limit (tolerance: what the rate refills while the test runs)', async () => {
    const opts = {
      keys,
      routes: [route('things', upstream.origin)],
      rateLimit: { requests_per_second: 2, burst: 30 },
      server: { trusted_proxies: ['127.0.0.1'] },
    };
    const [g1, g2] = await Promise.all([startTestGateway(opts), startTestGateway(opts)]);
    try {
      const auth = await as(`shared-${randomUUID()}`);
      const started = Date.now();
      const results = await Promise.all(
        Array.from({ length: 120 }, (_, i) =>
          get(i % 2 ? g1 : g2, auth).then(async (r) => (await r.arrayBuffer(), r.status)),
        ),
      );
      const elapsed = (Date.now() - started) / 1000;
      const admitted = results.filter((s) => s === 200).length;
      const refused = results.filter((s) => s === 429).length;
      const tolerance = Math.ceil(elapsed * 2);
      expect(admitted + refused).toBe(120);
      expect(admitted).toBeGreaterThanOrEqual(30);
      expect(admitted).toBeLessThanOrEqual(30 + tolerance);
    } finally {
      await Promise.all([g1.close(), g2.close()]);
    }
  });
});

describe('Redis stopped mid-test', () => {
  it('fail-open: requests keep flowing under a per-instance limiter; failures are counted; Redis back: shared limit again', async () => {
    const redis = await privateRedis('private-test');
    const gw = await startTestGateway({
      keys,
      routes: [route('things', upstream.origin)],
      rateLimit: { requests_per_second: 1, burst: 4, on_redis_failure: 'open' },
      redis: { address: redis.address, password: redis.password },
      server: { trusted_proxies: ['127.0.0.1'] },
    });
    try {
      const auth = await as(`open-${randomUUID()}`);
      expect((await get(gw, auth)).status).toBe(200);
      await redis.stop();
      const statuses: number[] = [];
      for (let i = 0; i < 6; i++) statuses.push((await get(gw, auth)).status);
      // The local limiter starts with a full allowance of its own: 4 admitted, then 429.
      expect(statuses).toEqual([200, 200, 200, 200, 429, 429]);
      const m = await gw.metrics();
      expect(metricValue(m, METRICS.rateLimitRedisFailures, { mode: 'open' })).toBeGreaterThanOrEqual(6);
      expect((await fetch(`${gw.url}/ready`)).status).toBe(200);
      await redis.start();
      // Back on Redis: a request no longer counts a failure, and the shared limit applies again.
      const failures = async () => metricValue(await gw.metrics(), METRICS.rateLimitRedisFailures, { mode: 'open' });
      await expect
        .poll(
          async () => {
            const before = await failures();
            await (await get(gw, auth)).arrayBuffer();
            return (await failures()) === before;
          },
          { timeout: 10_000, interval: 200 },
        )
        .toBe(true);
      const fresh = await as(`open2-${randomUUID()}`);
      const after: number[] = [];
      for (let i = 0; i < 5; i++) after.push((await get(gw, fresh)).status);
      expect(after).toEqual([200, 200, 200, 200, 429]);
    } finally {
      await gw.close();
      await redis.stop();
    }
  });

  it('fail-closed: requests get 503 with Retry-After, counted, and readiness fails; service resumes when Redis is back', async () => {
    const redis = await privateRedis('private-test');
    const gw = await startTestGateway({
      keys,
      routes: [route('things', upstream.origin)],
      rateLimit: { requests_per_second: 100, burst: 100, on_redis_failure: 'closed' },
      redis: { address: redis.address, password: redis.password },
    });
    try {
      const auth = { authorization: `Bearer ${await token(keys, `closed-${randomUUID()}`)}` };
      await expect.poll(async () => (await get(gw, auth)).status, { timeout: 5_000 }).toBe(200);
      const before = upstream.requests.length;
      await redis.stop();
      const r = await get(gw, auth);
      expect(r.status).toBe(503);
      expect(r.headers.get('retry-after')).toBe('1');
      expect(upstream.requests.length).toBe(before);
      const m = await gw.metrics();
      expect(metricValue(m, METRICS.rateLimitRejected, { reason: 'redis_unavailable' })).toBeGreaterThanOrEqual(1);
      expect(metricValue(m, METRICS.rateLimitRedisFailures, { mode: 'closed' })).toBeGreaterThanOrEqual(1);
      expect((await fetch(`${gw.url}/ready`)).status).toBe(503);
      await redis.start();
      await expect.poll(async () => (await get(gw, auth)).status, { timeout: 15_000, interval: 200 }).toBe(200);
    } finally {
      await gw.close();
      await redis.stop();
    }
  });
});
