import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTH_REDIS_KEYS } from '#contract';
import { migrateDatabase } from '../../dbmanager/src/migrations/index.js';
import { grpc } from '../../runtime/src/index.js';
import { waitFor } from '#test/support/net';
import { authClient } from './support/grpc.js';
import { call, email, type Harness, PASSWORD, signUp, startHarness } from './support/harness.js';
import { privatePostgres, privateRedis } from '#test/support/private-servers';

let pgServer: Awaited<ReturnType<typeof privatePostgres>>;
let redisServer: Awaited<ReturnType<typeof privateRedis>>;
let h: Harness;
let auth: ReturnType<typeof authClient>;

beforeAll(async () => {
  pgServer = await privatePostgres('', 'outage-test');
  await migrateDatabase('auth', pgServer.url('postgres'));
  redisServer = await privateRedis('outage-redis');
  h = await startHarness({
    db: { url: pgServer.url('postgres') },
    redis: { address: redisServer.address, password: 'outage-redis' },
  });
  auth = authClient(h.grpcPort);
}, 120_000);
afterAll(async () => {
  auth?.close();
  await h?.close();
  await redisServer?.dispose();
  await pgServer?.dispose();
});

const ready = async () => (await fetch(`http://127.0.0.1:${h.metricsPort}/health/ready`)).status;

describe('dependency restarts', () => {
  it('PostgreSQL down: clean 503s and UNAVAILABLE, readiness false; back up: requests succeed without a restart', async () => {
    const u = await signUp(h.base);
    expect(await ready()).toBe(200);
    await pgServer.stop('immediate');

    const reg = await call(h.base, 'POST', '/auth/register', { body: { email: email(), password: PASSWORD } });
    expect(reg.status).toBe(503);
    expect(reg.headers.get('retry-after')).toBe('1');
    expect(reg.body).toEqual({ error: 'unavailable', message: 'temporarily unavailable, retry shortly' });
    expect((await call(h.base, 'POST', '/auth/login', { body: { email: u.email, password: PASSWORD } })).status).toBe(
      503,
    );
    expect((await call(h.base, 'GET', '/auth/me', { token: u.access_token })).status).toBe(503);
    await expect(auth.validateToken({ token: u.access_token })).rejects.toMatchObject({
      code: grpc.status.UNAVAILABLE,
    });
    expect(await ready()).toBe(503);
    // The process is alive and still answers what needs no database.
    expect((await call(h.base, 'GET', '/auth/.well-known/jwks.json')).status).toBe(200);

    await pgServer.start();
    await waitFor(
      'login after PostgreSQL restart',
      async () =>
        (await call(h.base, 'POST', '/auth/login', { body: { email: u.email, password: PASSWORD } })).status === 200,
      20_000,
    );
    expect(
      (await call(h.base, 'POST', '/auth/register', { body: { email: email(), password: PASSWORD } })).status,
    ).toBe(202);
    expect(await auth.validateToken({ token: u.access_token })).toMatchObject({ valid: true });
    await waitFor('ready again', async () => (await ready()) === 200);
  });

  it('Redis down: revocations fail with 503 (nothing half-done), logins still work; back up: logout succeeds', async () => {
    const u = await signUp(h.base);
    await redisServer.stop();
    const out = await call(h.base, 'POST', '/auth/logout', { token: u.access_token });
    expect(out.status).toBe(503);
    // Nothing was revoked in PostgreSQL either: the gateway and auth agree.
    expect((await call(h.base, 'GET', '/auth/me', { token: u.access_token })).status).toBe(200);
    expect((await call(h.base, 'POST', '/auth/login', { body: { email: u.email, password: PASSWORD } })).status).toBe(
      200,
    );
    expect(await ready()).toBe(503);

    await redisServer.start();
    await waitFor(
      'logout after Redis restart',
      async () => (await call(h.base, 'POST', '/auth/logout', { token: u.access_token })).status === 204,
      20_000,
    );
    expect((await call(h.base, 'GET', '/auth/me', { token: u.access_token })).status).toBe(401);
    await waitFor('ready again', async () => (await ready()) === 200);
  });

  it('re-publishes revoked sessions when Redis comes back empty', async () => {
    const u = await signUp(h.base);
    expect((await call(h.base, 'POST', '/auth/logout', { token: u.access_token })).status).toBe(204);
    const key = AUTH_REDIS_KEYS.revokedSession(u.session_id);
    const [host, port] = redisServer.address.split(':');
    const probe = () =>
      new Redis({
        host: host!,
        port: Number(port),
        password: 'outage-redis',
        lazyConnect: true,
        maxRetriesPerRequest: 0,
      });
    let r = probe();
    expect(await r.get(key)).toBe('logout');
    r.disconnect();
    await redisServer.stop();
    await redisServer.start(); // no persistence: the key is gone
    r = probe();
    try {
      await waitFor('revocation key back', async () => (await r.get(key)) === 'logout', 20_000);
      expect(await r.ttl(key)).toBeGreaterThan(0);
    } finally {
      r.disconnect();
    }
  });

  it('answered no 500 through the outages', async () => {
    expect(h.logs.lines.filter((l) => /"status":500/.test(l))).toEqual([]);
  });
});
