import { execFile, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import type { PlatformState } from '../../infra/local-platform/context.js';
import { readState } from '../../infra/local-platform/launcher.js';
import { down, up } from '../../infra/local-platform/platform.js';
import { tcpOpen } from '../../infra/local-platform/probes.js';
import { isAlive } from '../../infra/local-platform/processes.js';

/**
 * The local platform's life cycle as a user lives it through the CLI: Ctrl-C in the middle of
 * `local:up` stops everything it started and leaves nothing behind; the next `up` works; a process
 * that dies is started again by the supervisor; `local:restart` restarts one; each platform's
 * DB manager keeps its scratch space (the WAL spool) under its own directory.
 */

const REPO = resolve(import.meta.dirname, '../..');
const run = promisify(execFile);
const cli = (dir: string, ...args: string[]) =>
  run(process.execPath, ['--import', 'tsx', 'infra/cli/local-platform.ts', '--dir', dir, ...args], {
    cwd: REPO,
    maxBuffer: 16 << 20,
  });
const dbmanager = (...args: string[]) =>
  cli(dir, 'exec', 'dbmanager', '--', process.execPath, '--import', 'tsx', 'services/dbmanager/src/cli.ts', ...args);
const dir = mkdtempSync(join(tmpdir(), 'prism-lifecycle-'));
chmodSync(dir, 0o711);
const state = () => readState<PlatformState>(join(dir, 'state.json'));

async function until<T>(what: string, fn: () => T | undefined | Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const t = Date.now() + timeoutMs;
  while (Date.now() < t) {
    const v = await fn();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}`);
}

afterAll(async () => {
  await down(dir).catch(() => {});
  rmSync(dir, { recursive: true, force: true });
}, 120_000);

describe('the local platform life cycle', () => {
  it('Ctrl-C during local:up stops every process it started, frees every port, removes its state; the next up works', async () => {
    // Its own process group, as a terminal's foreground job: Ctrl-C signals the whole group.
    const child = spawn(process.execPath, ['--import', 'tsx', 'infra/cli/local-platform.ts', 'up', '--dir', dir], {
      cwd: REPO,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    // Mid-start: the data stores run and the DB manager is starting.
    const started = await until(
      'the DB manager to start',
      () => (state()?.processes.some((p) => p.name === 'dbmanager') ? state() : undefined),
      180_000,
    );
    expect(started.processes.length).toBeGreaterThanOrEqual(6);
    process.kill(-child.pid!, 'SIGINT');
    expect(await exited, output).toBe(130);
    expect(output).toContain('SIGINT: stopping what was started');
    for (const name of ['postgres-auth', 'postgres-ops', 'redis', 'nats', 'minio', 'dbmanager'])
      expect(output).toMatch(new RegExp(`^  ${name}: (stopped|killed) \\(`, 'm'));
    expect(output).toContain('stopped; nothing is left running');

    for (const p of started.processes) expect(isAlive(p), `${p.name} pid ${p.pid}`).toBe(false);
    for (const [k, port] of Object.entries(started.ports)) expect(await tcpOpen(port), `${k} port ${port}`).toBe(false);
    expect(existsSync(join(dir, 'state.json'))).toBe(false);
    expect(existsSync(join(dir, 'endpoints.json'))).toBe(false);
    const status = await cli(dir, 'status').catch((e: { code: number; stdout: string }) => e);
    expect(status).toMatchObject({ code: 3, stdout: 'not running (start it with npm run local:up)\n' });

    const e = await up({ repoRoot: REPO, dir });
    expect(e.gateways).toHaveLength(1);
    expect(state()!.supervisor && isAlive(state()!.supervisor!)).toBe(true);
  }, 400_000);

  it('keeps the DB manager scratch space and WAL spool under the platform directory', async () => {
    const db = state()!.processes.find((p) => p.name === 'dbmanager')!;
    const env = Object.fromEntries(
      readFileSync(`/proc/${db.pid}/environ`, 'utf8')
        .split('\0')
        .filter(Boolean)
        .map((l) => l.split(/=(.*)/s).slice(0, 2)),
    );
    expect(env.PRISM_DBMANAGER_SCRATCH_DIR).toBe(join(dir, 'run/dbmanager/scratch'));
    expect(env.TMPDIR).toBe(join(dir, 'run/dbmanager/tmp'));
    // The archiver streams WAL into its spool from the start.
    await until(
      'the WAL spool',
      () => (existsSync(join(dir, 'run/dbmanager/scratch/wal-spool')) ? true : undefined),
      30_000,
    );
  });

  it('starts a process that died again (counted in local:status), and local:restart restarts one', async () => {
    const auth = state()!.processes.find((p) => p.name === 'auth')!;
    process.kill(-auth.pid, 'SIGKILL');
    const again = await until(
      'auth to be started again',
      () => state()!.processes.find((p) => p.name === 'auth' && p.pid !== auth.pid && isAlive(p)),
      60_000,
    );
    const authPort = state()!.ports['auth/http']!;
    await until('auth to serve', async () => ((await tcpOpen(authPort)) ? true : undefined), 60_000);
    const { stdout } = await until(
      'auth ready in status',
      async () => {
        const s = await cli(dir, 'status').catch(() => undefined);
        return s && /^ {2}auth\s+running\s+pid \d+\s+restarts 1$/m.test(s.stdout) ? s : undefined;
      },
      120_000,
    );
    expect(stdout).toMatch(new RegExp(`^  auth\\s+running\\s+pid ${again.pid}\\s+restarts 1$`, 'm'));
    expect(stdout).toMatch(/^ {2}supervisor\s+running/m);

    const config = state()!.processes.find((p) => p.name === 'config')!;
    const r = await cli(dir, 'restart', 'config');
    expect(r.stdout).toMatch(/^ {2}config: running again \(\d+\.\d s\)$/m);
    const now = state()!.processes.find((p) => p.name === 'config')!;
    expect(now.pid).not.toBe(config.pid);
    expect(isAlive(config)).toBe(false);
    expect(isAlive(now)).toBe(true);
    expect(await tcpOpen(state()!.ports['config/grpc']!)).toBe(true);
    expect(state()!.restarts).toMatchObject({ auth: 1, config: 1 });
    const bad = await cli(dir, 'restart', 'nope').catch((e: { code: number; stderr: string }) => e);
    expect(bad).toMatchObject({ code: 1 });
    expect((bad as { stderr: string }).stderr).toMatch(
      /^usage: npm run local:restart -- <process>; one of: postgres-auth, /,
    );
  }, 300_000);

  it('restore --apply through the supervisor: postgres-auth held, its data directory swapped, started again, a new full backup', async () => {
    const backup = /^== backup (auth-full-\S+)/m.exec((await dbmanager('backup', 'auth', 'full')).stdout)![1]!;
    const pgAuth = state()!.processes.find((p) => p.name === 'postgres-auth')!;
    const data = join(dir, 'data/postgres-auth');
    const r = await dbmanager(
      'restore',
      'auth',
      backup,
      '--apply',
      '--data-dir',
      data,
      '--supervisor',
      join(dir, 'run/supervisor'),
    );
    expect(r.stdout).toMatch(new RegExp(`^== restore of ${backup}: applied`, 'm'));
    const newFull = /newFullBackup:\s+(auth-full-\S+)/.exec(r.stdout)?.[1];
    expect(newFull).toBeDefined();
    expect(newFull).not.toBe(backup);
    const now = state()!.processes.find((p) => p.name === 'postgres-auth')!;
    expect(now.pid).not.toBe(pgAuth.pid);
    expect(isAlive(now)).toBe(true);
    expect(existsSync(join(dir, 'run/supervisor/hold-postgres-auth'))).toBe(false);
    expect(readdirSync(join(dir, 'data')).some((f) => f.startsWith('postgres-auth.before-restore-'))).toBe(true);
    // The platform works on the restored database: auth answers ready.
    expect(await tcpOpen(state()!.ports['auth/http']!)).toBe(true);
  }, 300_000);

  it('down stops the supervisor first, then everything it supervised', async () => {
    const before = state()!;
    const results = await down(dir);
    expect(results.map((x) => x.name)).toContain('supervisor');
    for (const p of [...before.processes, before.supervisor!]) expect(isAlive(p), p.name).toBe(false);
    expect(existsSync(join(dir, 'endpoints.json'))).toBe(false);
  }, 300_000);
});
