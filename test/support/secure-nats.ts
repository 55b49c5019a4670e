import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type NatsConnection, connect } from '@nats-io/transport-node';
import { loadStack } from '../../infra/config/index.js';
import { natsInboxPrefix, type NATS_WORKLOAD, type ServiceName } from '../../infra/contract/index.js';
import { localNatsArgs } from '../../infra/local-platform/render.js';
import { ensureLocalPki, type LocalPki, type PkiFiles } from '../../infra/local/mtls-pki.js';
import { buildPlatform, component } from '../../infra/model/index.js';
import { freePort, waitFor } from './net.js';

/**
 * nats-server with the model's own nats-server.conf (TLS with client certificates, one user per
 * workload identity, subject permissions) and certificates of a fresh local CA: what Compose and
 * Kubernetes run, on 127.0.0.1. `as(who)` connects with a workload's (or the operator's) certificate.
 */
export interface SecureNats {
  readonly url: string;
  readonly monitorPort: number;
  readonly pki: LocalPki;
  readonly conf: string;
  as(who: ServiceName | typeof NATS_WORKLOAD | 'operator', opts?: { reconnect?: boolean }): Promise<NatsConnection>;
  start(): Promise<void>;
  stop(): Promise<void>;
  dispose(): Promise<void>;
}

/** The dev stack's nats-server.conf with its TLS directory, ports and store made local. */
function modelNatsConf(tlsDir: string, o: { client: number; monitor: number; storeDir: string }): string {
  const nats = component(buildPlatform('dev', loadStack('stacks', 'dev').config), 'nats');
  const mount = nats.identity!.mountPath;
  return nats.configFiles[0]!.content.replaceAll(`"${mount}/`, `"${tlsDir}/`)
    .replace(/^port: \d+$/m, `port: ${o.client}`)
    .replace(/^http_port: \d+$/m, `http_port: ${o.monitor}`)
    .replace(/store_dir: ".*"/, `store_dir: "${o.storeDir}"`);
}

export async function secureNats(): Promise<SecureNats> {
  const dir = await mkdtemp(join(tmpdir(), 'prism-secure-nats-'));
  const pki = await ensureLocalPki({ dir: join(dir, 'mtls') });
  const [client, monitor] = [await freePort(), await freePort()];
  const conf = modelNatsConf(pki.workloads.nats!.dir, { client, monitor, storeDir: join(dir, 'jetstream') });
  await writeFile(join(dir, 'nats.conf'), conf);
  let child: ChildProcess | undefined;
  const url = `tls://127.0.0.1:${client}`;
  const files = (who: ServiceName | typeof NATS_WORKLOAD | 'operator'): PkiFiles =>
    who === 'operator' ? pki.operator : pki.workloads[who]!;
  const server: SecureNats = {
    url,
    monitorPort: monitor,
    pki,
    conf,
    as: (who, opts = {}) =>
      connect({
        servers: url,
        tls: { certFile: files(who).cert, keyFile: files(who).key, caFile: files(who).ca },
        ...(who !== 'operator' && who !== 'nats' ? { inboxPrefix: natsInboxPrefix(who) } : {}),
        timeout: 3_000,
        ...(opts.reconnect === false ? { reconnect: false } : { maxReconnectAttempts: -1, reconnectTimeWait: 200 }),
      }),
    async start() {
      // As the local platform starts it; Compose and Kubernetes keep the file's addresses.
      child = spawn('nats-server', localNatsArgs(join(dir, 'nats.conf'), client, monitor), {
        stdio: 'ignore',
        env: { PATH: process.env.PATH, SERVER_NAME: 'nats-test' },
      });
      await waitFor(
        'secure nats-server',
        async () => (await fetch(`http://127.0.0.1:${monitor}/healthz`).catch(() => undefined))?.ok === true,
        30_000,
      );
    },
    async stop() {
      const c = child;
      child = undefined;
      if (!c || c.exitCode !== null) return;
      c.kill('SIGTERM');
      await new Promise((r) => c.once('exit', r));
    },
    async dispose() {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
  await server.start();
  return server;
}
