/**
 * What the auth benchmarks share: the test servers, and the auth service as a real child process
 * (`node --import tsx services/auth/src/main.ts`) in a fresh database on them.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { authDatabase, authEnvVars } from '../test/support/harness.js';
import { makeKeyFiles } from '../test/support/keys.js';
import { startTestServers, stopTestServers } from '#infra/local-platform/test-servers';

/** Runs `bench` with the test servers: those given in PRISM_TEST_* (left running), else our own, stopped after. */
export async function withTestServers(bench: () => Promise<void>): Promise<void> {
  if (process.env.PRISM_TEST_PG_URL !== undefined) return bench();
  const { root, env } = await startTestServers(mkdtempSync(join(tmpdir(), 'prism-bench-servers-')));
  for (const [k, v] of Object.entries(env)) process.env[k] ??= v;
  try {
    await bench();
  } finally {
    await stopTestServers(root);
  }
}

export interface BenchService {
  /** http://127.0.0.1:<port> of the service's HTTP API. */
  readonly base: string;
  /** The service's /health/live URL. */
  readonly live: string;
  /** The service's database URL. */
  readonly dbUrl: string;
  stop(): Promise<void>;
}

/** Starts auth as a child process in a fresh database and waits until it is ready. */
export async function startBenchService(env: Record<string, string> = {}): Promise<BenchService> {
  const db = await authDatabase();
  const vars = await authEnvVars({ dbUrl: db.url, keys: makeKeyFiles(), env: { PRISM_LOG_LEVEL: 'warn', ...env } });
  // BENCH_PROFILE_DIR: a CPU profile of the service (written when it stops).
  const profile = process.env.BENCH_PROFILE_DIR;
  const args = [
    ...(profile ? ['--cpu-prof', `--cpu-prof-dir=${profile}`] : []),
    '--import',
    'tsx',
    'services/auth/src/main.ts',
  ];
  const child = spawn(process.execPath, args, {
    // PRISM_AUTH_REFRESH_CONCURRENCY of the benchmark's environment reaches the service, to compare settings.
    env: {
      PATH: process.env.PATH!,
      ...vars,
      ...(process.env.PRISM_AUTH_REFRESH_CONCURRENCY
        ? { PRISM_AUTH_REFRESH_CONCURRENCY: process.env.PRISM_AUTH_REFRESH_CONCURRENCY }
        : {}),
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
    await db.drop();
  };
  const metrics = `http://127.0.0.1:${vars.PRISM_METRICS_PORT}`;
  try {
    for (let i = 0; ; i++) {
      const ok = await fetch(`${metrics}/health/ready`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) break;
      if (i > 100) throw new Error('the auth service did not become ready');
      await new Promise((r) => setTimeout(r, 200));
    }
  } catch (e) {
    await stop();
    throw e;
  }
  return { base: `http://127.0.0.1:${vars.PRISM_HTTP_PORT}`, live: `${metrics}/health/live`, dbUrl: db.url, stop };
}
