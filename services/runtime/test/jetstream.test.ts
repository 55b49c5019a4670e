import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNatsCluster, type NatsCluster } from '#test/support/nats-cluster';
import { createLogger } from '../src/logger.js';
import { ensureStream } from '../src/jetstream.js';

const lines: string[] = [];
const log = createLogger({
  service: 'test',
  level: 'info',
  destination: new Writable({ write: (c, _e, cb) => (lines.push(String(c)), cb()) }),
});
const config = (name: string) => ({ name, subjects: [`test.${name}.>`] });

describe('ensureStream on the single test server', () => {
  let nc: NatsConnection;
  beforeAll(async () => {
    nc = await connect({ servers: process.env.PRISM_TEST_NATS_URL! });
  });
  afterAll(() => nc.close());

  it('creates the stream with the replicas asked for, then keeps it', async () => {
    const name = `T_${randomUUID().replaceAll('-', '')}`;
    const jsm = await jetstreamManager(nc);
    try {
      expect(await ensureStream(jsm, config(name), 1, log)).toBe('created');
      expect((await jsm.streams.info(name)).config.num_replicas).toBe(1);
      expect(await ensureStream(jsm, config(name), 1, log)).toBe('kept');
    } finally {
      await jsm.streams.delete(name).catch(() => undefined);
    }
  });

  it('3 replicas reach the server, which refuses them without a cluster (no silent R1 stream)', async () => {
    const name = `T_${randomUUID().replaceAll('-', '')}`;
    const jsm = await jetstreamManager(nc);
    try {
      await expect(ensureStream(jsm, config(name), 3, log)).rejects.toThrow(/replicas/i);
      await expect(jsm.streams.info(name)).rejects.toThrow(/not found/i);
    } finally {
      await jsm.streams.delete(name).catch(() => undefined);
    }
  });
});

describe('ensureStream on a three-server cluster', () => {
  let cluster: NatsCluster;
  let nc: NatsConnection;
  beforeAll(async () => {
    cluster = await startNatsCluster();
    nc = await connect({ servers: cluster.urls, waitOnFirstConnect: true, maxReconnectAttempts: -1 });
  }, 30_000);
  afterAll(async () => {
    await nc?.close();
    await cluster?.stop();
  });

  it('raises a stream made with 1 replica to 3 (a stream from before the setting), and never lowers it', async () => {
    // The meta leader is elected a moment after the routes connect: until then even the account check that
    // jetstreamManager() makes by default times out.
    const jsm = await jetstreamManager(nc, { checkAPI: false });
    await expect
      .poll(
        () =>
          jsm.streams.add({ ...config('OLD'), num_replicas: 1 }).then(
            () => true,
            () => false,
          ),
        { timeout: 20_000, interval: 250 },
      )
      .toBe(true);
    await jetstream(nc).publish('test.OLD.a', 'kept across the raise');
    expect(await ensureStream(jsm, config('OLD'), 3, log)).toBe('raised');
    const info = await jsm.streams.info('OLD');
    expect(info.config.num_replicas).toBe(3);
    expect(info.config.subjects).toEqual(['test.OLD.>']);
    expect(info.state.messages).toBe(1);
    expect(lines.some((l) => l.includes('"stream":"OLD"') && l.includes('"from":1') && l.includes('"to":3'))).toBe(
      true,
    );
    expect(await ensureStream(jsm, config('OLD'), 1, log)).toBe('kept');
    expect((await jsm.streams.info('OLD')).config.num_replicas).toBe(3);
    expect(await ensureStream(jsm, config('NEW'), 3, log)).toBe('created');
    expect((await jsm.streams.info('NEW')).config.num_replicas).toBe(3);
  }, 40_000);
});
