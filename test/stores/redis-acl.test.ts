import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadStack } from '../../infra/config/index.js';
import { AUTH_REDIS_KEYS, REDIS_USERS, type RedisUserId } from '../../infra/contract/index.js';
import { buildPlatform, component, redisPasswordVar } from '../../infra/model/index.js';
import { createRedis, RevocationList } from '../../services/auth/src/revocation.js';
import {
  makeKeys,
  startAuthGrpc,
  startTestGateway,
  TestUpstream,
  token,
  route,
  GOOD_API_KEY,
  randomApiKey,
  revokeLikeAuth,
} from '../../services/gateway/test/support/harness.js';
import { freePort, waitFor } from '../support/net.js';

/**
 * The Redis ACL users as the model renders them (redis.conf and the server's arguments), run by the
 * real redis-server: each workload reaches only its keys and commands, the default user is off, and
 * the gateway and auth work through their own users.
 */
const platform = buildPlatform('dev', loadStack('stacks', 'dev').config);
const redisComponent = component(platform, 'redis');
const passwords = Object.fromEntries(
  Object.keys(REDIS_USERS).map((id) => [id, randomBytes(24).toString('base64url')]),
) as Record<RedisUserId, string>;
const byVar = new Map(
  Object.entries(REDIS_USERS).map(([id, u]) => [redisPasswordVar(u), passwords[id as RedisUserId]]),
);

let dir: string;
let server: ChildProcess;
let port: number;
const clients: Redis[] = [];

function client(user?: RedisUserId, password?: string): Redis {
  const r = new Redis({
    port,
    host: '127.0.0.1',
    ...(user ? { username: REDIS_USERS[user].name, password: password ?? passwords[user] } : {}),
    lazyConnect: true,
    // RESP2: ioredis 6's RESP3 handshake (HELLO 3 AUTH) closes the connection on a refused login, so a refusal
    // would surface as "Connection is closed"; with AUTH as its own command the server's own answer is seen.
    protocol: 2,
    maxRetriesPerRequest: 0,
    enableReadyCheck: false,
    retryStrategy: () => null,
  });
  r.on('error', () => {});
  clients.push(r);
  return r;
}
const as = async (user: RedisUserId) => {
  const r = client(user);
  await r.connect();
  return r;
};
const refused = (p: Promise<unknown>) => expect(p).rejects.toThrow(/NOPERM|NOAUTH|WRONGPASS|ERR unknown command/);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'prism-redis-acl-'));
  port = await freePort();
  const conf = join(dir, 'redis.conf');
  // Its data directory is read as the file is parsed: this run's directory instead of the volume.
  writeFileSync(
    conf,
    redisComponent.configFiles.find((f) => f.name === 'redis.conf')!.content.replace(/^dir .*$/m, `dir ${dir}`),
  );
  // The model's arguments, the config path replaced and $(VAR) expanded as Kubernetes and Compose do.
  const [, ...args] = redisComponent.args!;
  const expanded = args.map((a) => a.replace(/\$\(([A-Z_]+)\)/g, (_, v: string) => byVar.get(v) ?? `$(${v})`));
  expect(expanded.join(' ')).not.toContain('$(');
  server = spawn(
    'redis-server',
    [conf, ...expanded, '--port', String(port), '--bind', '127.0.0.1', '--appendonly', 'no', '--save', ''],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  await waitFor(
    'redis-server',
    async () =>
      (await as('exporter')
        .then((r) => r.ping())
        .catch(() => '')) === 'PONG',
    15_000,
  );
});

afterAll(async () => {
  for (const c of clients) c.disconnect();
  server?.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

describe('Redis ACL users from the model, on the real redis-server', () => {
  it('the default user is off: no command without a user, and no password opens it', async () => {
    const anon = client();
    await anon.connect();
    await refused(anon.get('prism:gw:x'));
    await refused(anon.call('AUTH', passwords.admin));
    await refused(anon.call('AUTH', 'default', passwords.gateway));
  });

  it('attack: the gateway user reaches only its keys, reads auth markers, and cannot write them, run CONFIG or flush', async () => {
    const gw = await as('gateway');
    await gw.set('prism:gw:apikey:x', 'v', 'EX', 5);
    await gw.set('prism:rl:x', '1', 'EX', 5);
    expect(await gw.exists(AUTH_REDIS_KEYS.revokedSession('s'))).toBe(0);
    await refused(gw.set(AUTH_REDIS_KEYS.revokedApiKey('k'), 'x')); // cannot forge or lift a revocation
    await refused(gw.del(AUTH_REDIS_KEYS.revokedSession('s')));
    await refused(gw.get('other:key'));
    await refused(gw.call('CONFIG', 'SET', 'dir', '/tmp'));
    await refused(gw.call('CONFIG', 'GET', '*'));
    await refused(gw.call('FLUSHALL'));
    await refused(gw.call('KEYS', '*'));
    await refused(gw.call('ACL', 'LIST'));
    await refused(gw.call('MODULE', 'LIST'));
    // A script is held to the same keys: it cannot write auth's markers either.
    await refused(gw.eval("return redis.call('SET', KEYS[1], 'x')", 1, AUTH_REDIS_KEYS.revokedApiKey('k')));
  });

  it('attack: auth writes only its markers; the exporter reads no key and no configuration', async () => {
    const auth = await as('auth');
    await auth.set(AUTH_REDIS_KEYS.revokedSession('s1'), 'logout', 'EX', 5);
    await refused(auth.set('prism:gw:apikey:forged', 'x'));
    await refused(auth.get('prism:rl:x'));
    await refused(auth.call('CONFIG', 'GET', 'requirepass'));
    const exp = await as('exporter');
    expect(await exp.info('memory')).toContain('maxmemory:');
    await refused(exp.get(AUTH_REDIS_KEYS.revokedSession('s1')));
    await refused(exp.set('prism:gw:x', '1'));
    await refused(exp.call('CONFIG', 'GET', '*'));
    await refused(exp.call('CLIENT', 'KILL', 'TYPE', 'normal'));
    await refused(exp.call('SHUTDOWN'));
  });

  it('a user with another user’s password is refused', async () => {
    const c = client();
    await c.connect();
    await expect(c.call('AUTH', REDIS_USERS.gateway.name, passwords.exporter)).rejects.toThrow(/WRONGPASS/);
    await expect(c.call('AUTH', REDIS_USERS.admin.name, passwords.gateway)).rejects.toThrow(/WRONGPASS/);
  });

  it('the gateway works through its user: rate limit with the revocation check, API-key cache, failure counts; auth revokes through its own', async () => {
    const keys = await makeKeys();
    const upstream = await new TestUpstream().start();
    const grpc = await startAuthGrpc({ [GOOD_API_KEY]: { keyId: 'key-acl', userId: 'user-acl', scopes: ['read'] } });
    const address = `127.0.0.1:${port}`;
    const gw = await startTestGateway({
      keys,
      authGrpcPort: grpc.port,
      routes: [route('things', upstream.origin)],
      redis: { address, password: passwords.gateway },
      env: { PRISM_REDIS_USERNAME: REDIS_USERS.gateway.name },
      rateLimit: { enabled: true, requests_per_second: 1000, burst: 1000, on_redis_failure: 'closed' },
    });
    const authRedis = createRedis({ address, username: REDIS_USERS.auth.name, password: passwords.auth }, {
      warn: () => {},
    } as never);
    try {
      const sid = `sid-${randomBytes(4).toString('hex')}`;
      const t = await token(keys, 'acl-user', { sid });
      const get = (headers: Record<string, string>) =>
        fetch(`${gw.url}/api/things/x`, { headers }).then((r) => r.status);
      expect(await get({ authorization: `Bearer ${t}` })).toBe(200);
      expect(await get({ 'x-api-key': GOOD_API_KEY })).toBe(200);
      expect(await get({ 'x-api-key': GOOD_API_KEY })).toBe(200);
      expect(await get({ 'x-api-key': randomApiKey() })).toBe(401);
      expect(grpc.calls.length).toBe(2); // the valid key's answer came from the cache the second time
      await new RevocationList(authRedis, 900).revokeApiKeys(['key-acl']);
      await authRedis.set(AUTH_REDIS_KEYS.revokedSession(sid), 'logout', 'EX', 60);
      // While auth's events flow the gateway reads a credential's marker once, then waits for the pushed event.
      const asAuth = { address, username: REDIS_USERS.auth.name, password: passwords.auth };
      await revokeLikeAuth({ keyId: 'key-acl' }, { redis: asAuth });
      await revokeLikeAuth({ sessionId: sid }, { redis: asAuth });
      await expect.poll(() => get({ authorization: `Bearer ${t}` }), { timeout: 1_000, interval: 10 }).toBe(401);
      await expect.poll(() => get({ 'x-api-key': GOOD_API_KEY }), { timeout: 1_000, interval: 10 }).toBe(401);
      const exp = await as('admin');
      expect((await exp.keys('prism:gw:authfail:*')).length).toBe(1);
      expect(await gw.metrics()).toMatch(
        /prism_gateway_rate_limit_redis_failures_total\{[^}]*mode="closed"[^}]*\} 0\n/,
      );
    } finally {
      authRedis.disconnect();
      await gw.close();
      await upstream.stop();
      await grpc.close();
    }
  });
});
