import { execFile } from 'node:child_process';
import { chown, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const exec = promisify(execFile);
const asRoot = process.getuid?.() === 0;

/** PostgreSQL's programs of the test machine (vitest's global set-up exports the directory). */
export function pgBin(): string {
  const bin = process.env.PRISM_TEST_PG_BIN;
  if (!bin) throw new Error('PRISM_TEST_PG_BIN is not set: run the tests through vitest');
  return bin;
}

/** Runs a PostgreSQL program as the postgres user when we are root (the server refuses root). */
export async function asPostgres(program: string, args: string[]): Promise<string> {
  const [file, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', join(pgBin(), program), ...args]] : [join(pgBin(), program), args];
  return (await exec(file, argv, { maxBuffer: 64 * 1024 * 1024 })).stdout;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

export interface PrivatePostgres {
  readonly root: string;
  readonly dataDir: string;
  readonly port: number;
  readonly password: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  dispose(): Promise<void>;
}

/**
 * A throw-away PostgreSQL cluster on a free port, configured like the deployments for backups
 * (wal_level=replica, WAL senders). fsync is off: these tests never crash the machine, so it
 * weakens no claim and keeps them fast.
 */
export async function privatePostgres(extraOptions = ''): Promise<PrivatePostgres> {
  const root = await mkdtemp(join(tmpdir(), 'prism-pg-'));
  const dataDir = join(root, 'data');
  const password = 'private-pg-secret';
  const port = await freePort();
  await writeFile(join(root, 'pwfile'), `${password}\n`);
  if (asRoot) {
    await exec('chown', ['-R', 'postgres:', root]);
  }
  await asPostgres('initdb', ['-D', dataDir, '-U', 'prism', `--pwfile=${join(root, 'pwfile')}`, '-A', 'scram-sha-256', '--no-sync']);
  const pg: PrivatePostgres = {
    root,
    dataDir,
    port,
    password,
    start: async () => {
      await asPostgres('pg_ctl', ['-D', dataDir, '-l', join(root, 'server.log'), '-w', '-o',
        `-h 127.0.0.1 -p ${port} -k ${root} -c wal_level=replica -c max_wal_senders=10 -c max_replication_slots=10 -c fsync=off ${extraOptions}`, 'start']);
    },
    stop: async () => {
      await asPostgres('pg_ctl', ['-D', dataDir, '-m', 'fast', '-w', 'stop']);
    },
    dispose: async () => {
      await asPostgres('pg_ctl', ['-D', dataDir, '-m', 'immediate', 'stop']).catch(() => {});
      await rm(root, { recursive: true, force: true });
    },
  };
  await pg.start();
  return pg;
}

export async function chownToPostgres(path: string): Promise<void> {
  if (asRoot) await chown(path, Number((await exec('id', ['-u', 'postgres'])).stdout), Number((await exec('id', ['-g', 'postgres'])).stdout));
}
