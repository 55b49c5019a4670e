import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const listening = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('scripts/test-services.sh: servers of one directory, on free ports', () => {
  it('starts PostgreSQL, Redis and NATS on ports other than this run’s, reuses them, and stop leaves no process, port or file', async () => {
    const parent = mkdtempSync(join(tmpdir(), 'prism-ts-'));
    chmodSync(parent, 0o755); // as root, PostgreSQL runs as the postgres user, which must reach its directory
    const dir = join(parent, 'servers');
    const start = () => execFileSync('bash', ['scripts/test-services.sh', 'start', dir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const vars = Object.fromEntries(
      start()
        .trim()
        .split('\n')
        .map((l) => l.split(/=(.*)/s).slice(0, 2)),
    );
    expect(vars.PRISM_TEST_ROOT).toBe(dir);
    const ports = readFileSync(join(dir, 'ports'), 'utf8').trim().split(' ').map(Number);
    expect(new Set(ports).size).toBe(6);
    const [pgPort, redisPort, natsPort] = ports as [number, number, number];
    expect(vars.PRISM_TEST_PG_URL).toBe(`postgres://prism:prism-test@127.0.0.1:${pgPort}/postgres`);
    // Not the servers this test run uses.
    expect(vars.PRISM_TEST_PG_URL).not.toBe(process.env.PRISM_TEST_PG_URL);
    expect(vars.PRISM_TEST_REDIS_ADDRESS).not.toBe(process.env.PRISM_TEST_REDIS_ADDRESS);
    const { default: pg } = await import('pg');
    const c = new pg.Client({ connectionString: vars.PRISM_TEST_PG_URL });
    await c.connect();
    expect((await c.query('SHOW wal_level')).rows[0].wal_level).toBe('replica');
    await c.end();
    for (const p of [pgPort, redisPort, natsPort]) expect(await listening(p)).toBe(true);
    const pids = ['redis.pid', 'nats.pid'].map((f) => Number(readFileSync(join(dir, f), 'utf8')));
    const pgPid = Number(readFileSync(join(dir, 'pg/postmaster.pid'), 'utf8').split('\n')[0]);
    // A second start finds them answering and starts nothing new.
    expect(start()).toBe(`PRISM_TEST_ROOT=${dir}\n${readFileSync(join(dir, 'env'), 'utf8')}`);
    expect(Number(readFileSync(join(dir, 'redis.pid'), 'utf8'))).toBe(pids[0]);

    execFileSync('bash', ['scripts/test-services.sh', 'stop', dir], { stdio: 'ignore' });
    expect(existsSync(dir)).toBe(false);
    for (const pid of [...pids, pgPid]) expect(alive(pid), `pid ${pid}`).toBe(false);
    for (const p of [pgPort, redisPort, natsPort]) expect(await listening(p)).toBe(false);
  }, 90_000);

  it('stop refuses a directory it did not make, and removes nothing', () => {
    const dir = mkdtempSync(join(tmpdir(), 'prism-ts-other-'));
    const r = spawnSync('bash', ['scripts/test-services.sh', 'stop', dir], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`test-services: ${dir} holds no test servers (no ports file); nothing stopped\n`);
    expect(existsSync(dir)).toBe(true);
  });
});
