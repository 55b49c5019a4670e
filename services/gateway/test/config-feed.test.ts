import { randomUUID } from 'node:crypto';
import { connect } from '@nats-io/transport-node';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { METRICS } from '#contract';
import { privateNats, type PrivateServer } from '#test/support/private-servers';
import { startTestConfigService } from '../../config/test/support/config-server.js';
import { ConfigStore } from '../../config/src/store.js';
import { migrateDatabase } from '../../dbmanager/src/migrations/index.js';
import { freshDatabase } from '../../dbmanager/test/pg-support.js';
import { grpc, loadProto } from '../../runtime/src/index.js';
import {
  freePort,
  makeKeys,
  metricValue,
  route,
  startTestGateway,
  TestUpstream,
  token,
  type Keys,
  type RunningGateway,
} from './support/harness.js';

/**
 * The config change feed under attack and under NATS outages: a real config service (PostgreSQL, a
 * NATS of this file's own that it may stop) and real gateways watching it.
 */

let keys: Keys;
let upstream: TestUpstream;
let db: Awaited<ReturnType<typeof freshDatabase>>;
let nats: PrivateServer & { url: string };
const SUBJECT = 'prism.system.config.test.global.maintenance.enabled';

beforeAll(async () => {
  keys = await makeKeys();
  upstream = await new TestUpstream().start();
  db = await freshDatabase('gw_feed');
  await migrateDatabase('ops', db.url);
  nats = await privateNats();
});
afterAll(async () => {
  await upstream?.stop();
  await nats?.dispose();
  await db?.drop();
});

async function configService(port: number) {
  const { runtime } = await startTestConfigService(db.url, port, {
    env: { PRISM_NATS_URL: nats.url, PRISM_LOG_LEVEL: 'info' },
  });
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
    runtime,
    set: (key: string, value: unknown) =>
      rpc('Set', {
        environment: 'test',
        service: 'global',
        key,
        valueJson: JSON.stringify(value),
        changedBy: 'feed-test',
      }),
    del: (key: string) => rpc('Delete', { environment: 'test', service: 'global', key, changedBy: 'feed-test' }),
    get: (key: string) => rpc('Get', { environment: 'test', service: 'global', key }),
    stop: async () => {
      client.close();
      await runtime.shutdown();
    },
  };
}

const gateway = (configPort: number, configResyncMs?: number) =>
  startTestGateway({
    keys,
    routes: [route('feed', upstream.origin)],
    natsUrl: nats.url,
    ...(configResyncMs ? { configResyncMs } : {}),
    env: { PRISM_CONFIG_GRPC_ADDRESS: `127.0.0.1:${configPort}`, PRISM_LOG_LEVEL: 'info' },
  });

async function status(gw: RunningGateway): Promise<number> {
  const r = await fetch(`${gw.url}/api/feed/x`, {
    headers: { authorization: `Bearer ${await token(keys, `feed-${randomUUID()}`)}` },
  });
  await r.arrayBuffer();
  return r.status;
}

/** Publishes raw messages on NATS as anyone who reaches it without the platform's permissions would. */
async function publishRaw(subject: string, ...payloads: string[]): Promise<void> {
  const nc = await connect({ servers: nats.url });
  for (const p of payloads) nc.publish(subject, p);
  await nc.flush();
  await nc.close();
}

describe('the config change feed', () => {
  it('a forged notice changes nothing, not even with a huge version: the operator’s change and its undo still apply', async () => {
    const port = await freePort();
    const config = await configService(port);
    const gw = await gateway(port);
    try {
      expect(await status(gw)).toBe(200);
      const forged = {
        environment: 'test',
        service: 'global',
        key: 'maintenance.enabled',
        version: 1_000_000,
        valueJson: 'true',
        action: 'set',
        changedBy: 'operator/alice',
      };
      await publishRaw(SUBJECT, JSON.stringify(forged));
      await publishRaw(
        'prism.system.config.test.gateway.maintenance.message',
        JSON.stringify({ ...forged, service: 'gateway', key: 'maintenance.message', valueJson: '"pwned"' }),
      );
      await new Promise((r) => setTimeout(r, 500));
      expect(await status(gw)).toBe(200);
      // The notice was read back from the store: nothing there, so nothing reached the gateway.
      await config.set('maintenance.enabled', true);
      await expect.poll(() => status(gw), { timeout: 5_000 }).toBe(503);
      // The undo applies (a forged version 1,000,000 would have made the gateway ignore it).
      await config.del('maintenance.enabled');
      await expect.poll(() => status(gw), { timeout: 5_000 }).toBe(200);
    } finally {
      await gw.close();
      await config.stop();
    }
  });

  it('malformed notices are logged and dropped: the config service and its watches go on', async () => {
    const port = await freePort();
    const config = await configService(port);
    const gw = await gateway(port);
    const rejections: unknown[] = [];
    const onRejection = (e: unknown) => rejections.push(e);
    process.on('unhandledRejection', onRejection);
    try {
      expect(await status(gw)).toBe(200);
      await publishRaw(
        SUBJECT,
        '{"not json',
        '{}',
        'null',
        '[]',
        JSON.stringify({ environment: 'test', service: 'global', key: 'log.level' }),
      );
      await new Promise((r) => setTimeout(r, 300));
      expect(rejections).toEqual([]);
      // The same watch still delivers the next real change, and the service still answers.
      await config.set('maintenance.enabled', true);
      await expect.poll(() => status(gw), { timeout: 5_000 }).toBe(503);
      await expect(config.get('maintenance.enabled')).resolves.toMatchObject({ valueJson: 'true' });
      await config.del('maintenance.enabled');
      await expect.poll(() => status(gw), { timeout: 5_000 }).toBe(200);
    } finally {
      process.off('unhandledRejection', onRejection);
      await gw.close();
      await config.stop();
    }
  });
});

describe('NATS outages', () => {
  it('a setting changed while NATS is down reaches every gateway once NATS is back, each watching another config replica', async () => {
    const [portA, portB] = [await freePort(), await freePort()];
    const [a, b] = [await configService(portA), await configService(portB)];
    const gateways = [await gateway(portA), await gateway(portB)];
    try {
      for (const gw of gateways) expect(await status(gw)).toBe(200);
      await nats.stop();
      await a.set('maintenance.enabled', true);
      // While NATS is down the change is committed (the config service says so) and not yet applied.
      await expect(b.get('maintenance.enabled')).resolves.toMatchObject({ valueJson: 'true' });
      await new Promise((r) => setTimeout(r, 1_000));
      expect(await status(gateways[1]!)).toBe(200);
      await nats.start();
      for (const gw of gateways) await expect.poll(() => status(gw), { timeout: 20_000, interval: 200 }).toBe(503);
      // Each gateway re-read its settings after the config service's NATS connection came back.
      for (const gw of gateways) {
        const m = await gw.metrics();
        expect(
          metricValue(m, METRICS.configResyncs, { result: 'behind' }) +
            metricValue(m, METRICS.configResyncs, { result: 'in_step' }),
        ).toBeGreaterThanOrEqual(1);
        expect(gw.logs.some((l) => l.includes('config watch ended by the service'))).toBe(true);
      }
      await a.del('maintenance.enabled');
      for (const gw of gateways) await expect.poll(() => status(gw), { timeout: 10_000 }).toBe(200);
    } finally {
      for (const gw of gateways) await gw.close();
      await a.stop();
      await b.stop();
    }
  }, 60_000);

  it('a change whose notice never went out is caught by the periodic re-read, counted as behind and logged', async () => {
    const port = await freePort();
    const config = await configService(port);
    const gw = await gateway(port, 500);
    const pool = new pg.Pool({ connectionString: db.url, max: 1 });
    try {
      expect(await status(gw)).toBe(200);
      // Committed without a notice: what a lost publish leaves behind.
      await new ConfigStore(pool).set({ environment: 'test', service: 'global', key: 'maintenance.enabled' }, true, {
        changedBy: 'feed-test',
      });
      await expect.poll(() => status(gw), { timeout: 5_000 }).toBe(503);
      expect(metricValue(await gw.metrics(), METRICS.configResyncs, { result: 'behind' })).toBe(1);
      expect(gw.logs.find((l) => l.includes('settings were behind the config service'))).toContain(
        'global/maintenance.enabled',
      );
      await config.del('maintenance.enabled');
      await expect.poll(() => status(gw), { timeout: 5_000 }).toBe(200);
    } finally {
      await pool.end();
      await gw.close();
      await config.stop();
    }
  });
});
