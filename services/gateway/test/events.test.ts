import { randomUUID } from 'node:crypto';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { METRICS } from '#contract';
import { startNatsCluster } from '#test/support/nats-cluster';
import { privateNats } from '#test/support/private-servers';
import { REQUEST_STREAM, type RequestEvent } from '../src/events.js';
import {
  freePort,
  makeKeys,
  metricValue,
  route,
  startTestGateway,
  TestUpstream,
  token,
  type Keys,
} from './support/harness.js';

let keys: Keys;
let upstream: TestUpstream;
let nc: NatsConnection;
beforeAll(async () => {
  keys = await makeKeys();
  upstream = await new TestUpstream().start();
  nc = await connect({ servers: process.env.PRISM_TEST_NATS_URL! });
});
afterAll(async () => {
  await upstream.stop();
  await nc.close();
});

describe('request events on NATS JetStream', () => {
  it('publishes one event per request on prism.gateway.request.<route>, kept by the JetStream stream', async () => {
    const gw = await startTestGateway({
      keys,
      routes: [route('evt', upstream.origin)],
      env: { PRISM_NATS_STREAM_REPLICAS: '1' },
    });
    try {
      const sub = `evt-${randomUUID()}`;
      const received: RequestEvent[] = [];
      const s = nc.subscribe('prism.gateway.request.evt');
      void (async () => {
        for await (const m of s)
          for (const line of m.string().split('\n')) received.push(JSON.parse(line) as RequestEvent);
      })();
      const reqId = `req-${randomUUID()}`;
      const r = await fetch(`${gw.url}/api/evt/items?token=secret`, {
        headers: { authorization: `Bearer ${await token(keys, sub)}`, 'x-request-id': reqId },
      });
      expect(r.status).toBe(200);
      const denied = await fetch(`${gw.url}/api/evt/items`);
      expect(denied.status).toBe(401);
      await expect.poll(() => received.filter((e) => e.id === reqId).length, { timeout: 5_000 }).toBe(1);
      const e = received.find((x) => x.id === reqId)!;
      expect(e).toMatchObject({
        method: 'GET',
        path: '/api/evt/items',
        route: 'evt',
        status: 200,
        userId: sub,
        authMethod: 'jwt',
        clientIp: '127.0.0.1',
      });
      expect(JSON.stringify(e)).not.toContain('secret');
      await expect.poll(() => received.some((x) => x.status === 401), { timeout: 5_000 }).toBe(true);
      s.unsubscribe();

      const jsm = await jetstreamManager(nc);
      const info = await jsm.streams.info(REQUEST_STREAM);
      expect(info.config.subjects).toEqual(['prism.gateway.request.>']);
      expect(info.config.num_replicas).toBe(1);
      const last = (await jsm.streams.getMessage(REQUEST_STREAM, { last_by_subj: 'prism.gateway.request.evt' }))!;
      expect((JSON.parse(last.string().split('\n')[0]!) as RequestEvent).route).toBe('evt');
      await expect
        .poll(async () => metricValue(await gw.metrics(), METRICS.events, { result: 'published' }), { timeout: 5_000 })
        .toBeGreaterThanOrEqual(2);
    } finally {
      await gw.close();
    }
  });

  it('PRISM_NATS_STREAM_REPLICAS reaches the stream: 3 replicas on a single server are refused by NATS and logged (no silent R1 stream), requests still served', async () => {
    const own = await privateNats();
    const gw = await startTestGateway({
      keys,
      routes: [route('evt', upstream.origin)],
      natsUrl: own.url,
      env: { PRISM_NATS_STREAM_REPLICAS: '3' },
    });
    const ownNc = await connect({ servers: own.url });
    try {
      await expect
        .poll(() => gw.logs.find((l) => l.includes(`cannot check or create stream ${REQUEST_STREAM}`)) ?? '', {
          timeout: 10_000,
        })
        .toMatch(/"err":"replicas > 1 not supported in non-clustered mode"/);
      const r = await fetch(`${gw.url}/api/evt/x`, {
        headers: { authorization: `Bearer ${await token(keys, 'u-r3')}` },
      });
      expect(r.status).toBe(200);
      await expect((await jetstreamManager(ownNc)).streams.info(REQUEST_STREAM)).rejects.toThrow(/stream not found/);
    } finally {
      await gw.close();
      await ownNc.close();
      await own.dispose();
    }
  });

  it('a NATS cluster that comes up after the gateway: the stream is created with its 3 replicas once JetStream has a leader', async () => {
    // One server of three: no quorum, so no JetStream meta leader, and every stream request times out.
    const cluster = await startNatsCluster({ started: [0] });
    const gw = await startTestGateway({
      keys,
      routes: [route('evt', upstream.origin)],
      natsUrl: cluster.urls[0]!,
      env: { PRISM_NATS_STREAM_REPLICAS: '3' },
    });
    let ownNc: NatsConnection | undefined;
    try {
      await expect
        .poll(() => gw.logs.some((l) => l.includes(`cannot check or create stream ${REQUEST_STREAM}`)), {
          timeout: 15_000,
        })
        .toBe(true);
      cluster.start(1);
      cluster.start(2);
      ownNc = await connect({ servers: cluster.urls });
      const jsm = await jetstreamManager(ownNc, { checkAPI: false });
      await expect
        .poll(
          () =>
            jsm.streams.info(REQUEST_STREAM).then(
              () => true,
              () => false,
            ),
          { timeout: 30_000, interval: 250 },
        )
        .toBe(true);
      const info = await jsm.streams.info(REQUEST_STREAM);
      expect(info.config.num_replicas).toBe(3);
      expect(info.cluster?.replicas?.length).toBe(2);
      const r = await fetch(`${gw.url}/api/evt/late`, {
        headers: { authorization: `Bearer ${await token(keys, 'u-late')}` },
      });
      expect(r.status).toBe(200);
      await expect
        .poll(() => jsm.streams.info(REQUEST_STREAM).then((i) => i.state.messages), {
          timeout: 10_000,
        })
        .toBeGreaterThanOrEqual(1);
    } finally {
      await gw.close();
      await ownNc?.close();
      await cluster.stop();
    }
  }, 60_000);

  it('under concurrent load every event arrives once (several per message) and is counted as published', async () => {
    const gw = await startTestGateway({ keys, routes: [route('batch', upstream.origin)] });
    try {
      const ids = new Set<string>();
      let messages = 0;
      const s = nc.subscribe('prism.gateway.request.batch', {
        callback: (_e, m) => {
          messages++;
          for (const line of m.string().split('\n')) ids.add((JSON.parse(line) as RequestEvent).id);
        },
      });
      const auth = { authorization: `Bearer ${await token(keys, 'u-batch')}` };
      const sent = Array.from({ length: 200 }, () => `batch-${randomUUID()}`);
      await Promise.all(
        sent.map(async (id) =>
          expect((await fetch(`${gw.url}/api/batch/x`, { headers: { ...auth, 'x-request-id': id } })).status).toBe(200),
        ),
      );
      await expect.poll(() => sent.every((id) => ids.has(id)), { timeout: 5_000 }).toBe(true);
      expect(ids.size).toBe(200);
      expect(messages).toBeLessThanOrEqual(200);
      s.unsubscribe();
      await expect
        .poll(async () => metricValue(await gw.metrics(), METRICS.events, { result: 'published' }), { timeout: 5_000 })
        .toBe(200);
    } finally {
      await gw.close();
    }
  });

  it('NATS stopped mid-run: events of the outage wait in the buffer (up to buffer_size, the rest dropped and counted) and reach the stream once it is back', async () => {
    const own = await privateNats();
    const gw = await startTestGateway({
      keys,
      routes: [route('evt', upstream.origin)],
      natsUrl: own.url,
      events: { enabled: true, buffer_size: 400 },
    });
    const ownNc = await connect({ servers: own.url, maxReconnectAttempts: -1, reconnectTimeWait: 200 });
    try {
      const auth = { authorization: `Bearer ${await token(keys, 'u-outage')}` };
      await expect
        .poll(async () => (await jetstreamManager(ownNc)).streams.info(REQUEST_STREAM).catch(() => undefined), {
          timeout: 10_000,
        })
        .toBeTruthy();
      expect((await fetch(`${gw.url}/api/evt/before`, { headers: auth })).status).toBe(200);
      await expect
        .poll(async () => metricValue(await gw.metrics(), METRICS.events, { result: 'published' }), { timeout: 5_000 })
        .toBe(1);
      await own.stop();
      await expect
        .poll(() => gw.logs.some((l) => l.includes('NATS connection lost; buffering events')), { timeout: 5_000 })
        .toBe(true);
      // 480 requests during the outage: 400 fit the buffer, 80 are dropped; none is slowed or failed.
      const t0 = performance.now();
      for (let i = 0; i < 480; i++)
        expect((await fetch(`${gw.url}/api/evt/during`, { headers: auth })).status).toBe(200);
      expect(performance.now() - t0).toBeLessThan(15_000);
      expect(metricValue(await gw.metrics(), METRICS.events, { result: 'dropped' })).toBe(80);
      await own.start();
      await expect
        .poll(async () => metricValue(await gw.metrics(), METRICS.events, { result: 'published' }), {
          timeout: 20_000,
          interval: 200,
        })
        .toBe(401);
      // The test's own connection may still be reconnecting on a loaded machine: ask until it answers.
      const storedEvents = async () => {
        const jsm = await jetstreamManager(ownNc, { checkAPI: false });
        const info = await jsm.streams.info(REQUEST_STREAM);
        let stored = 0;
        for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++)
          stored += (await jsm.streams.getMessage(REQUEST_STREAM, { seq }))!.string().split('\n').length;
        return stored;
      };
      await expect.poll(() => storedEvents().catch(() => -1), { timeout: 20_000, interval: 500 }).toBe(401);
      expect(metricValue(await gw.metrics(), METRICS.events, { result: 'failed' })).toBe(0);
    } finally {
      await ownNc.close();
      await gw.close();
      await own.dispose();
    }
  }, 60_000);

  it('with NATS unreachable, requests are not slowed or failed; events beyond the buffer are dropped and counted', async () => {
    const deadNats = `nats://127.0.0.1:${await freePort()}`;
    const gw = await startTestGateway({
      keys,
      routes: [route('evt', upstream.origin)],
      natsUrl: deadNats,
      events: { enabled: true, buffer_size: 5 },
    });
    try {
      const auth = { authorization: `Bearer ${await token(keys, 'u-nats-down')}` };
      const t0 = performance.now();
      for (let i = 0; i < 20; i++) expect((await fetch(`${gw.url}/api/evt/x`, { headers: auth })).status).toBe(200);
      expect(performance.now() - t0).toBeLessThan(2_000);
      const m = await gw.metrics();
      expect(metricValue(m, METRICS.events, { result: 'dropped' })).toBe(15);
      expect((await fetch(`${gw.url}/ready`)).status).toBe(200);
    } finally {
      await gw.close();
    }
  });
});
