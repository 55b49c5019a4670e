import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * One test run's own world, so runs in other checkouts on the same machine never collide:
 * - a temporary directory for the run, given to every test process as TMPDIR (whatever a test leaves
 *   in it goes at the end);
 * - the real servers the integration tests use (PostgreSQL, Redis, NATS, MinIO on free ports on
 *   127.0.0.1, scripts/test-services.sh), started in that directory and stopped at the end, their
 *   addresses exported as PRISM_TEST_* variables.
 * Servers started outside (PRISM_TEST_PG_URL already set, e.g. by .ci/run) are used and left running.
 * Where the servers cannot be started, the tests that need them fail with a connection error.
 */
export default function setup(): () => void {
  const run = mkdtempSync(join(tmpdir(), 'prism-run-'));
  chmodSync(run, 0o755); // servers and restores running as the postgres user reach their directories inside
  process.env.TMPDIR = run;
  let servers: string | undefined;
  if (process.env.PRISM_TEST_PG_URL === undefined) {
    servers = join(run, 'servers');
    try {
      const out = execFileSync('bash', ['scripts/test-services.sh', 'start', servers], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
      for (const line of out.split('\n')) {
        const m = /^(PRISM_TEST_[A-Z0-9_]+)=(.*)$/.exec(line);
        if (m && process.env[m[1]!] === undefined) process.env[m[1]!] = m[2];
      }
    } catch (e) {
      console.warn(`test servers could not be started: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  return () => {
    if (servers) {
      try {
        execFileSync('bash', ['scripts/test-services.sh', 'stop', servers], { stdio: ['ignore', 'ignore', 'inherit'] });
      } catch (e) {
        console.warn(`test servers could not be stopped: ${(e as Error).message.split('\n')[0]}`);
      }
    }
    rmSync(run, { recursive: true, force: true });
  };
}
