import { chmod, mkdtemp, readdir, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EngineContext, takeBaseBackup } from '../src/backup/basebackup.js';
import { BackupCatalog } from '../src/backup/catalog.js';
import type { DbTarget } from '../src/backup/pg-tools.js';
import { lineReporter } from '../src/backup/progress.js';
import { applyRestore } from '../src/backup/restore-apply.js';
import { pgCtlControl } from '../src/backup/server-control.js';
import { WalArchiver } from '../src/backup/wal-archive.js';
import { migrateDatabase } from '../src/migrations/index.js';
import { ObjectStore } from '../src/storage/object-store.js';
import { freshDatabase } from './pg-support.js';
import { type PrivatePostgres, pgBin, privatePostgres } from '#test/support/private-servers';
import { provisionBucket } from './s3-support.js';

/**
 * restore --apply against a real PostgreSQL started with pg_ctl: the server's data directory is swapped
 * for a verified restore, the server started and checked, a new full backup taken; and the refusals,
 * each leaving the server as it was.
 */

const runAs = process.getuid?.() === 0 ? 'postgres' : undefined;

describe('restore --apply (real PostgreSQL, real MinIO)', () => {
  let source: PrivatePostgres;
  let other: PrivatePostgres;
  let target: DbTarget;
  let s3: Awaited<ReturnType<typeof provisionBucket>>;
  let opsDb: Awaited<ReturnType<typeof freshDatabase>>;
  let pool: pg.Pool;
  let ctx: EngineContext;
  let archiver: WalArchiver;
  let scratch: string;
  let full = '';
  let targetTime: Date;
  const lines: string[] = [];

  const sql = async (q: string, params: unknown[] = []) => {
    const c = new pg.Client({
      host: '127.0.0.1',
      port: source.port,
      user: 'prism',
      password: source.password,
      database: 'prism_auth',
    });
    await c.connect();
    try {
      return (await c.query(q, params)).rows;
    } finally {
      await c.end();
    }
  };

  beforeAll(async () => {
    [source, other, s3, opsDb] = await Promise.all([
      privatePostgres(),
      privatePostgres(),
      provisionBucket(),
      freshDatabase('ops_apply'),
    ]);
    await migrateDatabase('ops', opsDb.url);
    pool = new pg.Pool({ connectionString: opsDb.url, max: 4 });
    scratch = await mkdtemp(join(tmpdir(), 'prism-scratch-'));
    await chmod(scratch, 0o755);
    const store = new ObjectStore(s3.config);
    ctx = {
      store,
      catalog: new BackupCatalog(pool),
      pgBin: pgBin(),
      scratchDir: scratch,
      report: lineReporter((l) => lines.push(l), '', 0),
    };
    target = {
      id: 'auth',
      host: '127.0.0.1',
      port: source.port,
      user: 'prism',
      password: source.password,
      database: 'prism_auth',
    };
    archiver = new WalArchiver({
      target,
      store,
      catalog: ctx.catalog,
      pgBin: pgBin(),
      spoolDir: join(scratch, 'wal-spool'),
      log: (l) => lines.push(l),
    });
    const admin = new pg.Client({
      host: '127.0.0.1',
      port: source.port,
      user: 'prism',
      password: source.password,
      database: 'postgres',
    });
    await admin.connect();
    await admin.query('CREATE DATABASE prism_auth');
    await admin.end();
    await sql('CREATE TABLE ledger (id int PRIMARY KEY, note text NOT NULL)');
    await sql(`INSERT INTO ledger SELECT g, 'base-' || g FROM generate_series(1, 100) g`);
    full = (await takeBaseBackup(ctx, target, 'full', archiver)).name;
    await sql(`INSERT INTO ledger SELECT g, 'after-' || g FROM generate_series(101, 200) g`);
    await new Promise((r) => setTimeout(r, 1100));
    targetTime = new Date();
    await new Promise((r) => setTimeout(r, 1100));
    // The mistake to undo, archived too.
    await sql('DELETE FROM ledger WHERE id > 50');
    await archiver.archiveOnce();
  }, 180_000);

  afterAll(async () => {
    await archiver?.stop().catch(() => {});
    await pool?.end();
    await Promise.all([source?.dispose(), other?.dispose()]);
    await opsDb?.drop();
    await s3?.cleanup();
    ctx?.store.destroy();
    s3?.root.destroy();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  }, 60_000);

  const siblings = async (pgRoot: string) =>
    (await readdir(pgRoot)).filter((f) => /^data\.(restore|before-restore)-/.test(f));

  it('refuses to replace another cluster, and leaves it running untouched', async () => {
    const otherTarget = { ...target, port: other.port, password: other.password };
    const r = applyRestore(ctx, {
      target: otherTarget,
      name: full,
      control: pgCtlControl(pgBin(), other.dataDir, runAs),
      takeFullBackup: async () => 'never',
    });
    await expect(r).rejects.toThrow(/is cluster \d+, backup .* is of cluster \d+: refusing to replace another cluster/);
    expect(await siblings(other.root)).toEqual([]);
    const c = new pg.Client({ connectionString: other.url() });
    await c.connect();
    await c.end();
  });

  it('refuses a directory that is not the server’s data directory', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'prism-not-data-'));
    await expect(
      applyRestore(ctx, {
        target,
        name: full,
        control: pgCtlControl(pgBin(), empty, runAs),
        takeFullBackup: async () => 'never',
      }),
    ).rejects.toThrow(/is not a PostgreSQL data directory/);
    await rm(empty, { recursive: true });
    expect((await sql('SELECT count(*)::int AS n FROM ledger'))[0].n).toBe(50);
  });

  it('swaps in the verified restore, keeps the old directory, starts and checks the server, takes a new full backup', async () => {
    let newBackup = '';
    const s = await applyRestore(ctx, {
      target,
      name: full,
      targetTime,
      runAs,
      control: pgCtlControl(pgBin(), source.dataDir, runAs),
      takeFullBackup: async () => (newBackup = (await takeBaseBackup(ctx, target, 'full', archiver)).name),
    });
    expect(s).toMatchObject({ dataDir: source.dataDir, newBackup, name: full });
    expect(newBackup).not.toBe('');
    expect(s.replayedTo).toBeDefined();
    // The rows deleted after the target time are back; the server answers on its own port.
    expect(await sql('SELECT count(*)::int AS n, min(note) AS first FROM ledger')).toEqual([
      { n: 200, first: 'after-101' },
    ]);
    expect(existsSync(join(s.previousDir, 'PG_VERSION'))).toBe(true);
    expect(dirname(s.previousDir)).toBe(source.root);
    expect((await siblings(source.root)).filter((f) => f.startsWith('data.restore-'))).toEqual([]);
    const [row] = (await ctx.catalog.list('auth')).filter((r) => r.name === newBackup);
    expect(row).toMatchObject({ status: 'completed', kind: 'full' });
    expect(lines.some((l) => /stopping the server \(pg_ctl on /.test(l))).toBe(true);
  }, 240_000);
});
