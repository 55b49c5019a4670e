import { createHash } from 'node:crypto';
import { chmod, mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EngineContext, takeBaseBackup } from '../src/backup/basebackup.js';
import { BackupCatalog } from '../src/backup/catalog.js';
import { keys, parseWalKey } from '../src/backup/layout.js';
import type { DbTarget } from '../src/backup/pg-tools.js';
import { lineReporter } from '../src/backup/progress.js';
import { restoreBackup } from '../src/backup/restore.js';
import { pruneBackups } from '../src/backup/retention.js';
import { WalArchiver } from '../src/backup/wal-archive.js';
import { migrateDatabase } from '../src/migrations/index.js';
import { ObjectStore, StorageError } from '../src/storage/object-store.js';
import { PG_ROLES } from '#contract';
import { freshDatabase } from './pg-support.js';
import { type PrivatePostgres, asPostgres, pgBin, privatePostgres } from '#test/support/private-servers';
import { provisionBucket } from './s3-support.js';

/** sha256 of every file (path and content) under a directory. */
async function treeDigest(dir: string): Promise<string> {
  const h = createHash('sha256');
  const walk = async (rel: string) => {
    for (const e of (await readdir(join(dir, rel), { withFileTypes: true })).sort((a, b) =>
      a.name.localeCompare(b.name),
    )) {
      const p = join(rel, e.name);
      const s = await stat(join(dir, p));
      h.update(`${p}\0${s.mode}\0${s.mtimeMs}\0`);
      if (e.isDirectory()) await walk(p);
      else h.update(await readFile(join(dir, p)));
    }
  };
  await walk('');
  return h.digest('hex');
}

describe('backups to S3 and verified restores (real PostgreSQL, real MinIO)', () => {
  let source: PrivatePostgres;
  let target: DbTarget;
  let s3: Awaited<ReturnType<typeof provisionBucket>>;
  let opsDb: Awaited<ReturnType<typeof freshDatabase>>;
  let pool: pg.Pool;
  let ctx: EngineContext;
  let archiver: WalArchiver;
  let scratch: string;
  const lines: string[] = [];
  let full = '';
  let delta = '';
  let targetTime: Date;
  let dumpBefore = '';

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
  const addRows = (from: number, to: number, note: string) =>
    sql(`INSERT INTO ledger SELECT g, $1 || g FROM generate_series($2::int, $3::int) g`, [note, from, to]);
  const dumpall = (port: number) =>
    asPostgres('pg_dumpall', [
      '-h',
      '127.0.0.1',
      '-p',
      String(port),
      '-U',
      'prism',
      '--no-password',
      '--restrict-key=prismtest',
    ]);

  beforeAll(async () => {
    [source, s3, opsDb] = await Promise.all([privatePostgres(), provisionBucket(), freshDatabase('ops_catalog')]);
    process.env.PGPASSWORD = source.password; // for the pg_dumpall calls of the test itself
    await migrateDatabase('ops', opsDb.url);
    pool = new pg.Pool({ connectionString: opsDb.url, max: 4 });
    scratch = await mkdtemp(join(tmpdir(), 'prism-scratch-'));
    await chmod(scratch, 0o755); // the verification server runs as postgres
    const store = new ObjectStore(s3.config);
    ctx = {
      store,
      catalog: new BackupCatalog(pool),
      pgBin: pgBin(),
      scratchDir: scratch,
      report: lineReporter(
        (l) => {
          lines.push(l);
          if (process.env.DEBUG_BACKUP) console.error(new Date().toISOString(), l);
        },
        '',
        0,
      ),
    };
    // Backups as the contract's backup role (replication, no table rights), as the jobs run them.
    target = {
      id: 'auth',
      host: '127.0.0.1',
      port: source.port,
      user: PG_ROLES.auth_backup.name,
      password: 'pw-auth-backup',
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
    await migrateDatabase(
      'auth',
      { host: '127.0.0.1', port: source.port, user: 'prism', password: source.password, database: 'prism_auth' },
      { roles: { db: 'auth', password: (id) => (id === 'auth_backup' ? target.password : `pw-${id}`) } },
    );
    // No sequences in the compared data: PostgreSQL WAL-logs sequences 32 values ahead, so a
    // replayed sequence may legitimately stand higher than on the server it came from.
    await sql('CREATE TABLE ledger (id int PRIMARY KEY, note text NOT NULL)');
    await sql(
      `INSERT INTO users (email, password_hash) VALUES ('before-full@example.com', '$argon2id$v=19$m=19456,t=2,p=1$x$y')`,
    );
    await addRows(1, 2000, 'base-');
  }, 120_000);

  afterAll(async () => {
    await archiver?.stop().catch(() => {});
    await pool?.end();
    await source?.dispose();
    await opsDb?.drop();
    await s3?.cleanup();
    ctx?.store.destroy();
    s3?.root.destroy();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  }, 60_000);

  it('the backup user reaches its bucket only', async () => {
    const own = new ObjectStore(s3.config);
    await own.checkAccess();
    const other = new ObjectStore({ ...s3.config, bucket: s3.otherBucket });
    await expect(other.checkAccess()).rejects.toThrow(StorageError);
    await expect(other.checkAccess()).rejects.toThrow(/is not reachable with these credentials \(403\)/);
    await expect(other.putBuffer('x', Buffer.from('x'))).rejects.toThrow(/Access Denied/i);
    own.destroy();
    other.destroy();
  });

  it('takes a full backup, verified by pg_verifybackup before upload, and records it', async () => {
    const summary = await takeBaseBackup(ctx, target, 'full', archiver);
    full = summary.name;
    expect(summary).toMatchObject({ kind: 'full', filesStored: summary.filesTotal });
    expect(summary.filesTotal).toBeGreaterThan(500);
    expect(summary.walStart).toMatch(/^[0-9A-F]{24}$/);
    const [row] = (await ctx.catalog.list('auth')).filter((r) => r.name === full);
    expect(row).toMatchObject({
      status: 'completed',
      kind: 'full',
      wal_start: summary.walStart,
      wal_end: summary.walEnd,
    });
    expect(Number(row!.size_bytes)).toBe(summary.bytesStored);
    expect(lines.some((l) => /pg_basebackup: .*\(\d+%\)/.test(l))).toBe(true);
    expect(await ctx.store.head(keys.meta('auth', full))).toBeDefined();
  });

  it('archives WAL continuously while rows are written, then on demand', async () => {
    await archiver.start();
    await addRows(2001, 4000, 'during-archiving-');
    await sql(`INSERT INTO users (email) VALUES ('after-full@example.com')`);
    await new Promise((r) => setTimeout(r, 1100));
    targetTime = new Date();
    await new Promise((r) => setTimeout(r, 1100));
    await addRows(4001, 5000, 'after-target-time-');
    // With the continuous archiver holding the slot, a WAL "backup" waits for it to store everything.
    const waited = await archiver.archiveOnce();
    expect(waited.segments).toEqual([]);
    await archiver.stop();
    const segments = await ctx.catalog.list('auth');
    expect(segments.length).toBeGreaterThan(0);
    const wal = [];
    for await (const o of ctx.store.list(keys.walPrefix('auth'))) wal.push(o.key);
    expect(wal.length).toBeGreaterThanOrEqual(2);
  });

  it('takes a delta that stores only the changed files', async () => {
    const summary = await takeBaseBackup(ctx, target, 'delta', archiver);
    delta = summary.name;
    expect(summary.parent).toBe(full);
    expect(summary.filesStored).toBeGreaterThan(0);
    expect(summary.filesStored).toBeLessThan(summary.filesTotal / 4);
    // Written after the delta: only WAL replay can bring these back.
    await addRows(5001, 6000, 'after-delta-');
    await sql(`INSERT INTO users (email) VALUES ('after-delta@example.com')`);
    const once = await archiver.archiveOnce(); // no continuous archiver now: it receives itself
    expect(once.segments.length).toBeGreaterThan(0);
  });

  it('a dry run verifies everything against object storage and leaves the target untouched', async () => {
    dumpBefore = await dumpall(source.port);
    expect(dumpBefore).toContain('after-delta-6000');
    await source.stop();
    const before = await treeDigest(source.dataDir);
    const summary = await restoreBackup(ctx, { target, name: delta, dryRun: true, targetDir: source.dataDir });
    expect(await treeDigest(source.dataDir)).toBe(before);
    expect(summary).toMatchObject({ dryRun: true, chain: [delta, full] });
    expect(summary.filesVerified).toBeGreaterThan(500);
    expect(summary.wal.segments).toBeGreaterThan(0);
    const [v] = (await pool.query(`SELECT mode, ok FROM backup_verifications WHERE backup_name = $1`, [delta])).rows;
    expect(v).toEqual({ mode: 'dry-run', ok: true });
  });

  it('restores the delta chain into a fresh data directory after the old one is destroyed, with every row', async () => {
    await rm(source.dataDir, { recursive: true, force: true });
    const summary = await restoreBackup(ctx, {
      target,
      name: delta,
      dryRun: false,
      targetDir: source.dataDir,
      replayTimeoutMs: 20_000,
    });
    expect(summary.verifyBackup).toMatch(/backup successfully verified/);
    expect(summary.databases).toContain('prism_auth');
    expect(summary.dumpBytes).toBeGreaterThan(10_000);
    // The restored directory is a working cluster: start it as the server and compare everything.
    await source.start();
    const after = await dumpall(source.port);
    expect(after).toContain('after-delta-6000');
    expect(after).toContain('after-delta@example.com');
    expect(after).toBe(dumpBefore);
    expect(lines.some((l) => /WAL replayed: /.test(l))).toBe(true);
  }, 120_000);

  it('restores the full backup to a point in time between two batches', async () => {
    const dir = join(scratch, 'pitr');
    const summary = await restoreBackup(ctx, {
      target,
      name: full,
      dryRun: false,
      targetDir: dir,
      targetTime,
      replayTimeoutMs: 20_000,
    });
    expect(summary.targetTime).toBe(targetTime.toISOString());
    const port = source.port + 1;
    await asPostgres('pg_ctl', [
      '-D',
      dir,
      '-l',
      join(dir, 'startup.log'),
      '-w',
      '-o',
      `-h 127.0.0.1 -p ${port} -k ${dir}`,
      'start',
    ]);
    try {
      const c = new pg.Client({
        host: '127.0.0.1',
        port,
        user: 'prism',
        password: source.password,
        database: 'prism_auth',
      });
      await c.connect();
      const { rows } = await c.query(`SELECT count(*)::int AS n, max(id) AS last FROM ledger`);
      const users = (await c.query(`SELECT email FROM users ORDER BY email`)).rows.map((r) => r.email);
      await c.end();
      expect(rows[0]).toEqual({ n: 4000, last: 4000 });
      expect(users).toEqual(['after-full@example.com', 'before-full@example.com']);
    } finally {
      await asPostgres('pg_ctl', ['-D', dir, '-m', 'fast', '-w', 'stop']);
    }
  }, 120_000);

  it('a real restore refuses a data directory that is not empty', async () => {
    await expect(restoreBackup(ctx, { target, name: full, dryRun: false, targetDir: source.dataDir })).rejects.toThrow(
      /a restore writes into a fresh data directory; .* is not empty/,
    );
  });

  it('the dry run detects a corrupted base backup object and a corrupted WAL segment', async () => {
    const dataKey = keys.data('auth', full);
    const original = await s3.root.getBuffer(dataKey);
    const damaged = Buffer.from(original);
    damaged[Math.floor(damaged.length / 2)]! ^= 0xff;
    await s3.root.putBuffer(dataKey, damaged);
    await expect(restoreBackup(ctx, { target, name: full, dryRun: true })).rejects.toThrow(
      /object auth\/base\/.*\/data\.tar\.gz (is corrupt|cannot be read back)|file .* from backup auth-full-\S+ does not match the manifest/,
    );
    await s3.root.putBuffer(dataKey, original);

    const walKeys: string[] = [];
    for await (const o of ctx.store.list(keys.walPrefix('auth'))) walKeys.push(o.key);
    const walKey = walKeys.sort().at(-1)!;
    const head = await s3.root.head(walKey);
    const wal = await s3.root.getBuffer(walKey);
    const { gunzipSync, gzipSync } = await import('node:zlib');
    const content = gunzipSync(wal);
    content[100_000]! ^= 0x01; // one bit, inside a valid gzip stream: only the content hash can tell
    await s3.root.putBuffer(walKey, gzipSync(content), { sha256: head!.metadata.sha256! });
    await expect(restoreBackup(ctx, { target, name: full, dryRun: true })).rejects.toThrow(
      /WAL object auth\/wal\/\d+\/[0-9A-F]{8}\/[0-9A-F]{24}\.gz is corrupt: sha256/,
    );
    await s3.root.putBuffer(walKey, wal, head!.metadata);

    // A missing segment in the middle is a gap, reported as such.
    const middle = walKeys.sort()[Math.floor(walKeys.length / 2)]!;
    const kept = await s3.root.getBuffer(middle);
    const keptHead = await s3.root.head(middle);
    await s3.root.delete([middle]);
    await expect(restoreBackup(ctx, { target, name: full, dryRun: true })).rejects.toThrow(
      /has a gap: segment [0-9A-F]{24} is missing/,
    );
    await s3.root.putBuffer(middle, kept, keptHead!.metadata);
    await expect(restoreBackup(ctx, { target, name: full, dryRun: true })).resolves.toMatchObject({ dryRun: true });
    const failures = (
      await pool.query(`SELECT count(*)::int AS n FROM backup_verifications WHERE NOT ok AND error IS NOT NULL`)
    ).rows[0].n;
    expect(failures).toBeGreaterThanOrEqual(3);
  });

  it('retention expires old backups but keeps the newest chain and the WAL it needs', async () => {
    await source.start().catch(() => {}); // running already after the restore test
    const newer = await takeBaseBackup(ctx, target, 'full', archiver);
    const future = new Date(Date.now() + 30 * 24 * 3600 * 1000);
    // Within the period nothing goes.
    expect((await pruneBackups(ctx, 'auth', 14)).expired).toEqual([]);
    const result = await pruneBackups(ctx, 'auth', 14, future);
    expect(result.expired).toEqual([full, delta]);
    expect(result.kept).toEqual([newer.name]);
    expect(result.walDeleted).toBeGreaterThan(0);
    expect(await ctx.store.head(keys.meta('auth', full))).toBeUndefined();
    const statuses = Object.fromEntries((await ctx.catalog.list('auth')).map((r) => [r.name, r.status]));
    expect(statuses).toMatchObject({ [full]: 'expired', [delta]: 'expired', [newer.name]: 'completed' });
    for await (const o of ctx.store.list(keys.walPrefix('auth')))
      expect(parseWalKey('auth', o.key)!.file >= newer.walStart).toBe(true);
    await expect(restoreBackup(ctx, { target, name: newer.name, dryRun: true })).resolves.toMatchObject({
      dryRun: true,
    });
  });
  it('an archiver starting after segments were lost before upload reports the gap', async () => {
    await addRows(6001, 7000, 'after-newer-full-');
    expect((await archiver.archiveOnce()).segments.length).toBeGreaterThan(0);
    const walKeys: string[] = [];
    for await (const o of ctx.store.list(keys.walPrefix('auth'))) walKeys.push(o.key);
    const lastKey = walKeys.sort().at(-1)!;
    const body = await s3.root.getBuffer(lastKey);
    const head = await s3.root.head(lastKey);
    await s3.root.delete([lastKey]);
    // As if received segments had been lost with the spool: the slot has moved on past them.
    await sql('SELECT pg_switch_wal()');
    await sql(`SELECT pg_replication_slot_advance('prism_wal_archive', pg_current_wal_lsn())`);
    const said: string[] = [];
    const probe = new WalArchiver({
      target,
      store: ctx.store,
      catalog: ctx.catalog,
      pgBin: pgBin(),
      spoolDir: join(scratch, 'wal-spool'),
      log: (l) => said.push(l),
    });
    try {
      await probe.start();
    } finally {
      await probe.stop();
      await s3.root.putBuffer(lastKey, body, head!.metadata);
    }
    expect(said.join('\n')).toMatch(
      /WAL GAP: the archive ends at segment [0-9A-F]{24} but the slot resumes at [0-9A-F]{24}; .*Take a full backup now/,
    );
  });
});
