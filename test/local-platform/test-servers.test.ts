import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { readState } from '../../infra/local-platform/launcher.js';
import { isAlive } from '../../infra/local-platform/processes.js';

const REPO = resolve(import.meta.dirname, '../..');
const run = promisify(execFile);
const cli = (...args: string[]) =>
  run(process.execPath, ['--import', 'tsx', 'infra/cli/test-servers.ts', ...args], { cwd: REPO });

const listening = (port: number) =>
  new Promise<boolean>((res) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), res(true)));
    s.once('error', () => res(false));
  });

describe('npm run test-servers: the test servers of one directory, on free ports', () => {
  it('starts PostgreSQL, Redis, NATS (and MinIO where installed) on ports other than this run’s, reuses them, and stop leaves no process, port or file', async () => {
    const parent = mkdtempSync(join(tmpdir(), 'prism-ts-'));
    chmodSync(parent, 0o755); // as root, PostgreSQL runs as the postgres user, which must reach its directory
    const dir = join(parent, 'servers');
    const first = (await cli('start', dir)).stdout;
    const vars = Object.fromEntries(
      first
        .trim()
        .split('\n')
        .map((l) => l.split(/=(.*)/s).slice(0, 2)),
    );
    expect(vars.PRISM_TEST_ROOT).toBe(dir);
    const state = readState(join(dir, 'state.json'))!;
    const ports = Object.values(state.ports);
    expect(new Set(ports).size).toBe(6);
    expect(vars.PRISM_TEST_PG_URL).toBe(`postgres://prism:prism-test@127.0.0.1:${state.ports.postgres}/postgres`);
    // Not the servers this test run uses.
    expect(vars.PRISM_TEST_PG_URL).not.toBe(process.env.PRISM_TEST_PG_URL);
    expect(vars.PRISM_TEST_REDIS_ADDRESS).not.toBe(process.env.PRISM_TEST_REDIS_ADDRESS);
    const { default: pg } = await import('pg');
    const c = new pg.Client({ connectionString: vars.PRISM_TEST_PG_URL });
    await c.connect();
    expect((await c.query('SHOW wal_level')).rows[0].wal_level).toBe('replica');
    await c.end();
    // MinIO only where it is installed (the S3 tests then fail to connect, as they should).
    const withMinio = process.env.PATH!.split(':').some((d) => existsSync(join(d, 'minio')));
    // The console port stays closed: the test MinIO runs with its browser off.
    const serving = ports.filter((p) => p !== state.ports['minio-console'] && (withMinio || p !== state.ports.minio));
    for (const p of serving) expect(await listening(p), `port ${p}`).toBe(true);
    expect(state.processes.map((p) => p.name).sort()).toEqual(
      withMinio ? ['minio', 'nats', 'postgres', 'redis'] : ['nats', 'postgres', 'redis'],
    );
    // A second start finds them answering and starts nothing new.
    expect((await cli('start', dir)).stdout).toBe(first);
    expect(readState(join(dir, 'state.json'))!.processes).toEqual(state.processes);
    expect((await cli('env', dir)).stdout).toBe(readFileSync(join(dir, 'env'), 'utf8'));

    await cli('stop', dir);
    expect(existsSync(dir)).toBe(false);
    // isAlive: an exited server whose zombie nobody has reaped yet (the container's init may not) is stopped.
    for (const p of state.processes) expect(isAlive(p), `${p.name} pid ${p.pid}`).toBe(false);
    for (const p of serving) expect(await listening(p), `port ${p}`).toBe(false);
  }, 90_000);

  it('stop refuses a directory it did not make, and removes nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'prism-ts-other-'));
    const r = await cli('stop', dir).catch((e: { code: number; stderr: string }) => e);
    expect(r).toMatchObject({
      code: 1,
      stderr: `test-servers: ${dir} holds no test servers (no state.json); nothing stopped\n`,
    });
    expect(existsSync(dir)).toBe(true);
  });
});
