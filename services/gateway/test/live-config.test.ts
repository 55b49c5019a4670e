import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONFIG_KEYS } from '#contract';
import { migrateDatabase } from '../../dbmanager/src/migrations/index.js';
import { freshDatabase } from '../../dbmanager/test/pg-support.js';
import { startTestConfigService } from '../../config/test/support/config-server.js';
import { grpc, loadProto } from '../../runtime/src/index.js';
import { GATEWAY_LIVE_KEYS, GATEWAY_LIVE_SCOPES } from '../src/live-config.js';
import {
  freePort,
  makeKeys,
  route,
  startTestGateway,
  TestUpstream,
  token,
  type Keys,
  type RunningGateway,
} from './support/harness.js';

let keys: Keys;
let upstream: TestUpstream;
let db: Awaited<ReturnType<typeof freshDatabase>>;
beforeAll(async () => {
  keys = await makeKeys();
  upstream = await new TestUpstream().start();
  db = await freshDatabase('gw_live');
  await migrateDatabase('ops', db.url);
});
afterAll(async () => {
  await upstream.stop();
  await db.drop();
});

/** A real config service (PostgreSQL + NATS) on `port`, and a client to change values with. */
async function configService(port: number) {
  const { runtime } = await startTestConfigService(db.url, port);
  const Config = loadProto('prism/config/v1/config.proto').prism.config.v1.ConfigService;
  const client = new Config(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  const rpc = (method: string, req: object) =>
    new Promise<unknown>((resolve, reject) =>
      Reflect.get(client, method).call(
        client,
        req,
        { deadline: Date.now() + 5_000, waitForReady: true },
        (e: Error | null, r: unknown) => (e ? reject(e) : resolve(r)),
      ),
    );
  return {
    set: (service: string, key: string, value: unknown) =>
      rpc('Set', {
        environment: 'test',
        service,
        key,
        valueJson: JSON.stringify(value),
        changedBy: 'live-config-test',
      }),
    del: (service: string, key: string) =>
      rpc('Delete', { environment: 'test', service, key, changedBy: 'live-config-test' }),
    stop: async () => {
      client.close();
      await runtime.shutdown();
    },
  };
}

const gateway = (configPort: number, rateLimit = { requests_per_second: 1, burst: 100 }) =>
  startTestGateway({
    keys,
    routes: [route('live', upstream.origin)],
    rateLimit,
    server: { trusted_proxies: ['127.0.0.1'] },
    env: { PRISM_CONFIG_GRPC_ADDRESS: `127.0.0.1:${configPort}`, PRISM_LOG_LEVEL: 'info' },
  });

/** A user of its own with a client address of its own (each request also spends from its address's bucket). */
const user = async (name: string) => ({
  authorization: `Bearer ${await token(keys, `${name}-${randomUUID()}`)}`,
  'x-forwarded-for': `10.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}.${1 + Math.floor(Math.random() * 250)}`,
});

async function statuses(gw: RunningGateway, n: number, headers: Record<string, string>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const r = await fetch(`${gw.url}/api/live/x`, { headers });
    out.push(r.status);
    await r.arrayBuffer();
  }
  return out;
}

describe('settings from the config service (real config service, PostgreSQL, NATS)', () => {
  it('values set before start are in force at once; changes apply while running; a delete returns to gateway.yaml', async () => {
    const port = await freePort();
    const config = await configService(port);
    await config.set('global', 'maintenance.enabled', true);
    await config.set('gateway', 'maintenance.message', 'Upgrading the database, back at 14:00');
    const gw = await gateway(port);
    try {
      // Addresses of their own: at 1 request/s the shared 127.0.0.1 bucket would stay spent for other tests' gateways.
      const auth = await user('live');
      // Maintenance: every API request gets 503 with the operators' message; health is still answered.
      const r = await fetch(`${gw.url}/api/live/x`, { headers: auth });
      expect(r.status).toBe(503);
      expect(((await r.json()) as { error: string }).error).toBe('Upgrading the database, back at 14:00');
      expect((await fetch(`${gw.url}/health`)).status).toBe(200);

      // The gateway's own value wins over the global one.
      await config.set('gateway', 'maintenance.enabled', false);
      await expect
        .poll(async () => (await fetch(`${gw.url}/api/live/x`, { headers: auth })).status, { timeout: 3_000 })
        .toBe(200);

      // Rate limit lowered at run time: burst 3.
      await config.set('gateway', 'rate_limit.burst', 3);
      const burstUser = await user('burst');
      await expect
        .poll(async () => (await statuses(gw, 4, await user('p'))).includes(429), { timeout: 3_000 })
        .toBe(true);
      expect(await statuses(gw, 5, burstUser)).toEqual([200, 200, 200, 429, 429]);

      // Switched off: no limit at all.
      await config.set('gateway', 'rate_limit.enabled', false);
      await expect.poll(async () => (await statuses(gw, 1, burstUser))[0], { timeout: 3_000 }).toBe(200);

      // Deleted: gateway.yaml's burst of 100 again (and limiting on again, as in the file).
      await config.del('gateway', 'rate_limit.enabled');
      await config.del('gateway', 'rate_limit.burst');
      const fresh = await user('fresh');
      await expect
        .poll(async () => (await statuses(gw, 10, fresh)).every((s) => s === 200), { timeout: 3_000 })
        .toBe(true);
      const r2 = await fetch(`${gw.url}/api/live/x`, { headers: fresh });
      expect(r2.headers.get('ratelimit-limit')).toBe('100');

      // Log level: access lines appear at debug.
      await config.set('global', 'log.level', 'debug');
      await expect
        .poll(
          async () => {
            await (await fetch(`${gw.url}/api/live/debug-probe`, { headers: fresh })).arrayBuffer();
            return gw.logs.some((l) => l.includes('"path":"/api/live/debug-probe"'));
          },
          { timeout: 3_000 },
        )
        .toBe(true);
      await config.del('global', 'log.level');
      await config.del('global', 'maintenance.enabled');
      await config.del('gateway', 'maintenance.enabled');
    } finally {
      await gw.close();
      await config.stop();
    }
  });

  it('config service down at start: gateway.yaml holds; once it is up (and after it restarts) its values, including changes made meanwhile, apply', async () => {
    const port = await freePort();
    const started = performance.now();
    const gw = await gateway(port, { requests_per_second: 1, burst: 50 });
    try {
      expect(performance.now() - started).toBeLessThan(5_000);
      const auth = await user('down');
      expect((await fetch(`${gw.url}/api/live/x`, { headers: auth })).status).toBe(200);
      expect(gw.logs.some((l) => l.includes('config service unreachable'))).toBe(true);

      let config = await configService(port);
      await config.set('gateway', 'maintenance.enabled', true);
      await expect
        .poll(async () => (await fetch(`${gw.url}/api/live/x`, { headers: auth })).status, {
          timeout: 15_000,
          interval: 200,
        })
        .toBe(503);

      // Stopped: the values in force stay. A change made while the gateway cannot watch is picked up on reconnection.
      await config.stop();
      expect((await fetch(`${gw.url}/api/live/x`, { headers: auth })).status).toBe(503);
      const writer = await configService(await freePort());
      await writer.set('gateway', 'maintenance.enabled', false);
      await writer.stop();
      config = await configService(port);
      await expect
        .poll(async () => (await fetch(`${gw.url}/api/live/x`, { headers: auth })).status, {
          timeout: 15_000,
          interval: 200,
        })
        .toBe(200);
      await config.del('gateway', 'maintenance.enabled');
      await config.stop();
    } finally {
      await gw.close();
    }
  });
});

describe('gateway → config over mutual TLS (the model turns it on everywhere)', () => {
  it('reads and watches its settings with its own certificate; an operator changes them; the gateway cannot', async () => {
    const { makeMesh } = await import('../../runtime/test/support/mtls.js');
    const mesh = await makeMesh();
    const port = await freePort();
    const { runtime } = await startTestConfigService(db.url, port, { env: mesh.env('config') });
    const Config = loadProto('prism/config/v1/config.proto').prism.config.v1.ConfigService;
    const clients: grpc.Client[] = [];
    const rpc = (files: Parameters<typeof mesh.creds>[0], method: string, req: object) => {
      const c = new Config(`localhost:${port}`, mesh.creds(files));
      clients.push(c);
      return new Promise<unknown>((resolve, reject) =>
        Reflect.get(c, method).call(c, req, { deadline: Date.now() + 5_000 }, (e: Error | null, r: unknown) =>
          e ? reject(e) : resolve(r),
        ),
      );
    };
    const set = (key: string, value: unknown) =>
      rpc(mesh.pki.operator, 'Set', { environment: 'test', service: 'gateway', key, valueJson: JSON.stringify(value) });
    await set('maintenance.message', 'mTLS drill');
    const gw = await startTestGateway({
      keys,
      routes: [route('live', upstream.origin)],
      env: { PRISM_CONFIG_GRPC_ADDRESS: `localhost:${port}`, PRISM_LOG_LEVEL: 'info', ...mesh.env('gateway') },
    });
    try {
      const auth = await user('mtls');
      expect(await statuses(gw, 1, auth)).toEqual([200]);
      await set('maintenance.enabled', true);
      // Applied through the gateway's Watch over mutual TLS.
      const until = Date.now() + 10_000;
      let last = 0;
      while (Date.now() < until && (last = (await statuses(gw, 1, auth))[0]!) !== 503)
        await new Promise((r) => setTimeout(r, 100));
      expect(last).toBe(503);
      // The gateway's own certificate may read, never write.
      await expect(
        rpc(mesh.pki.workloads.gateway, 'Set', {
          environment: 'test',
          service: 'gateway',
          key: 'maintenance.enabled',
          valueJson: 'false',
          changedBy: 'x',
        }),
      ).rejects.toMatchObject({
        code: grpc.status.PERMISSION_DENIED,
      });
      await rpc(mesh.pki.operator, 'Delete', { environment: 'test', service: 'gateway', key: 'maintenance.enabled' });
    } finally {
      await gw.close();
      for (const c of clients) c.close();
      await runtime.shutdown();
    }
  });
});

describe('live settings', () => {
  it('every key the config service accepts is read by the gateway, in every scope it is accepted for', () => {
    for (const [key, spec] of Object.entries(CONFIG_KEYS)) {
      expect(GATEWAY_LIVE_KEYS, key).toContain(key);
      for (const scope of spec.services) expect(GATEWAY_LIVE_SCOPES, `${key} in scope ${scope}`).toContain(scope);
    }
  });
});
