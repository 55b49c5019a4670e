import { execFile, spawn } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PlatformState } from '../../infra/local-platform/context.js';
import { readState } from '../../infra/local-platform/launcher.js';
import { down } from '../../infra/local-platform/platform.js';
import { findPostgresBin } from '../../infra/local-platform/prerequisites.js';
import { tcpOpen } from '../../infra/local-platform/probes.js';
import { isAlive } from '../../infra/local-platform/processes.js';

/**
 * Two whole local platforms on one machine at the same time, as two users (or two terminals) start them:
 * two `local:up` processes at once, each with its own directory. Every writable directory of a platform
 * (the DB manager's scratch space and WAL spool among them) lives under its own directory, so while both
 * DB managers archive WAL and take full backups at once, each spool holds only its own cluster's WAL,
 * neither removes the other's, and each platform's backups verify; both then stop, leaving nothing.
 */

const REPO = resolve(import.meta.dirname, '../..');
const run = promisify(execFile);
const cli = (dir: string, ...args: string[]) =>
  run(process.execPath, ['--import', 'tsx', 'infra/cli/local-platform.ts', '--dir', dir, ...args], {
    cwd: REPO,
    maxBuffer: 16 << 20,
  });
const dbmanager = (dir: string, ...args: string[]) =>
  cli(dir, 'exec', 'dbmanager', '--', process.execPath, '--import', 'tsx', 'services/dbmanager/src/cli.ts', ...args);

const dirs = ['a', 'b'].map((n) => {
  const d = mkdtempSync(join(tmpdir(), `prism-two-${n}-`));
  chmodSync(d, 0o711); // PostgreSQL (its own user when we are root) reaches its data directory below
  return d;
});
const state = (dir: string) => readState<PlatformState>(join(dir, 'state.json'))!;
const scratch = (dir: string) => join(dir, 'run/dbmanager/scratch');
let started: PlatformState[];

/** `local:up` as a user runs it, in a process of its own. */
function upCli(dir: string): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'infra/cli/local-platform.ts', 'up', '--dir', dir], {
    cwd: REPO,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  return new Promise((r) => child.once('exit', (code) => r({ code, output })));
}

/** The cluster a WAL file was written by: xlp_sysid of its first (long) page header; undefined while not written yet. */
function walWriter(file: string): string | undefined {
  const b = Buffer.alloc(32);
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return undefined; // uploaded and removed meanwhile
  }
  try {
    if (readSync(fd, b, 0, 32, 0) < 32 || b.readUInt16LE(0) === 0) return undefined;
  } finally {
    closeSync(fd);
  }
  return b.readBigUInt64LE(24).toString();
}

/** The files below root now; a directory removed while being read (a finished backup's scratch) is skipped. */
function filesBelow(root: string): string[] {
  let entries;
  try {
    entries = readdirSync(root, { withFileTypes: true });
  } catch {
    return [];
  }
  return entries.flatMap((e) =>
    e.isDirectory() ? filesBelow(join(root, e.name)) : e.isFile() ? [join(root, e.name)] : [],
  );
}

/** Watches a platform's DB manager scratch space: every file seen, and the writer of every WAL file in its spool. */
function watchScratch(dir: string) {
  const seen = { files: new Set<string>(), walWriters: new Set<string>() };
  const look = () => {
    for (const f of filesBelow(scratch(dir))) {
      seen.files.add(relative(scratch(dir), f));
      if (/^wal-spool\/auth\/[0-9A-F]{24}(\.partial)?$/.test(relative(scratch(dir), f))) {
        const w = walWriter(f);
        if (w !== undefined) seen.walWriters.add(w);
      }
    }
  };
  const timer = setInterval(look, 50);
  return {
    stop: () => {
      clearInterval(timer);
      look();
      return seen;
    },
  };
}

async function systemIdentifier(dir: string): Promise<string> {
  const { stdout } = await run(join(findPostgresBin()!, 'pg_controldata'), ['-D', join(dir, 'data/postgres-auth')]);
  return /^Database system identifier:\s+(\d+)$/m.exec(stdout)![1]!;
}

beforeAll(async () => {
  const results = await Promise.all(dirs.map(upCli));
  for (const r of results) expect(r, r.output).toMatchObject({ code: 0 });
  started = dirs.map(state);
}, 600_000);

afterAll(async () => {
  await Promise.all(dirs.map((d) => down(d).catch(() => {})));
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}, 180_000);

describe('two local platforms on one machine at once', () => {
  it('run side by side on ports of their own, each serving', async () => {
    const [a, b] = started.map((s) => Object.values(s.ports));
    expect(a!.filter((p) => b!.includes(p))).toEqual([]);
    for (const s of started) {
      expect(s.processes.filter((p) => p.name.startsWith('gateway'))).toHaveLength(1);
      for (const p of s.processes) expect(isAlive(p), p.name).toBe(true);
      for (const [k, port] of Object.entries(s.ports)) expect(await tcpOpen(port), `${k} port ${port}`).toBe(true);
    }
  });

  it('archive WAL and take full backups at the same time, each in its own scratch space, and each verifies', async () => {
    const ids = await Promise.all(dirs.map(systemIdentifier));
    expect(ids[0]).not.toBe(ids[1]);
    const watchers = dirs.map(watchScratch);
    const backups = await Promise.all(
      dirs.map(async (d) => {
        await dbmanager(d, 'backup', 'auth', 'wal');
        const full = /^== backup (auth-full-\S+)/m.exec((await dbmanager(d, 'backup', 'auth', 'full')).stdout)![1]!;
        // WAL after the backup, so the dry run below has archived segments to check.
        await dbmanager(d, 'backup', 'auth', 'wal');
        return full;
      }),
    );
    const seen = watchers.map((w) => w.stop());
    for (const [i, d] of dirs.entries()) {
      // Only its own cluster's WAL ever passed through its spool; none was set aside as another's.
      expect([...seen[i]!.walWriters], d).toEqual([ids[i]]);
      expect([...seen[i]!.files].filter((f) => f.endsWith('.foreign'))).toEqual([]);
      // Its full backup was staged in its own scratch space, and removed from it once stored.
      expect([...seen[i]!.files].some((f) => f.startsWith(`${backups[i]}/`))).toBe(true);
      expect(existsSync(join(scratch(d), backups[i]!))).toBe(false);
      const log = readFileSync(join(d, 'logs/dbmanager.log'), 'utf8');
      expect(log).toMatch(/auth: archived WAL [0-9A-F]{24}/);
      expect(log).not.toMatch(/set aside|WAL GAP/);
    }
    // Each backup verifies against its own archive: every file, the WAL after it (checksums and the
    // headers' system identifier), and the running server is the same cluster.
    for (const [i, d] of dirs.entries()) {
      const { stdout } = await dbmanager(d, 'restore', 'auth', backups[i]!, '--dry-run');
      expect(stdout).toMatch(new RegExp(`^== dry run of ${backups[i]}: OK, nothing was written`, 'm'));
      expect(stdout).toMatch(new RegExp(`cluster:\\s+system identifier ${ids[i]}$`, 'm'));
      expect(stdout).toMatch(/wal:\s+[0-9A-F]{24} \.\. [0-9A-F]{24} \(\d+ segments, checksums and headers verified\)/);
    }
  }, 300_000);

  it('both stop cleanly: no process left, no port listening, no state', async () => {
    const before = dirs.map(state);
    await Promise.all(dirs.map((d) => cli(d, 'down')));
    for (const [i, s] of before.entries()) {
      for (const p of [...s.processes, s.supervisor!]) expect(isAlive(p), `${dirs[i]}: ${p.name}`).toBe(false);
      for (const [k, port] of Object.entries(s.ports)) expect(await tcpOpen(port), `${k} port ${port}`).toBe(false);
      expect(existsSync(join(dirs[i]!, 'state.json'))).toBe(false);
    }
  }, 180_000);
});
