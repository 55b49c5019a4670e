import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, waitFor } from './net.js';

/**
 * Private servers for tests that stop, restart or reconfigure a dependency (the test run's
 * test servers (infra/local-platform/test-servers.ts) are never stopped by a test). Each listens on a free port on
 * 127.0.0.1 and keeps its data across restarts.
 */

const exec = promisify(execFile);
const asRoot = process.getuid?.() === 0;

export interface PrivateServer {
  readonly port: number;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Stops for good and removes the server's files. */
  dispose(): Promise<void>;
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) =>
    child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve()),
  );
}

function tcpOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

/** A server process started afresh by each `start()`; `stop()` sends `signal` and waits. */
async function processServer(
  what: string,
  port: number,
  argv: () => [string, string[]],
  signal: NodeJS.Signals,
  cleanup?: () => Promise<void>,
  o: { env?: NodeJS.ProcessEnv; ready?: () => Promise<boolean> } = {},
): Promise<PrivateServer> {
  let child: ChildProcess | undefined;
  const server: PrivateServer = {
    port,
    async start() {
      const [cmd, args] = argv();
      child = spawn(cmd, args, { stdio: 'ignore', ...(o.env ? { env: o.env } : {}) });
      await waitFor(what, o.ready ?? (() => tcpOpen(port)), 30_000);
    },
    async stop() {
      if (!child) return;
      const c = child;
      child = undefined;
      c.kill(signal);
      await exited(c);
    },
    async dispose() {
      await server.stop();
      await cleanup?.();
    },
  };
  await server.start();
  return server;
}

/** nats-server with JetStream and a file store that survives restarts. */
export async function privateNats(): Promise<PrivateServer & { url: string }> {
  const port = await freePort();
  const store = await mkdtemp(join(tmpdir(), 'prism-nats-'));
  const server = await processServer(
    'nats-server',
    port,
    () => ['nats-server', ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', store]],
    'SIGTERM',
    () => rm(store, { recursive: true, force: true }),
  );
  return Object.assign(server, { url: `nats://127.0.0.1:${port}` });
}

/** redis-server with a password and no persistence; `stop()` kills it like a crash. */
export async function privateRedis(password: string): Promise<PrivateServer & { address: string; password: string }> {
  const port = await freePort();
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--requirepass',
    password,
    '--save',
    '',
    '--appendonly',
    'no',
  ];
  const server = await processServer('redis-server', port, () => ['redis-server', args], 'SIGKILL');
  return Object.assign(server, { address: `127.0.0.1:${port}`, password });
}

/**
 * A MinIO server of its own (the shared test server is never stopped): an
 * object store a test may destroy entirely. `dispose()` kills it and deletes every object.
 */
export async function privateMinio(): Promise<
  PrivateServer & { endpoint: string; rootUser: string; rootPassword: string }
> {
  const [port, consolePort] = [await freePort(), await freePort()];
  const data = await mkdtemp(join(tmpdir(), 'prism-minio-'));
  const rootUser = 'private-minio-root';
  const rootPassword = randomBytes(16).toString('hex');
  const endpoint = `http://127.0.0.1:${port}`;
  const env = { ...process.env, MINIO_ROOT_USER: rootUser, MINIO_ROOT_PASSWORD: rootPassword, MINIO_BROWSER: 'off' };
  const args = [
    'server',
    data,
    '--address',
    `127.0.0.1:${port}`,
    '--console-address',
    `127.0.0.1:${consolePort}`,
    '--quiet',
  ];
  const ready = async () => (await fetch(`${endpoint}/minio/health/ready`).catch(() => undefined))?.ok === true;
  const server = await processServer(
    'minio',
    port,
    () => ['minio', args],
    'SIGTERM',
    () => rm(data, { recursive: true, force: true }),
    { env, ready },
  );
  return Object.assign(server, { endpoint, rootUser, rootPassword });
}

/** PostgreSQL's programs of the test machine (vitest's global set-up exports the directory). */
export function pgBin(): string {
  const bin = process.env.PRISM_TEST_PG_BIN;
  if (!bin) throw new Error('PRISM_TEST_PG_BIN is not set: run the tests through vitest');
  return bin;
}

/** Runs a PostgreSQL program as the postgres user when we are root (the server refuses root). */
export async function asPostgres(program: string, args: string[]): Promise<string> {
  const [file, argv] = asRoot
    ? ['runuser', ['-u', 'postgres', '--', join(pgBin(), program), ...args]]
    : [join(pgBin(), program), args];
  return (await exec(file, argv, { maxBuffer: 64 * 1024 * 1024 })).stdout;
}

export interface PrivatePostgres extends PrivateServer {
  readonly root: string;
  readonly dataDir: string;
  readonly password: string;
  /** A connection URL as user prism. */
  url(db?: string): string;
  /** `immediate` stops like a crash; `fast` (the default) like a clean shutdown. */
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
}

/**
 * A throw-away PostgreSQL cluster on a free port, configured like the deployments for backups
 * (wal_level=replica, WAL senders). fsync is off: these tests never crash the machine, so it
 * weakens no claim and keeps them fast.
 */
export async function privatePostgres(extraOptions = '', password = 'private-pg-secret'): Promise<PrivatePostgres> {
  const root = await mkdtemp(join(tmpdir(), 'prism-pg-'));
  const dataDir = join(root, 'data');
  const port = await freePort();
  await writeFile(join(root, 'pwfile'), `${password}\n`);
  if (asRoot) await exec('chown', ['-R', 'postgres:', root]);
  await asPostgres('initdb', [
    '-D',
    dataDir,
    '-U',
    'prism',
    `--pwfile=${join(root, 'pwfile')}`,
    '-A',
    'scram-sha-256',
    '--no-sync',
  ]);
  const options = `-h 127.0.0.1 -p ${port} -k ${root} -c wal_level=replica -c max_wal_senders=10 -c max_replication_slots=10 -c fsync=off ${extraOptions}`;
  const pg: PrivatePostgres = {
    root,
    dataDir,
    port,
    password,
    url: (db = 'postgres') => `postgres://prism:${encodeURIComponent(password)}@127.0.0.1:${port}/${db}`,
    start: async () => {
      await asPostgres('pg_ctl', ['-D', dataDir, '-l', join(root, 'server.log'), '-w', '-o', options, 'start']);
    },
    stop: async (mode = 'fast') => {
      await asPostgres('pg_ctl', ['-D', dataDir, '-m', mode, '-w', 'stop']);
    },
    dispose: async () => {
      await asPostgres('pg_ctl', ['-D', dataDir, '-m', 'immediate', 'stop']).catch(() => {});
      await rm(root, { recursive: true, force: true });
    },
  };
  await pg.start();
  return pg;
}
