import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './net.js';

export interface NatsCluster {
  /** The client URLs of the three servers. */
  readonly urls: string[];
  /** Starts server i (0-2); `startNatsCluster` starts all three unless told otherwise. */
  start(i: number): void;
  /** Stops every server and removes the stores. */
  stop(): Promise<void>;
}

/**
 * Three JetStream servers routed to each other on free loopback ports, each with its own store. JetStream
 * elects its meta leader only once two of them are up: started one by one, the cluster shows what clients
 * meet while a real one comes up.
 */
export async function startNatsCluster(o: { started?: number[] } = {}): Promise<NatsCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'prism-nats-cluster-'));
  const client = await Promise.all([0, 1, 2].map(() => freePort()));
  const route = await Promise.all([0, 1, 2].map(() => freePort()));
  const routes = route.map((p) => `nats://127.0.0.1:${p}`).join(',');
  const procs: (ChildProcess | undefined)[] = [];
  const cluster: NatsCluster = {
    urls: client.map((p) => `nats://127.0.0.1:${p}`),
    start(i) {
      procs[i] ??= spawn(
        'nats-server',
        [
          ...['-a', '127.0.0.1', '-p', String(client[i]), '-js', '-sd', join(dir, `n${i}`), '-n', `n${i}`],
          ...['--cluster_name', 'prism-test', '--cluster', `nats://127.0.0.1:${route[i]}`, '--routes', routes],
        ],
        { stdio: 'ignore' },
      );
    },
    async stop() {
      await Promise.all(
        procs.map(
          (p) =>
            new Promise<void>((r) =>
              !p || p.exitCode !== null ? r() : (p.once('exit', () => r()), p.kill('SIGTERM')),
            ),
        ),
      );
      rmSync(dir, { recursive: true, force: true });
    },
  };
  for (const i of o.started ?? [0, 1, 2]) cluster.start(i);
  return cluster;
}
