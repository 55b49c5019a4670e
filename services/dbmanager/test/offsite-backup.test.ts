import { createHash, randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EngineContext, takeBaseBackup } from '../src/backup/basebackup.js';
import { BackupCatalog } from '../src/backup/catalog.js';
import { keys, parseWalKey } from '../src/backup/layout.js';
import type { DbTarget } from '../src/backup/pg-tools.js';
import { lineReporter } from '../src/backup/progress.js';
import { restoreBackup } from '../src/backup/restore.js';
import { WalArchiver } from '../src/backup/wal-archive.js';
import { migrateDatabase } from '../src/migrations/index.js';
import { MirroredStore } from '../src/storage/mirrored-store.js';
import { ObjectStore, type StorageConfig } from '../src/storage/object-store.js';
import { freshDatabase } from './pg-support.js';
import { type PrivatePostgres, asPostgres, pgBin, privateMinio, privatePostgres } from '#test/support/private-servers';

type Minio = Awaited<ReturnType<typeof privateMinio>>;

/** A bucket on a private MinIO, and the store reaching it. */
async function bucketOn(minio: Minio, bucket: string): Promise<StorageConfig> {
  const config = {
    endpoint: minio.endpoint,
    region: 'us-east-1',
    bucket,
    accessKeyId: minio.rootUser,
    secretAccessKey: minio.rootPassword,
  };
  const s3 = new S3Client({
    endpoint: config.endpoint,
    region: config.region,
    forcePathStyle: true,
    credentials: { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey },
  });
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  s3.destroy();
  return config;
}

/** Every object of a store with the SHA-256 of its content. */
async function contents(store: ObjectStore, prefix = ''): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for await (const o of store.list(prefix))
    out.set(
      o.key,
      createHash('sha256')
        .update(await store.getBuffer(o.key))
        .digest('hex'),
    );
  return out;
}

describe('off-site backups: the cluster and its object store are lost, the off-site copy restores everything (two real MinIO servers)', () => {
  let source: PrivatePostgres;
  let rebuilt: PrivatePostgres | undefined;
  let inCluster: Minio;
  let offsite: Minio;
  let rebuiltStore: Minio | undefined;
  let opsDb: Awaited<ReturnType<typeof freshDatabase>>;
  let pool: pg.Pool;
  let ctx: EngineContext;
  let primary: ObjectStore;
  let remote: ObjectStore;
  let archiver: WalArchiver;
  let target: DbTarget;
  let scratch: string;
  let systemId = '';
  let full = '';
  let dumpBefore = '';
  const lines: string[] = [];

  const client = (p: PrivatePostgres, database: string) =>
    new pg.Client({ host: '127.0.0.1', port: p.port, user: 'prism', password: p.password, database });
  const sql = async (p: PrivatePostgres, q: string, params: unknown[] = [], database = 'prism_auth') => {
    const c = client(p, database);
    await c.connect();
    try {
      return (await c.query(q, params)).rows;
    } finally {
      await c.end();
    }
  };
  const dumpall = (p: PrivatePostgres) =>
    asPostgres('pg_dumpall', [
      '-h',
      '127.0.0.1',
      '-p',
      String(p.port),
      '-U',
      'prism',
      '--no-password',
      '--restrict-key=prismtest',
    ]);
  const engine = (store: EngineContext['store']): EngineContext => ({ ...ctx, store });

  beforeAll(async () => {
    [source, inCluster, offsite, opsDb] = await Promise.all([
      privatePostgres(),
      privateMinio(),
      privateMinio(),
      freshDatabase('ops_offsite'),
    ]);
    process.env.PGPASSWORD = source.password;
    await migrateDatabase('ops', opsDb.url);
    pool = new pg.Pool({ connectionString: opsDb.url, max: 4 });
    scratch = await mkdtemp(join(tmpdir(), 'prism-offsite-'));
    await chmod(scratch, 0o755);
    primary = new ObjectStore(await bucketOn(inCluster, 'prism-backups'));
    remote = new ObjectStore(await bucketOn(offsite, 'prism-offsite'));
    ctx = {
      store: new MirroredStore(primary, remote),
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
      store: ctx.store,
      catalog: ctx.catalog,
      pgBin: pgBin(),
      spoolDir: join(scratch, 'wal-spool'),
      log: (l) => lines.push(l),
    });
    await sql(source, 'CREATE DATABASE prism_auth', [], 'postgres');
    await migrateDatabase('auth', {
      host: '127.0.0.1',
      port: source.port,
      user: 'prism',
      password: source.password,
      database: 'prism_auth',
    });
    await sql(source, 'CREATE TABLE ledger (id int PRIMARY KEY, note text NOT NULL)');
    await sql(source, `INSERT INTO ledger SELECT g, 'base-' || g FROM generate_series(1, 3000) g`);
    systemId = (await sql(source, 'SELECT system_identifier::text AS id FROM pg_control_system()'))[0].id;
  }, 180_000);

  afterAll(async () => {
    await archiver?.stop().catch(() => {});
    await pool?.end();
    await Promise.all(
      [
        source?.dispose(),
        rebuilt?.dispose(),
        inCluster?.dispose(),
        offsite?.dispose(),
        rebuiltStore?.dispose(),
        opsDb?.drop(),
      ].map((p) => p?.catch(() => {}) ?? Promise.resolve()),
    );
    primary?.destroy();
    remote?.destroy();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  }, 60_000);

  it('writes every base backup and WAL segment to both stores, WAL under the system identifier and timeline', async () => {
    full = (await takeBaseBackup(ctx, target, 'full', archiver)).name;
    await sql(source, `INSERT INTO ledger SELECT g, 'after-full-' || g FROM generate_series(3001, 6000) g`);
    await sql(source, `INSERT INTO users (email) VALUES ('after-full@example.com')`);
    expect((await archiver.archiveOnce()).segments.length).toBeGreaterThan(0);
    const [here, there] = await Promise.all([contents(primary), contents(remote)]);
    expect([...there.keys()].sort()).toEqual([...here.keys()].sort());
    expect(there).toEqual(here);
    const wal = [...there.keys()].filter((k) => k.startsWith(keys.walPrefix('auth')));
    expect(wal.length).toBeGreaterThan(1);
    for (const k of wal) expect(parseWalKey('auth', k)).toMatchObject({ systemId, timeline: 1 });
    expect(there.has(keys.meta('auth', full))).toBe(true);
  }, 120_000);

  it('a write the off-site store does not take fails, streamed or not (a backup counts only once both hold it)', async () => {
    const unreachable = new ObjectStore({
      endpoint: 'http://127.0.0.1:9',
      region: 'us-east-1',
      bucket: 'nowhere',
      accessKeyId: 'x',
      secretAccessKey: 'y',
    });
    const mirror = new MirroredStore(primary, unreachable);
    await expect(mirror.checkAccess()).rejects.toThrow(/off-site store: bucket nowhere is not reachable/);
    await expect(mirror.putBuffer('auth/probe', Buffer.from('x'))).rejects.toThrow();
    // The streamed path (base backups) must fail too, not wait forever on the upload that stopped.
    await expect(
      mirror.putStream('auth/probe-stream', Readable.from([randomBytes(4 << 20), randomBytes(4 << 20)])),
    ).rejects.toThrow();
    unreachable.destroy();
    await primary.delete(['auth/probe', 'auth/probe-stream']);
  }, 60_000);

  it('restores from the off-site store once the cluster and the in-cluster store are destroyed: pg_dumpall identical', async () => {
    dumpBefore = await dumpall(source);
    expect(dumpBefore).toContain('after-full-6000');
    // The cluster is lost: the database server with its files, and the in-cluster MinIO with every object.
    await source.stop('immediate');
    await rm(source.dataDir, { recursive: true, force: true });
    await inCluster.dispose();
    await expect(primary.checkAccess()).rejects.toThrow();

    const fromOffsite = engine(remote);
    const dry = await restoreBackup(fromOffsite, { target, name: full, dryRun: true });
    expect(dry.systemIdentifier).toBe(systemId);
    expect(dry.wal.segments).toBeGreaterThan(0);
    const started = Date.now();
    const restored = await restoreBackup(fromOffsite, {
      target,
      name: full,
      dryRun: false,
      targetDir: source.dataDir,
      replayTimeoutMs: 60_000,
    });
    lines.push(`measured: restore from off-site ${((Date.now() - started) / 1000).toFixed(1)} s`);
    expect(restored.verifyBackup).toMatch(/backup successfully verified/);
    await source.start();
    const after = await dumpall(source);
    expect(after).toContain('after-full@example.com');
    expect(after).toBe(dumpBefore);
  }, 180_000);

  it('a rebuilt cluster archives beside the old cluster’s WAL, never over it, and the dry run refuses a segment of another cluster', async () => {
    // A new cluster (new initdb: another system identifier) with a new in-cluster store, and the same off-site store.
    [rebuilt, rebuiltStore] = await Promise.all([privatePostgres(), privateMinio()]);
    const newPrimary = new ObjectStore(await bucketOn(rebuiltStore, 'prism-backups'));
    const mirror = new MirroredStore(newPrimary, remote);
    await sql(rebuilt, 'CREATE DATABASE prism_auth', [], 'postgres');
    const newTarget: DbTarget = { ...target, port: rebuilt.port, password: rebuilt.password };
    const newArchiver = new WalArchiver({
      target: newTarget,
      store: mirror,
      catalog: ctx.catalog,
      pgBin: pgBin(),
      spoolDir: join(scratch, 'wal-spool-rebuilt'),
      log: (l) => lines.push(l),
    });
    const newId = (await sql(rebuilt, 'SELECT system_identifier::text AS id FROM pg_control_system()'))[0].id;
    expect(newId).not.toBe(systemId);

    const old = await contents(remote, keys.walPrefix('auth'));
    const oldNames = new Set([...old.keys()].map((k) => parseWalKey('auth', k)!.file));
    const lastOld = [...oldNames].sort().at(-1)!;
    // Write WAL until the new cluster's segment names reach the old cluster's: the same names.
    await newArchiver.ensureSlot();
    for (let i = 0; i < 40; i++) {
      const [{ seg }] = await sql(rebuilt, `SELECT pg_walfile_name(pg_current_wal_lsn()) AS seg`);
      if (seg > lastOld) break;
      await sql(rebuilt, `SELECT pg_logical_emit_message(false, 'filler', repeat('x', 1000))`);
      await sql(rebuilt, 'SELECT pg_switch_wal()');
    }
    const written = (await newArchiver.archiveOnce()).segments;
    const clash = written.filter((s) => oldNames.has(s));
    expect(clash.length).toBeGreaterThan(0);

    // Every object of the old cluster is still there, unchanged; the new one's sit under its own identifier.
    const now = await contents(remote, keys.walPrefix('auth'));
    for (const [k, sha] of old) expect(now.get(k)).toBe(sha);
    for (const s of written) expect(now.has(keys.wal('auth', newId, s))).toBe(true);

    // The attack the layout prevents, done by hand: a segment of the new cluster under the old one's key.
    const name = clash.at(-1)!;
    const oldKey = keys.wal('auth', systemId, name);
    const original = await remote.getBuffer(oldKey);
    const originalHead = await remote.head(oldKey);
    const foreign = await remote.head(keys.wal('auth', newId, name));
    await remote.putBuffer(oldKey, await remote.getBuffer(keys.wal('auth', newId, name)), foreign!.metadata);
    try {
      await expect(restoreBackup(engine(remote), { target, name: full, dryRun: true })).rejects.toThrow(
        new RegExp(`${name}: written by the cluster with system identifier ${newId}, not ${systemId}`),
      );
    } finally {
      await remote.putBuffer(oldKey, original, originalHead!.metadata);
    }
    await expect(restoreBackup(engine(remote), { target, name: full, dryRun: true })).resolves.toMatchObject({
      systemIdentifier: systemId,
    });
    newPrimary.destroy();
  }, 180_000);
});
