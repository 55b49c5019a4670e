import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort } from '../local/free-port.js';
import { Launcher, LocalPlatformError, readState, stopAll, type PortMap, type ProcessState } from './launcher.js';
import { findPostgresBin, INSTALL_SCRIPT } from './prerequisites.js';
import { HOST, httpOk, postgresReady, redisPing } from './probes.js';
import { isAlive } from './processes.js';
import { startMinio, startNats, startPostgres, startRedis } from './servers.js';

/**
 * The servers the test suite uses (PostgreSQL, Redis, NATS with JetStream, MinIO), started the way the
 * local platform starts its own (servers.ts), with the tests' settings, on free ports of 127.0.0.1, every
 * file (data, logs, state) in one directory, so test runs of several checkouts never collide.
 * vitest's global set-up starts them per run; `npm run -s test-servers -- start DIR` keeps a set across runs.
 * PostgreSQL: superuser prism / prism-test (as the postgres user when we are root); Redis: password
 * prism-test; MinIO: root prism-test-root / prism-test-root-secret (tests create least-privilege users),
 * skipped with a warning when `minio` is missing.
 */

const PG_PASSWORD = 'prism-test';
const REDIS_PASSWORD = 'prism-test';
const MINIO_ROOT = { user: 'prism-test-root', password: 'prism-test-root-secret' };
const PORTS = ['postgres', 'redis', 'nats', 'nats-monitor', 'minio', 'minio-console'] as const;

const stateFile = (root: string) => join(root, 'state.json');
const envFile = (root: string) => join(root, 'env');

function which(cmd: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':')) if (dir && existsSync(join(dir, cmd))) return join(dir, cmd);
  return undefined;
}

function envOf(ports: PortMap, pgBin: string): Record<string, string> {
  return {
    PRISM_TEST_PG_URL: `postgres://prism:${PG_PASSWORD}@${HOST}:${ports.postgres}/postgres`,
    PRISM_TEST_REDIS_ADDRESS: `${HOST}:${ports.redis}`,
    PRISM_TEST_REDIS_PASSWORD: REDIS_PASSWORD,
    PRISM_TEST_NATS_URL: `nats://${HOST}:${ports.nats}`,
    PRISM_TEST_PG_BIN: pgBin,
    PRISM_TEST_MINIO_ENDPOINT: `http://${HOST}:${ports.minio}`,
    PRISM_TEST_MINIO_ROOT_USER: MINIO_ROOT.user,
    PRISM_TEST_MINIO_ROOT_PASSWORD: MINIO_ROOT.password,
  };
}

export interface TestServers {
  readonly root: string;
  /** PRISM_TEST_* variables (also in `<root>/env`). */
  readonly env: Readonly<Record<string, string>>;
}

/**
 * Starts the servers of `dir` (default: a new directory under the temporary directory), or reuses those
 * already answering; the ports are chosen once and kept in the directory's state, so a restart reuses them.
 */
export async function startTestServers(
  dir?: string,
  warn: (s: string) => void = (s) => process.stderr.write(`${s}\n`),
): Promise<TestServers> {
  const pgBin = findPostgresBin();
  if (!pgBin)
    throw new LocalPlatformError(
      `PostgreSQL is not installed (/usr/lib/postgresql/<major>/bin): run ${INSTALL_SCRIPT}`,
    );
  const root = resolve(dir ?? mkdtempSync(join(tmpdir(), 'prism-test-')));
  mkdirSync(join(root, 'logs'), { recursive: true });
  chmodSync(root, 0o755); // the postgres user reaches its data directory inside
  const previous = readState(stateFile(root));
  const ports: Record<string, number> = { ...previous?.ports };
  for (const k of PORTS) ports[k] ??= await freePort();
  const launcher = new Launcher<ProcessState>(stateFile(root), {
    dir: root,
    ports,
    processes: (previous?.processes ?? []).filter(isAlive),
  });
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', LANG: 'C.UTF-8' };
  const log = (name: string) => join(root, 'logs', `${name}.log`);
  const common = (name: string) => ({ name, env, logFile: log(name), stopTimeoutMs: 10_000 });
  const starts: Promise<unknown>[] = [];
  if (!(await postgresReady({ port: ports.postgres!, user: 'prism', password: PG_PASSWORD }))) {
    const args = [
      '-c',
      `port=${ports.postgres}`,
      '-c',
      'wal_level=replica',
      '-c',
      'max_wal_senders=10',
      '-c',
      'fsync=off',
    ];
    starts.push(
      startPostgres(launcher, {
        ...common('postgres'),
        pgBin,
        data: join(root, 'pg'),
        socketDir: join(root, 'pg-run'),
        port: ports.postgres!,
        superuser: 'prism',
        password: PG_PASSWORD,
        args,
        stopSignal: 'SIGQUIT',
      }),
    );
  }
  if (!(await redisPing(ports.redis!, REDIS_PASSWORD))) {
    const redisServer = which('redis-server') ?? 'redis-server';
    starts.push(
      startRedis(launcher, {
        ...common('redis'),
        redisServer,
        port: ports.redis!,
        password: REDIS_PASSWORD,
        runDir: join(root, 'redis'),
        dataDir: join(root, 'redis'),
        settings: ['save ""', 'appendonly no'],
      }),
    );
  }
  if (!(await httpOk(`http://${HOST}:${ports['nats-monitor']}/healthz`))) {
    const natsServer = which('nats-server') ?? 'nats-server';
    const store = join(root, 'nats');
    starts.push(
      startNats(launcher, {
        ...common('nats'),
        natsServer,
        clientPort: ports.nats!,
        monitorPort: ports['nats-monitor']!,
        args: ['-js', '-sd', store],
        dataDir: store,
        readyPath: '/healthz',
      }),
    );
  }
  const minio = which('minio');
  if (!minio)
    warn(`test servers: minio not found on PATH; the S3 tests will fail to connect (${INSTALL_SCRIPT} installs it)`);
  else if (!(await httpOk(`http://${HOST}:${ports.minio}/minio/health/live`))) {
    const minioEnv = {
      ...env,
      MINIO_ROOT_USER: MINIO_ROOT.user,
      MINIO_ROOT_PASSWORD: MINIO_ROOT.password,
      MINIO_BROWSER: 'off',
    };
    starts.push(
      startMinio(launcher, {
        ...common('minio'),
        env: minioEnv,
        minio,
        dataDir: join(root, 'minio', 'data'),
        certsDir: join(root, 'minio', 'certs'),
        apiPort: ports.minio!,
        consolePort: ports['minio-console']!,
        readyPath: '/minio/health/live',
      }),
    );
  }
  const results = await Promise.allSettled(starts);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    await stopTestServers(root);
    throw failed.reason;
  }
  const vars = envOf(ports, pgBin);
  writeFileSync(
    envFile(root),
    Object.entries(vars)
      .map(([k, v]) => `${k}=${v}\n`)
      .join(''),
  );
  return { root, env: vars };
}

/** Stops the servers of `dir` and removes it; refuses (and removes nothing) where no test servers were started. */
export async function stopTestServers(dir: string): Promise<void> {
  const root = resolve(dir);
  const state = readState(stateFile(root));
  if (!state) throw new LocalPlatformError(`${root} holds no test servers (no state.json); nothing stopped`);
  await stopAll(state.processes);
  rmSync(root, { recursive: true, force: true });
}

/** The PRISM_TEST_* lines of started servers. */
export function testServersEnv(dir: string): string {
  const file = envFile(resolve(dir));
  if (!existsSync(file)) throw new LocalPlatformError(`${resolve(dir)} holds no started test servers (no env file)`);
  return readFileSync(file, 'utf8');
}
