import { createReadStream } from 'node:fs';
import { mkdir, readFile, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import pg from 'pg';
import * as tar from 'tar-stream';
import type { BackupStore } from '../storage/object-store.js';
import type { BackupCatalog } from './catalog.js';
import { type BackupMeta, backupName, keys } from './layout.js';
import { type Manifest, parseManifest } from './manifest.js';
import { type DbTarget, connectionConfig, libpqEnv, run } from './pg-tools.js';
import type { Reporter } from './progress.js';
import type { WalArchiver } from './wal-archive.js';
import { parseLsn, segmentName, segmentNumber } from './wal-names.js';

export interface EngineContext {
  readonly store: BackupStore;
  readonly catalog: BackupCatalog;
  readonly pgBin: string;
  /** Where base backups are staged and restores are verified. */
  readonly scratchDir: string;
  readonly report: Reporter;
}

export interface BaseBackupSummary {
  readonly name: string;
  readonly kind: 'full' | 'delta';
  readonly parent?: string;
  readonly bytesStored: number;
  readonly databaseBytes: number;
  readonly filesTotal: number;
  readonly filesStored: number;
  readonly walStart: string;
  readonly walEnd: string;
  readonly durationMs: number;
}

async function listTree(root: string, rel = ''): Promise<Array<{ path: string; dir: boolean }>> {
  const out: Array<{ path: string; dir: boolean }> = [];
  for (const e of (await readdir(join(root, rel), { withFileTypes: true })).sort((a, b) =>
    a.name.localeCompare(b.name),
  )) {
    const path = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) {
      out.push({ path, dir: true });
      out.push(...(await listTree(root, path)));
    } else if (e.isFile()) out.push({ path, dir: false });
  }
  return out;
}

async function serverFacts(target: DbTarget): Promise<{ version: string; systemId: string; databaseBytes: number }> {
  const c = new pg.Client(connectionConfig(target));
  await c.connect();
  try {
    const { rows } = await c.query<{ v: string; id: string; bytes: string }>(
      `SELECT current_setting('server_version') AS v, (SELECT system_identifier::text FROM pg_control_system()) AS id,
              (SELECT sum(pg_database_size(oid))::bigint::text FROM pg_database) AS bytes`,
    );
    return { version: rows[0]!.v, systemId: rows[0]!.id, databaseBytes: Number(rows[0]!.bytes) };
  } finally {
    await c.end();
  }
}

/** Reads a stored backup's metadata and checks the object it came from is intact. */
export async function readMeta(store: BackupStore, db: DbTarget['id'], name: string): Promise<BackupMeta> {
  const raw = await store.getBuffer(keys.meta(db, name)).catch((e: Error) => {
    throw new Error(`backup ${name} of ${db} was not found in bucket ${store.bucket} (${e.message})`);
  });
  const meta = JSON.parse(raw.toString('utf8')) as BackupMeta;
  if (meta.format !== 1 || meta.name !== name || meta.db !== db)
    throw new Error(`${keys.meta(db, name)} does not describe backup ${name} of ${db}`);
  return meta;
}

/**
 * Takes a base backup with pg_basebackup (plain format, WAL streamed alongside, SHA-256 manifest),
 * checks it with pg_verifybackup before anything is uploaded, and stores it. A `delta` stores only
 * the files whose size or SHA-256 differ from its parent's manifest: PostgreSQL 15/16 have no
 * incremental pg_basebackup, and WAL-G reads the data directory on the server's own host, which the
 * DB manager (its own pod) cannot. The delta's manifest still lists every file, so a restore of
 * the chain is checked file by file against it.
 */
export async function takeBaseBackup(
  ctx: EngineContext,
  target: DbTarget,
  kind: 'full' | 'delta',
  archiver: WalArchiver,
): Promise<BaseBackupSummary> {
  const started = new Date();
  const name = backupName(target.id, kind, started);
  const log = ctx.report.child(name);
  let parentMeta: BackupMeta | undefined;
  let parentManifest: Manifest | undefined;
  if (kind === 'delta') {
    const parent = await ctx.catalog.latestBase(target.id);
    if (!parent) throw new Error(`no completed backup of ${target.id} to take a delta from: take a full backup first`);
    parentMeta = await readMeta(ctx.store, target.id, parent.name);
    parentManifest = parseManifest(await ctx.store.getBuffer(keys.manifest(target.id, parent.name)));
  }
  const facts = await serverFacts(target);
  if (parentMeta && parentMeta.systemIdentifier !== facts.systemId) {
    throw new Error(
      `the latest backup ${parentMeta.name} is of another cluster (system identifier ${parentMeta.systemIdentifier}, now ${facts.systemId}): take a full backup`,
    );
  }
  // WAL from this backup on must reach the archive: the slot holds it on the server until received.
  await archiver.ensureSlot();
  await ctx.catalog.begin({
    name,
    db: target.id,
    kind,
    ...(parentMeta ? { parent: parentMeta.name } : {}),
    startedAt: started,
    storagePrefix: keys.base(target.id, name),
  });
  const dir = join(ctx.scratchDir, name);
  try {
    await mkdir(ctx.scratchDir, { recursive: true });
    log.phase('pg_basebackup', `${target.host}:${target.port}`);
    await run(
      join(ctx.pgBin, 'pg_basebackup'),
      [
        '-D',
        dir,
        '-Fp',
        '-X',
        'stream',
        '-c',
        'fast',
        '--manifest-checksums=SHA256',
        '--no-sync',
        '--progress',
        '--no-password',
        `--label=${name}`,
      ],
      {
        env: libpqEnv(target),
        onStderr: (s) => {
          const m = /(\d+)\/(\d+) kB/.exec(s);
          if (m) log.progress('pg_basebackup', Number(m[1]) * 1024, Number(m[2]) * 1024);
        },
      },
    );
    log.phase('pg_verifybackup', 'checking the staged copy before upload');
    await run(join(ctx.pgBin, 'pg_verifybackup'), ['--quiet', dir]);
    const manifestRaw = await readFile(join(dir, 'backup_manifest'));
    const manifest = parseManifest(manifestRaw);
    const wal = manifest.walRanges[manifest.walRanges.length - 1]!;
    const segSize = await archiver.segmentSize();
    const walStart = segmentName(
      wal.timeline,
      segmentNumber(parseLsn(manifest.walRanges[0]!.startLsn), segSize),
      segSize,
    );
    const walEnd = segmentName(wal.timeline, segmentNumber(parseLsn(wal.endLsn), segSize), segSize);

    // Which files to store: all of them, or for a delta those not identical in the parent.
    const tree = (await listTree(dir)).filter((e) => e.path !== 'backup_manifest');
    const changed = (path: string): boolean => {
      if (!parentManifest || path.startsWith('pg_wal/')) return true;
      const now = manifest.files.get(path);
      const before = parentManifest.files.get(path);
      return !now || !before || now.size !== before.size || now.checksum !== before.checksum;
    };
    const toStore = tree.filter((e) => e.dir || changed(e.path));
    let total = 0;
    for (const e of toStore) if (!e.dir) total += (await stat(join(dir, e.path))).size;

    log.phase('upload', `${toStore.filter((e) => !e.dir).length} of ${tree.filter((e) => !e.dir).length} files`);
    const pack = tar.pack();
    const gz = createGzip({ level: 3 });
    const uploading = ctx.store.putStream(keys.data(target.id, name), gz, (sent) =>
      log.progress('upload (compressed)', sent),
    );
    const feeding = (async () => {
      let read = 0;
      for (const e of toStore) {
        if (e.dir) {
          pack.entry({ name: e.path, type: 'directory', mode: 0o700 });
          continue;
        }
        const size = (await stat(join(dir, e.path))).size;
        await new Promise<void>((resolve, reject) => {
          const entry = pack.entry({ name: e.path, size, mode: 0o600 }, (err) => (err ? reject(err) : resolve()));
          pipeline(createReadStream(join(dir, e.path)), entry).catch(reject);
        });
        read += size;
        log.progress('read', read, total);
      }
      pack.finalize();
    })();
    const [data] = await Promise.all([uploading, pipeline(pack, gz), feeding]);
    const man = await ctx.store.putBuffer(keys.manifest(target.id, name), manifestRaw);

    const filesTotal = manifest.files.size;
    const filesStored = toStore.filter((e) => !e.dir && manifest.files.has(e.path)).length;
    const meta: BackupMeta = {
      format: 1,
      name,
      db: target.id,
      kind,
      ...(parentMeta ? { parent: parentMeta.name } : {}),
      startedAt: started.toISOString(),
      finishedAt: new Date().toISOString(),
      timeline: wal.timeline,
      startLsn: manifest.walRanges[0]!.startLsn,
      endLsn: wal.endLsn,
      walStart,
      walEnd,
      walSegmentSize: segSize,
      serverVersion: facts.version,
      systemIdentifier: facts.systemId,
      databaseBytes: facts.databaseBytes,
      files: { total: filesTotal, stored: filesStored, bytesStored: total },
      objects: {
        [keys.data(target.id, name)]: { sha256: data.sha256, size: data.size },
        [keys.manifest(target.id, name)]: { sha256: man.sha256, size: man.size },
      },
    };
    // The metadata object is written last: a backup without it is incomplete and never restored.
    await ctx.store.putBuffer(keys.meta(target.id, name), Buffer.from(`${JSON.stringify(meta, null, 2)}\n`));
    const bytesStored = data.size + man.size;
    await ctx.catalog.complete(name, {
      sizeBytes: bytesStored,
      databaseBytes: facts.databaseBytes,
      timeline: wal.timeline,
      startLsn: meta.startLsn,
      endLsn: meta.endLsn,
      walStart,
      walEnd,
      checksums: Object.fromEntries(Object.entries(meta.objects).map(([k, v]) => [k, v.sha256])),
      filesTotal,
      filesStored,
    });
    const summary: BaseBackupSummary = {
      name,
      kind,
      ...(parentMeta ? { parent: parentMeta.name } : {}),
      bytesStored,
      databaseBytes: facts.databaseBytes,
      filesTotal,
      filesStored,
      walStart,
      walEnd,
      durationMs: Date.now() - started.getTime(),
    };
    return summary;
  } catch (e) {
    await ctx.catalog.fail(name, (e as Error).message).catch(() => {});
    throw e;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
