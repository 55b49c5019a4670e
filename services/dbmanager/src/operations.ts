import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { DATABASES, type DatabaseId } from '#contract';
import { type BaseBackupSummary, readMeta, takeBaseBackup } from './backup/basebackup.js';
import type { BackupRow } from './backup/catalog.js';
import { backupName, keys } from './backup/layout.js';
import { type Reporter, formatBytes } from './backup/progress.js';
import { type RestoreSummary, restoreBackup } from './backup/restore.js';
import { type PruneResult, pruneBackups } from './backup/retention.js';
import { type ApplySummary, applyRestore } from './backup/restore-apply.js';
import { pgCtlControl, supervisorControl } from './backup/server-control.js';
import type { DbManagerContext, StoreSource } from './settings.js';

/** The DB manager's operations, shared by the CLI and the gRPC server. */

export interface WalRunSummary {
  readonly name: string;
  readonly segments: number;
  readonly first?: string;
  readonly last?: string;
  readonly archivedUpTo: string;
  readonly bytesStored: number;
}

export async function backupBase(
  ctx: DbManagerContext,
  db: DatabaseId,
  kind: 'full' | 'delta',
  report: Reporter,
): Promise<BaseBackupSummary & { prune?: PruneResult }> {
  await ctx.store.checkAccess();
  const summary = await takeBaseBackup(await ctx.engine(db, report), ctx.targets[db], kind, await ctx.archiver(db));
  // Retention runs after each full backup: a new full is what lets older chains go.
  const prune = kind === 'full' ? await pruneBackups(await ctx.engine(db, report), db, ctx.retentionDays) : undefined;
  return { ...summary, ...(prune ? { prune } : {}) };
}

/** Archives all WAL written so far and records the run in the catalog. */
export async function backupWal(ctx: DbManagerContext, db: DatabaseId, report: Reporter): Promise<WalRunSummary> {
  await ctx.store.checkAccess();
  const started = new Date();
  const name = backupName(db, 'wal', started);
  await ctx.catalog.begin({ name, db, kind: 'wal', startedAt: started, storagePrefix: keys.walPrefix(db) });
  try {
    report.phase(`archiving the WAL of ${db}`);
    const r = await (await ctx.archiver(db, (l) => report.line(l))).archiveOnce();
    await ctx.catalog.complete(name, {
      sizeBytes: r.bytesStored,
      endLsn: r.archivedUpTo,
      filesStored: r.segments.length,
      ...(r.segments.length ? { walStart: r.segments[0], walEnd: r.segments.at(-1) } : {}),
    });
    return {
      name,
      segments: r.segments.length,
      ...(r.segments.length ? { first: r.segments[0], last: r.segments.at(-1) } : {}),
      archivedUpTo: r.archivedUpTo,
      bytesStored: r.bytesStored,
    };
  } catch (e) {
    await ctx.catalog.fail(name, (e as Error).message).catch(() => {});
    throw e;
  }
}

export interface RestoreRequest {
  readonly db: DatabaseId;
  readonly name: string;
  readonly dryRun: boolean;
  readonly targetTime?: Date;
  readonly targetDir?: string;
  readonly runAs?: string;
  /** Read the backup from this store alone (`offsite` once the in-cluster store is lost). */
  readonly from?: StoreSource;
}

export async function restore(ctx: DbManagerContext, r: RestoreRequest, report: Reporter): Promise<RestoreSummary> {
  const targetDir = r.dryRun ? r.targetDir : (r.targetDir ?? join(ctx.scratchDir, `restore-${r.name}-${Date.now()}`));
  return restoreBackup(await ctx.engine(r.db, report, r.from), {
    target: ctx.targets[r.db],
    name: r.name,
    dryRun: r.dryRun,
    ...(r.targetTime ? { targetTime: r.targetTime } : {}),
    ...(targetDir ? { targetDir } : {}),
    ...(r.runAs ? { runAs: r.runAs } : {}),
  });
}

export interface ApplyRequest {
  readonly db: DatabaseId;
  readonly name: string;
  /** The server's data directory (on this machine). */
  readonly dataDir: string;
  readonly targetTime?: Date;
  readonly runAs?: string;
  readonly from?: StoreSource;
  /** The local platform's supervisor request directory (`<platform>/run/supervisor`): it stops and starts the server. */
  readonly supervisor?: string;
}

/** The actual restore (restore-apply.ts): the server stopped and started by pg_ctl, or by the local platform's supervisor. */
export async function restoreApply(ctx: DbManagerContext, r: ApplyRequest, report: Reporter): Promise<ApplySummary> {
  const engine = await ctx.engine(r.db, report, r.from);
  const runAs = r.runAs ?? (process.getuid?.() === 0 ? 'postgres' : undefined);
  const control = r.supervisor
    ? supervisorControl(r.supervisor, DATABASES[r.db].component, r.dataDir)
    : pgCtlControl(engine.pgBin, r.dataDir, runAs);
  return applyRestore(engine, {
    target: ctx.targets[r.db],
    name: r.name,
    control,
    ...(r.targetTime ? { targetTime: r.targetTime } : {}),
    ...(runAs ? { runAs } : {}),
    takeFullBackup: async () => (await backupBase(ctx, r.db, 'full', report)).name,
  });
}

/** The scheduled check: restore the newest backup into scratch space, verify it, record, clean up. */
export async function verifyLatest(ctx: DbManagerContext, db: DatabaseId, report: Reporter): Promise<RestoreSummary> {
  const latest = await ctx.catalog.latestBase(db);
  if (!latest) throw new Error(`no completed backup of ${db} to verify`);
  const dir = join(ctx.scratchDir, `verify-${latest.name}-${Date.now()}`);
  try {
    return await restoreBackup(await ctx.engine(db, report), {
      target: ctx.targets[db],
      name: latest.name,
      dryRun: false,
      targetDir: dir,
      mode: 'scheduled',
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * The completed backups a store holds, read from their metadata objects: what there is to restore
 * when the catalog (in prism_ops) is lost with the cluster.
 */
export async function storedBackups(ctx: DbManagerContext, from: StoreSource, db?: DatabaseId): Promise<BackupRow[]> {
  const store = ctx.storeFor(from);
  const rows: BackupRow[] = [];
  for (const d of db ? [db] : (['auth', 'ops'] as const)) {
    for await (const o of store.list(`${d}/base/`)) {
      const name = /^[a-z]+\/base\/([^/]+)\/backup\.json$/.exec(o.key)?.[1];
      if (!name) continue;
      const m = await readMeta(store, d, name);
      rows.push({
        name: m.name,
        db: m.db,
        kind: m.kind,
        parent: m.parent ?? null,
        status: 'completed',
        started_at: new Date(m.startedAt),
        finished_at: new Date(m.finishedAt),
        size_bytes: String(Object.values(m.objects).reduce((n, x) => n + x.size, 0)),
        database_bytes: String(m.databaseBytes),
        timeline: m.timeline,
        start_lsn: m.startLsn,
        end_lsn: m.endLsn,
        wal_start: m.walStart,
        wal_end: m.walEnd,
        storage_prefix: keys.base(m.db, m.name),
        files_total: m.files.total,
        files_stored: m.files.stored,
        error: null,
      });
    }
  }
  return rows.sort((a, b) => a.started_at.getTime() - b.started_at.getTime());
}

const pad = (s: string, n: number) => s.padEnd(n);

/** `backup list`: one line per backup with size, time and WAL range. */
export function formatBackupList(rows: readonly BackupRow[]): string {
  const head = ['NAME', 'DB', 'KIND', 'STATUS', 'STARTED (UTC)', 'DURATION', 'SIZE', 'WAL RANGE'];
  const lines = rows.map((r) => {
    const dur = r.finished_at ? `${((r.finished_at.getTime() - r.started_at.getTime()) / 1000).toFixed(1)} s` : '-';
    const wal =
      r.wal_start || r.wal_end
        ? `${r.wal_start ?? '?'} .. ${r.wal_end ?? '?'}`
        : r.end_lsn
          ? `up to ${r.end_lsn}`
          : '-';
    return [
      r.name,
      r.db,
      r.kind,
      r.status,
      r.started_at.toISOString().replace('T', ' ').slice(0, 19),
      dur,
      r.size_bytes ? formatBytes(Number(r.size_bytes)) : '-',
      wal,
    ];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  return [head, ...lines]
    .map((l) => l.map((c, i) => (i === l.length - 1 ? c : pad(c, widths[i]!))).join('  '))
    .join('\n');
}

/** A summary block: `key: value` lines, printed at the end of every operation. */
export function formatSummary(
  title: string,
  fields: Record<string, string | number | boolean | object | null | undefined>,
): string {
  const out = [`== ${title}`];
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined) continue;
    out.push(`  ${k}: ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`);
  }
  return out.join('\n');
}
