import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AUTH_EVENTS_STREAM,
  AUTH_REVOCATION_SUBJECTS,
  GATEWAY_REQUEST_STREAM,
  SERVICE_NAMES,
  SUBJECTS,
} from '../../infra/contract/index.js';
import { NATS_TLS_DIR } from '../../infra/model/components/data.js';
import { freePort, waitFor } from '../support/net.js';
import { type SecureNats, secureNats } from '../support/secure-nats.js';
import { find, synth } from '../support/synth.js';

/**
 * Attacks on NATS as the platform runs it (the model's nats-server.conf on a real nats-server, with
 * certificates of a local CA): who may connect, publish, subscribe and administer JetStream.
 */

let nats: SecureNats;
const open: NatsConnection[] = [];
const as = async (who: Parameters<SecureNats['as']>[0]) => {
  const nc = await nats.as(who);
  open.push(nc);
  return nc;
};

beforeAll(async () => {
  nats = await secureNats();
});
afterAll(async () => {
  await Promise.all(open.map((nc) => nc.close().catch(() => undefined)));
  await nats?.dispose();
});

/** Messages a subscription receives within `ms` after the publishers flushed. */
async function received(
  nc: NatsConnection,
  subject: string,
  publish: () => Promise<void>,
  ms = 300,
): Promise<string[]> {
  const got: string[] = [];
  const sub = nc.subscribe(subject, { callback: (_e, m) => void got.push(`${m.subject} ${m.string()}`) });
  await nc.flush();
  await publish();
  await new Promise((r) => setTimeout(r, ms));
  sub.unsubscribe();
  return got;
}

/** The error a subscription ends with (a permission violation closes it), or undefined if it stays open. */
async function subscribeOutcome(nc: NatsConnection, subject: string): Promise<Error | undefined> {
  const sub = nc.subscribe(subject);
  await nc.flush();
  const closed = await Promise.race([sub.closed, new Promise<'open'>((r) => setTimeout(r, 500, 'open'))]);
  if (closed === 'open') {
    sub.unsubscribe();
    return undefined;
  }
  return closed instanceof Error ? closed : new Error('closed without error');
}

describe('connections', () => {
  it('refuses a client without a certificate, and a plaintext client', async () => {
    await expect(
      connect({ servers: nats.url, tls: { caFile: nats.pki.caCert }, reconnect: false, timeout: 3_000 }),
    ).rejects.toThrow();
    await expect(
      connect({ servers: nats.url.replace('tls://', 'nats://'), reconnect: false, timeout: 3_000, tls: null }),
    ).rejects.toThrow(/tls|TLS|required/);
  });

  it("refuses certificates of the CA that name no NATS user: the DB manager's, an operator's", async () => {
    await expect(nats.as('dbmanager', { reconnect: false })).rejects.toThrow(/Authorization Violation/);
    await expect(nats.as('operator', { reconnect: false })).rejects.toThrow(/Authorization Violation/);
  });

  it('accepts each service that uses NATS as its own user', async () => {
    for (const s of SERVICE_NAMES.filter((n) => n !== 'dbmanager'))
      expect((await as(s)).info?.server_name).toBe('nats-test');
  });
});

describe('the config change feed', () => {
  const change = 'prism.system.config.dev.global.maintenance.enabled';
  const forged = JSON.stringify({
    environment: 'dev',
    service: 'global',
    key: 'maintenance.enabled',
    version: 1_000_000,
    valueJson: 'true',
    action: 'set',
  });

  it('reaches the config service from the config service only: the gateway and auth cannot publish a change', async () => {
    const [config, gateway, auth] = [await as('config'), await as('gateway'), await as('auth')];
    const got = await received(config, SUBJECTS.config, async () => {
      gateway.publish(change, forged);
      auth.publish(change, forged);
      await Promise.all([gateway.flush(), auth.flush()]);
    });
    expect(got).toEqual([]);
    // The config service's own publication does arrive (the check above is not vacuous).
    expect(await received(config, SUBJECTS.config, async () => (config.publish(change, '{}'), config.flush()))).toEqual(
      [`${change} {}`],
    );
  });

  it('cannot be read by the gateway or auth', async () => {
    expect(await subscribeOutcome(await as('gateway'), SUBJECTS.config)).toBeInstanceOf(Error);
    expect(await subscribeOutcome(await as('auth'), 'prism.system.>')).toBeInstanceOf(Error);
  });
});

describe('events and JetStream', () => {
  let gatewayJsm: JetStreamManager;
  let authJsm: JetStreamManager;

  beforeAll(async () => {
    // Each owner creates its stream, as the services do at start.
    gatewayJsm = await jetstreamManager(await as('gateway'));
    await gatewayJsm.streams.add({ name: GATEWAY_REQUEST_STREAM, subjects: [SUBJECTS.gatewayRequest] });
    authJsm = await jetstreamManager(await as('auth'));
    await authJsm.streams.add({ name: AUTH_EVENTS_STREAM, subjects: [SUBJECTS.authUser, SUBJECTS.authToken] });
    const gw = await as('gateway');
    for (let i = 0; i < 3; i++)
      gw.publish('prism.gateway.request.api', JSON.stringify({ i, clientIp: '203.0.113.9', userId: 'u1' }));
    await gw.flush();
    const au = await as('auth');
    au.publish('prism.auth.user.logged_in', JSON.stringify({ user_id: 'u1', ip: '203.0.113.9' }));
    au.publish('prism.auth.token.session_revoked', JSON.stringify({ session_id: 's1' }));
    await au.flush();
  });

  it('request and auth events cannot be read live by any service but the gateway’s revocations', async () => {
    for (const who of ['gateway', 'auth', 'config'] as const) {
      const nc = await as(who);
      for (const subject of [SUBJECTS.gatewayRequest, SUBJECTS.authUser, '>'])
        expect(await subscribeOutcome(nc, subject), `${who} on ${subject}`).toBeInstanceOf(Error);
    }
    // What the gateway may read: auth's revocations, one subject each, and nothing else of auth's.
    const gateway = await as('gateway');
    for (const subject of AUTH_REVOCATION_SUBJECTS)
      expect(await subscribeOutcome(gateway, subject), subject).toBeUndefined();
    expect(await subscribeOutcome(gateway, SUBJECTS.authToken)).toBeInstanceOf(Error);
  });

  it('no service can purge, delete, shrink or read the streams, nor read their messages through a consumer', async () => {
    for (const who of ['gateway', 'auth', 'config'] as const) {
      const nc = await as(who);
      for (const stream of [GATEWAY_REQUEST_STREAM, AUTH_EVENTS_STREAM]) {
        const attacks: [string, string][] = [
          [`$JS.API.STREAM.PURGE.${stream}`, '{}'],
          [`$JS.API.STREAM.DELETE.${stream}`, '{}'],
          [`$JS.API.STREAM.MSG.DELETE.${stream}`, JSON.stringify({ seq: 1 })],
          [`$JS.API.STREAM.UPDATE.${stream}`, JSON.stringify({ name: stream, subjects: ['nothing.>'], max_msgs: 1 })],
          [`$JS.API.STREAM.MSG.GET.${stream}`, JSON.stringify({ seq: 1 })],
          [`$JS.API.DIRECT.GET.${stream}`, JSON.stringify({ seq: 1 })],
          [
            `$JS.API.CONSUMER.CREATE.${stream}`,
            JSON.stringify({ stream_name: stream, config: { ack_policy: 'none' } }),
          ],
        ];
        for (const [subject, body] of attacks)
          await expect(nc.request(subject, body, { timeout: 2_000 }), `${who}: ${subject}`).rejects.toThrow(
            /Permissions Violation/,
          );
      }
    }
    // Nothing happened to them.
    expect((await gatewayJsm.streams.info(GATEWAY_REQUEST_STREAM)).state.messages).toBe(3);
    expect((await authJsm.streams.info(AUTH_EVENTS_STREAM)).state.messages).toBe(2);
  });

  it("an owner cannot create another's stream, nor a stream of its own that captures others' subjects", async () => {
    await expect(
      authJsm.streams.add({ name: GATEWAY_REQUEST_STREAM, subjects: [SUBJECTS.gatewayRequest] }),
    ).rejects.toThrow(/Permissions Violation/);
    await expect(gatewayJsm.streams.add({ name: 'SNOOP', subjects: [SUBJECTS.authUser] })).rejects.toThrow(
      /Permissions Violation/,
    );
  });
});

describe('the monitoring port', () => {
  it('is plain HTTP for probes and the exporter, and the local platform binds it to 127.0.0.1 only', async () => {
    const external = Object.values(networkInterfaces())
      .flat()
      .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
    expect((await fetch(`http://127.0.0.1:${nats.monitorPort}/healthz`)).ok).toBe(true);
    if (!external) return; // a machine with loopback only has nothing else to reach it from
    const reached = await new Promise<boolean>((resolve) => {
      const s = tcpConnect(nats.monitorPort, external, () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    expect(reached).toBe(false);
  });
});

describe('the production cluster (routes)', () => {
  it("three servers with prod's nats-server.conf form a cluster over TLS; a server with another mesh certificate is refused", async () => {
    const prodConf = (
      find(synth('prod').objects, 'ConfigMap', 'nats-config') as unknown as { data: Record<string, string> }
    ).data['nats-server.conf']!;
    const routes = [...prodConf.matchAll(/nats:\/\/nats-(\d)\.[^\s]+:(\d+)/g)];
    expect(routes.map((m) => m[1])).toEqual(['0', '1', '2']);
    const dir = mkdtempSync(join(tmpdir(), 'prism-nats-cluster-'));
    const ports = await Promise.all(
      [0, 1, 2, 3].map(async () => ({
        client: await freePort(),
        monitor: await freePort(),
        cluster: await freePort(),
      })),
    );
    const confFor = (i: number, certDir: string) => {
      let conf = prodConf
        .replaceAll(`"${NATS_TLS_DIR}/`, `"${certDir}/`)
        .replace(/^port: \d+$/m, `port: ${ports[i]!.client}`)
        .replace(/^http_port: \d+$/m, `http_port: ${ports[i]!.monitor}`)
        .replace(/^ {2}port: \d+$/m, `  port: ${ports[i]!.cluster}`)
        .replace(/store_dir: ".*"/, `store_dir: "${join(dir, `js${i}`)}"`);
      for (const [url, n] of routes.map((m) => [m[0], Number(m[1])] as const))
        conf = conf.replace(url, `nats://127.0.0.1:${ports[n]!.cluster}`);
      const file = join(dir, `n${i}.conf`);
      writeFileSync(file, conf);
      return file;
    };
    const children = [0, 1, 2].map((i) =>
      spawn('nats-server', ['-c', confFor(i, nats.pki.workloads.nats!.dir)], {
        stdio: 'ignore',
        env: { PATH: process.env.PATH, SERVER_NAME: `n${i}` },
      }),
    );
    const routesOf = async (i: number) =>
      ((await (await fetch(`http://127.0.0.1:${ports[i]!.monitor}/routez`)).json()) as { num_routes: number })
        .num_routes;
    try {
      await waitFor(
        'a full mesh of routes',
        async () =>
          (await Promise.all([0, 1, 2].map((i) => routesOf(i).catch(() => 0)))).every((n) => n === 2)
            ? true
            : undefined,
        20_000,
      );
      // A fourth server with the gateway's certificate (same CA) dials the others: refused, no route.
      const rogue = confFor(3, nats.pki.workloads.gateway!.dir);
      const conf = readFileSync(rogue, 'utf8').replace(
        /routes: \[[^\]]*\]/,
        `routes: [\n    nats://127.0.0.1:${ports[0]!.cluster}\n  ]`,
      );
      writeFileSync(rogue, conf);
      children.push(
        spawn('nats-server', ['-c', rogue], { stdio: 'ignore', env: { PATH: process.env.PATH, SERVER_NAME: 'rogue' } }),
      );
      await waitFor(
        'the rogue server',
        async () => (await fetch(`http://127.0.0.1:${ports[3]!.monitor}/varz`).catch(() => undefined))?.ok || undefined,
        20_000,
      );
      await new Promise((r) => setTimeout(r, 2_000));
      expect(await routesOf(3)).toBe(0);
      expect(await routesOf(0)).toBe(2);
    } finally {
      for (const c of children) c.kill('SIGTERM');
    }
  }, 60_000);
});
