import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { type Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { createGunzip, gunzip } from 'node:zlib';
import pg from 'pg';
import * as tar from 'tar-stream';
import type { DatabaseId } from '#contract';
import type { BackupStore } from '../storage/object-store.js';
import { type EngineContext, readMeta } from './basebackup.js';
import type { BackupMeta } from './layout.js';
import { keys } from './layout.js';
import { type Manifest, parseManifest } from './manifest.js';
import { type DbTarget, connectionConfig, run, runCounting } from './pg-tools.js';
import type { Reporter } from './progress.js';
import { checkSegmentHeader, formatLsn, parseLsn, parseSegmentName, segmentName } from './wal-names.js';

const gunzipAsync = promisify(gunzip);

export interface RestoreOptions {
  readonly target: DbTarget;
  readonly name: string;
  /** Verify against object storage only; write nothing anywhere. */
  readonly dryRun: boolean;
  /** Replay WAL up to this time; default: to the end of the archived WAL. */
  readonly targetTime?: Date;
  /** A fresh (missing or empty) data directory. Required unless dryRun. */
  readonly targetDir?: string;
  /** OS user that runs the verification server when we are root (PostgreSQL refuses root). */
  readonly runAs?: string;
  /** How the verification is recorded in the catalog. @default restore, or dry-run */
  readonly mode?: 'restore' | 'scheduled';
  /** How long WAL replay may take. @default 10 minutes */
  readonly replayTimeoutMs?: number;
}

export interface RestoreSummary {
  readonly name: string;
  readonly db: DatabaseId;
  readonly dryRun: boolean;
  readonly chain: readonly string[];
  /** The cluster the backup (and every WAL segment replayed) comes from. */
  readonly systemIdentifier: string;
  /** The running server's, when the dry run could ask it: another value means it is another cluster. */
  readonly serverSystemIdentifier?: string;
  readonly filesVerified: number;
  readonly bytesVerified: number;
  readonly wal: { readonly first?: string; readonly last?: string; readonly segments: number; readonly lastArchivedAt?: string };
  readonly targetTime?: string;
  readonly targetDir?: string;
  /** The output of pg_verifybackup on the restored files (real restores). */
  readonly verifyBackup?: string;
  readonly replayedTo?: string;
  readonly recoveryEndedAt?: string;
  readonly databases?: readonly string[];
  readonly dumpBytes?: number;
  readonly durationMs: number;
}

class RestoreError extends Error {
  override readonly name = 'RestoreError';
}

/** Where the files of a verified chain go: nowhere (dry run) or a data directory. */
interface Sink {
  dir(path: string): Promise<void>;
  file(path: string, content: Readable): Promise<void>;
}

const hashOnly: Sink = {
  dir: async () => {},
  file: async (_p, content) => {
    content.resume();
    await new Promise((r, j) => content.on('end', r).on('error', j));
  },
};

function dirSink(root: string): Sink {
  const inside = (p: string) => {
    const full = resolve(root, p);
    if (!full.startsWith(`${resolve(root)}/`)) throw new RestoreError(`refusing archive entry outside the target: ${p}`);
    return full;
  };
  return {
    dir: async (p) => {
      await mkdir(inside(p), { recursive: true, mode: 0o700 });
    },
    file: async (p, content) => {
      const full = inside(p);
      await mkdir(dirname(full), { recursive: true, mode: 0o700 });
      await pipeline(content, createWriteStream(full, { mode: 0o600 }));
    },
  };
}

/** The backups a restore of `name` needs, newest first, ending at a full. */
async function resolveChain(store: BackupStore, db: DatabaseId, name: string): Promise<BackupMeta[]> {
  const chain: BackupMeta[] = [];
  let next: string | undefined = name;
  while (next) {
    const meta = await readMeta(store, db, next);
    if (chain[0] && meta.systemIdentifier !== chain[0].systemIdentifier) throw new RestoreError(`backup ${meta.name} is of another cluster than ${chain[0].name}`);
    chain.push(meta);
    next = meta.kind === 'delta' ? meta.parent : undefined;
    if (chain.length > 1000) throw new RestoreError(`the chain of ${name} does not end at a full backup`);
  }
  return chain;
}

function hashingTap(onDone: (sha: string, size: number) => void): Transform {
  const h = createHash('sha256');
  let size = 0;
  return new Transform({
    transform(chunk: Buffer, _e, cb) {
      h.update(chunk);
      size += chunk.length;
      cb(null, chunk);
    },
    flush(cb) {
      onDone(h.digest('hex'), size);
      cb();
    },
  });
}

/**
 * Walks the chain newest first. Every file of the named backup's manifest is taken from the newest
 * backup that stored it and must match the manifest's size and SHA-256; each stored object must
 * match the SHA-256 recorded when it was written. Directories and pg_wal come from the newest.
 */
async function walkChain(ctx: EngineContext, chain: BackupMeta[], sink: Sink, report: Reporter): Promise<{ files: number; bytes: number }> {
  const store = ctx.store;
  const db = chain[0]!.db;
  const manifests: Manifest[] = [];
  for (const link of chain) {
    const key = keys.manifest(db, link.name);
    const raw = await store.getBuffer(key);
    const sha = createHash('sha256').update(raw).digest('hex');
    if (sha !== link.objects[key]?.sha256) throw new RestoreError(`object ${key} is corrupt: sha256 ${sha.slice(0, 16)}…, recorded ${link.objects[key]?.sha256.slice(0, 16)}…`);
    manifests.push(parseManifest(raw));
  }
  const wanted = manifests[0]!.files;
  const satisfied = new Set<string>();
  let bytes = 0;
  let total = 0;
  for (const f of wanted.values()) total += f.size;
  for (const [i, link] of chain.entries()) {
    const key = keys.data(db, link.name);
    const newest = i === 0;
    let objectSha = '';
    const extract = tar.extract();
    extract.on('entry', (header, entry, next) => {
      const stream = entry as unknown as Readable;
      const path = header.name.replace(/\/$/, '');
      const done = (p: Promise<void>) =>
        p.then(
          () => next(),
          (e: Error) => next(e),
        );
      if (header.type === 'directory') {
        stream.resume();
        return done(newest ? sink.dir(path) : Promise.resolve());
      }
      if (path.startsWith('pg_wal/')) return done(newest ? sink.file(path, stream) : hashOnly.file(path, stream));
      const expected = wanted.get(path);
      if (!expected || satisfied.has(path)) return done(hashOnly.file(path, stream));
      let got = { sha: '', size: 0 };
      const tap = hashingTap((sha, size) => (got = { sha, size }));
      void done(
        sink.file(path, stream.pipe(tap)).then(() => {
          if (got.sha !== expected.checksum || got.size !== expected.size) {
            throw new RestoreError(
              `file ${path} from backup ${link.name} does not match the manifest of ${chain[0]!.name}: sha256 ${got.sha.slice(0, 16)}…, expected ${expected.checksum.slice(0, 16)}…`,
            );
          }
          satisfied.add(path);
          bytes += got.size;
          report.progress('files verified', bytes, total);
        }),
      );
    });
    try {
      await pipeline(
        await store.getStream(key),
        hashingTap((sha) => (objectSha = sha)),
        createGunzip(),
        extract,
      );
    } catch (e) {
      if (e instanceof RestoreError) throw e;
      throw new RestoreError(`object ${key} cannot be read back (${(e as Error).message}); it is corrupt or truncated`);
    }
    if (objectSha !== link.objects[key]?.sha256) throw new RestoreError(`object ${key} is corrupt: sha256 ${objectSha.slice(0, 16)}…, recorded ${link.objects[key]?.sha256.slice(0, 16)}…`);
  }
  const missing = [...wanted.keys()].filter((p) => !satisfied.has(p));
  if (missing.length) throw new RestoreError(`${missing.length} file(s) of the manifest of ${chain[0]!.name} are in no backup of its chain; first: ${missing[0]}`);
  return { files: satisfied.size, bytes };
}

interface WalPlan {
  readonly segments: string[];
  readonly lastArchivedAt?: Date;
}

/**
 * WAL needed after the backup: every archived segment of its timeline from the one holding the
 * backup's end, without a gap. With a target time, the archive must reach past it.
 */
async function planWal(store: BackupStore, meta: BackupMeta, targetTime: Date | undefined): Promise<WalPlan> {
  const seg = meta.walSegmentSize;
  const first = parseSegmentName(meta.walEnd, seg).segno;
  const archived = new Map<bigint, Date>();
  // Only the backup's own cluster and timeline: another cluster's segments of the same names live
  // under another system identifier.
  const prefix = keys.walTimeline(meta.db, meta.systemIdentifier, meta.timeline);
  for await (const o of store.list(prefix)) {
    const file = o.key.slice(prefix.length).replace(/\.gz$/, '');
    if (!/^[0-9A-F]{24}$/.test(file)) continue;
    const { timeline, segno } = parseSegmentName(file, seg);
    if (timeline === meta.timeline && segno >= first) archived.set(segno, o.lastModified);
  }
  const segments: string[] = [];
  let lastAt: Date | undefined;
  let n = first;
  while (archived.has(n)) {
    segments.push(segmentName(meta.timeline, n, seg));
    lastAt = archived.get(n);
    n++;
  }
  const beyond = [...archived.keys()].filter((s) => s > n);
  if (beyond.length) {
    throw new RestoreError(`the WAL archive of ${meta.db} has a gap: segment ${segmentName(meta.timeline, n, seg)} is missing, so ${beyond.length} later segment(s) cannot be replayed`);
  }
  if (targetTime) {
    if (targetTime.getTime() < Date.parse(meta.startedAt)) {
      throw new RestoreError(`target time ${targetTime.toISOString()} is before backup ${meta.name} started (${meta.startedAt}); choose an older backup`);
    }
    if (!lastAt || lastAt < targetTime) {
      throw new RestoreError(
        `the WAL archive of ${meta.db} ends ${lastAt ? `with ${segments.at(-1)} (archived ${lastAt.toISOString()})` : 'at the backup'}, before the target time ${targetTime.toISOString()}: archive WAL first (backup.sh ${meta.db} wal)`,
      );
    }
  }
  return { segments, ...(lastAt ? { lastArchivedAt: lastAt } : {}) };
}

/** Downloads each planned segment, checks its content hash and page header; writes it when asked. */
async function fetchWal(store: BackupStore, meta: BackupMeta, plan: WalPlan, spool: string | undefined, report: Reporter): Promise<void> {
  let i = 0;
  for (const s of plan.segments) {
    const key = keys.wal(meta.db, meta.systemIdentifier, s);
    const head = await store.head(key);
    if (!head?.metadata.sha256) throw new RestoreError(`WAL object ${key} has no recorded sha256; it was not written by the DB manager`);
    let content: Buffer;
    try {
      content = await gunzipAsync(await store.getBuffer(key));
    } catch (e) {
      throw new RestoreError(`WAL object ${key} cannot be read back (${(e as Error).message}); it is corrupt or truncated`);
    }
    const sha = createHash('sha256').update(content).digest('hex');
    if (sha !== head.metadata.sha256) throw new RestoreError(`WAL object ${key} is corrupt: sha256 ${sha.slice(0, 16)}…, recorded ${head.metadata.sha256.slice(0, 16)}…`);
    // The dry run too: each segment must come from the backup's cluster (system identifier).
    const bad = checkSegmentHeader(s, content, meta.walSegmentSize, meta.systemIdentifier);
    if (bad) throw new RestoreError(`WAL object ${key}: ${bad}`);
    if (spool) await writeFile(join(spool, s), content, { mode: 0o600 });
    report.progress('WAL segments verified', ++i, plan.segments.length);
  }
}

/** The system identifier of the running database server, or undefined when it cannot be reached. */
async function liveSystemIdentifier(t: DbTarget): Promise<string | undefined> {
  const c = new pg.Client({ ...connectionConfig(t), connectionTimeoutMillis: 5000 });
  try {
    await c.connect();
    return (await c.query<{ id: string }>('SELECT system_identifier::text AS id FROM pg_control_system()')).rows[0]!.id;
  } catch {
    return undefined;
  } finally {
    await c.end().catch(() => {});
  }
}

async function chownTree(path: string, user: string): Promise<void> {
  await run('chown', ['-R', `${user}:`, path]);
}

async function isFreshDir(dir: string): Promise<boolean> {
  try {
    return (await readdir(dir)).length === 0;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return true;
    throw e;
  }
}

/** Starts PostgreSQL on the restored directory (socket only), lets it replay and promote. */
async function replayAndCheck(
  ctx: EngineContext,
  o: RestoreOptions,
  meta: BackupMeta,
  plan: WalPlan,
  dataDir: string,
  spool: string,
  report: Reporter,
): Promise<Pick<RestoreSummary, 'replayedTo' | 'recoveryEndedAt' | 'databases' | 'dumpBytes'>> {
  const work = await mkdtemp(join(tmpdir(), 'prism-verify-'));
  const asRoot = process.getuid?.() === 0;
  const runAs = asRoot ? (o.runAs ?? 'postgres') : undefined;
  const hba = join(work, 'pg_hba.conf');
  // Only the DB manager, through a private socket, reaches this server.
  await writeFile(hba, 'local all all trust\n', { mode: 0o600 });
  await writeFile(join(dataDir, 'recovery.signal'), '', { mode: 0o600 });
  if (runAs) {
    for (const p of [work, dataDir, spool]) await chownTree(p, runAs);
  }
  const args = [
    '-D',
    dataDir,
    '-c',
    'listen_addresses=',
    '-c',
    `unix_socket_directories=${work}`,
    '-c',
    `hba_file=${hba}`,
    '-c',
    'ssl=off',
    '-c',
    'archive_mode=off',
    '-c',
    'logging_collector=off',
    '-c',
    `restore_command=cp "${spool}/%f" "%p"`,
    '-c',
    'recovery_target_action=promote',
    ...(o.targetTime ? ['-c', `recovery_target_time=${o.targetTime.toISOString().replace('T', ' ').replace('Z', '+00')}`] : []),
  ];
  const postgres = join(ctx.pgBin, 'postgres');
  const child: ChildProcess = runAs
    ? spawn('runuser', ['-u', runAs, '--', postgres, ...args], { stdio: ['ignore', 'ignore', 'pipe'] })
    : spawn(postgres, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr?.on('data', (d: Buffer) => {
    log += d.toString();
    if (log.length > 200_000) log = log.slice(-100_000);
  });
  let exited: number | null | undefined;
  const exitedP = new Promise<void>((r) => child.on('close', (code) => ((exited = code), r())));
  const tail = () => log.trim().split('\n').slice(-8).join(' | ');
  const conn = { host: work, port: 5432, user: o.target.user, database: 'postgres' };
  const lastSegStart = plan.segments.length ? parseSegmentName(plan.segments.at(-1)!, meta.walSegmentSize).segno * BigInt(meta.walSegmentSize) : parseLsn(meta.endLsn);
  try {
    const deadline = Date.now() + (o.replayTimeoutMs ?? 600_000);
    for (;;) {
      if (exited !== undefined) throw new RestoreError(`PostgreSQL stopped during recovery (exit ${exited}): ${tail()}`);
      if (Date.now() > deadline) throw new RestoreError(`WAL replay did not finish within ${(o.replayTimeoutMs ?? 600_000) / 1000} s: ${tail()}`);
      const c = new pg.Client(conn);
      try {
        await c.connect();
        const { rows } = await c.query<{ rec: boolean; lsn: string | null }>('SELECT pg_is_in_recovery() AS rec, pg_last_wal_replay_lsn()::text AS lsn');
        const r = rows[0]!;
        if (r.lsn) report.progress('WAL replayed', Number(parseLsn(r.lsn) - parseLsn(meta.startLsn)), Number(lastSegStart + BigInt(meta.walSegmentSize) - parseLsn(meta.startLsn)));
        if (!r.rec) break;
      } catch {
        // Not accepting connections yet (still reaching consistency).
      } finally {
        await c.end().catch(() => {});
      }
      await new Promise((r) => setTimeout(r, 300));
    }
    report.phase('checking the restored server');
    const c = new pg.Client(conn);
    await c.connect();
    let replayedTo: string;
    let databases: string[];
    try {
      replayedTo = (await c.query<{ lsn: string }>('SELECT pg_last_wal_replay_lsn()::text AS lsn')).rows[0]!.lsn;
      databases = (await c.query<{ d: string }>('SELECT datname AS d FROM pg_database WHERE NOT datistemplate ORDER BY 1')).rows.map((r) => r.d);
    } finally {
      await c.end();
    }
    if (parseLsn(replayedTo) < parseLsn(meta.endLsn)) throw new RestoreError(`recovery stopped at ${replayedTo}, before the end of the backup (${meta.endLsn})`);
    if (!o.targetTime && parseLsn(replayedTo) < lastSegStart) {
      throw new RestoreError(`recovery stopped at ${replayedTo}, before the last archived segment ${plan.segments.at(-1)} (${formatLsn(lastSegStart)})`);
    }
    if (!databases.includes(o.target.database)) throw new RestoreError(`the restored server has no database ${o.target.database} (it has ${databases.join(', ')})`);
    // A full logical read: every row of every table must come back.
    const dump = await runCounting(join(ctx.pgBin, 'pg_dumpall'), ['-h', work, '-p', '5432', '-U', o.target.user, '--no-password'], runAs ? { runAs } : {});
    const ended = /recovery stopping before .*time ([^\n]+)|last completed transaction was at log time ([^\n]+)/.exec(log);
    return { replayedTo, databases, dumpBytes: dump.bytes, ...(ended ? { recoveryEndedAt: (ended[1] ?? ended[2])!.trim() } : {}) };
  } finally {
    if (exited === undefined) {
      // pg_ctl signals the postmaster itself (runuser would not pass SIGINT on): fast shutdown.
      await run(join(ctx.pgBin, 'pg_ctl'), ['-D', dataDir, '-m', 'fast', '-w', 'stop'], runAs ? { runAs } : {}).catch(() => child.kill('SIGKILL'));
      await exitedP;
    }
    await rm(work, { recursive: true, force: true });
  }
}

/**
 * Restores (or, as a dry run, only verifies) a backup. A dry run reads every object it would use and
 * checks it, and writes nothing. A real restore writes a fresh data directory, runs pg_verifybackup
 * on it, replays WAL on a private PostgreSQL server until it promotes, and reads every row back.
 */
export async function restoreBackup(ctx: EngineContext, o: RestoreOptions): Promise<RestoreSummary> {
  const started = Date.now();
  const startedAt = new Date();
  const report = ctx.report.child(`${o.dryRun ? 'dry run' : 'restore'} ${o.name}`);
  const db = o.target.id;
  const mode = o.dryRun ? 'dry-run' : (o.mode ?? 'restore');
  let summary: RestoreSummary | undefined;
  let spool: string | undefined;
  try {
    if (!o.dryRun) {
      if (!o.targetDir) throw new RestoreError('a restore needs a target data directory');
      if (!(await isFreshDir(o.targetDir))) throw new RestoreError(`a restore writes into a fresh data directory; ${o.targetDir} is not empty`);
    }
    report.phase('reading the backup chain');
    const chain = await resolveChain(ctx.store, db, o.name);
    const meta = chain[0]!;
    report.line(`chain: ${chain.map((c) => `${c.name} (${c.kind})`).join(' <- ')}`);
    const plan = await planWal(ctx.store, meta, o.targetTime);
    report.line(
      plan.segments.length
        ? `WAL to replay: ${plan.segments[0]} .. ${plan.segments.at(-1)} (${plan.segments.length} segments)`
        : 'no WAL archived after the backup: the restore reaches the end of the backup',
    );
    const dataDir = o.targetDir ? resolve(o.targetDir) : undefined;
    if (!o.dryRun) {
      await mkdir(dataDir!, { recursive: true, mode: 0o700 });
      spool = await mkdtemp(join(dirname(dataDir!), '.prism-wal-'));
    }
    report.phase(o.dryRun ? 'verifying files against the manifest (nothing is written)' : `restoring files into ${dataDir}`);
    const files = await walkChain(ctx, chain, o.dryRun ? hashOnly : dirSink(dataDir!), report);
    report.phase('verifying archived WAL');
    await fetchWal(ctx.store, meta, plan, spool, report);
    let verifyBackup: string | undefined;
    let checked: Awaited<ReturnType<typeof replayAndCheck>> | undefined;
    let serverSystemIdentifier: string | undefined;
    if (o.dryRun) {
      serverSystemIdentifier = await liveSystemIdentifier(o.target);
      report.line(
        serverSystemIdentifier === undefined
          ? `backup of cluster ${meta.systemIdentifier}; the running server could not be asked for its own`
          : serverSystemIdentifier === meta.systemIdentifier
            ? `backup of cluster ${meta.systemIdentifier}, the running server's`
            : `backup of cluster ${meta.systemIdentifier}; the running server is another cluster (${serverSystemIdentifier}): a restore replaces it`,
      );
    }
    if (!o.dryRun) {
      await writeFile(join(dataDir!, 'backup_manifest'), await ctx.store.getBuffer(keys.manifest(db, meta.name)), { mode: 0o600 });
      report.phase('pg_verifybackup');
      const v = await run(join(ctx.pgBin, 'pg_verifybackup'), [dataDir!]);
      verifyBackup = v.stdout.trim();
      report.line(verifyBackup);
      report.phase('replaying WAL on a private server', o.targetTime ? `to ${o.targetTime.toISOString()}` : 'to the end of the archive');
      checked = await replayAndCheck(ctx, o, meta, plan, dataDir!, spool!, report);
    }
    summary = {
      name: meta.name,
      db,
      dryRun: o.dryRun,
      chain: chain.map((c) => c.name),
      systemIdentifier: meta.systemIdentifier,
      ...(serverSystemIdentifier ? { serverSystemIdentifier } : {}),
      filesVerified: files.files,
      bytesVerified: files.bytes,
      wal: {
        segments: plan.segments.length,
        ...(plan.segments.length ? { first: plan.segments[0], last: plan.segments.at(-1) } : {}),
        ...(plan.lastArchivedAt ? { lastArchivedAt: plan.lastArchivedAt.toISOString() } : {}),
      },
      ...(o.targetTime ? { targetTime: o.targetTime.toISOString() } : {}),
      ...(dataDir && !o.dryRun ? { targetDir: dataDir } : {}),
      ...(verifyBackup ? { verifyBackup } : {}),
      ...checked,
      durationMs: Date.now() - started,
    };
    return summary;
  } catch (e) {
    await ctx.catalog
      .recordVerification({ backupName: o.name, db, mode, ...(o.targetTime ? { targetTime: o.targetTime } : {}), startedAt, ok: false, details: {}, error: (e as Error).message })
      .catch(() => {});
    throw e;
  } finally {
    if (spool) await rm(spool, { recursive: true, force: true });
    if (summary) {
      await ctx.catalog
        .recordVerification({ backupName: o.name, db, mode, ...(o.targetTime ? { targetTime: o.targetTime } : {}), startedAt, ok: true, details: { ...summary } })
        .catch((err: Error) => report.line(`warning: the verification could not be recorded in the catalog: ${err.message}`));
    }
  }
}
