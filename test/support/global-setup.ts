import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { portSeed } from '../../infra/local/free-port.js';
import { startTestServers, stopTestServers } from '../../infra/local-platform/test-servers.js';

/**
 * One test run's own world, so runs in other checkouts on the same machine never collide:
 * - a temporary directory for the run, given to every test process as TMPDIR (whatever a test leaves
 *   in it goes at the end);
 * - the real servers the integration tests use (PostgreSQL, Redis, NATS, MinIO on free ports on
 *   127.0.0.1, started as the local platform starts its own: infra/local-platform/test-servers.ts),
 *   in that directory and stopped at the end, their addresses exported as PRISM_TEST_* variables.
 * Servers started outside (PRISM_TEST_PG_URL already set, e.g. by `npm run -s test-servers -- start DIR`)
 * are used and left running. Where the servers cannot be started, the tests that need them fail with a
 * connection error.
 */
export default async function setup(): Promise<() => Promise<void>> {
  const run = mkdtempSync(join(tmpdir(), 'prism-run-'));
  chmodSync(run, 0o755); // servers and restores running as the postgres user reach their directories inside
  process.env.TMPDIR = run;
  process.env.PRISM_PORT_SEED ??= portSeed();
  let servers: string | undefined;
  if (process.env.PRISM_TEST_PG_URL === undefined) {
    try {
      const started = await startTestServers(join(run, 'servers'));
      servers = started.root;
      for (const [k, v] of Object.entries(started.env)) process.env[k] ??= v;
    } catch (e) {
      console.warn(`test servers could not be started: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  return async () => {
    if (servers)
      await stopTestServers(servers).catch((e: Error) =>
        console.warn(`test servers could not be stopped: ${e.message.split('\n')[0]}`),
      );
    rmSync(run, { recursive: true, force: true });
  };
}
