import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import pg from 'pg';
import type { DatabaseId } from '#contract';
import type { EngineContext } from './basebackup.js';
import { keys } from './layout.js';
import { type DbTarget, connectionConfig, run } from './pg-tools.js';
import { replayAndCheck } from './replay-check.js';
import { RestoreError } from './restore-error.js';
import { dirSink, hashOnly, resolveChain, walkChain } from './restore-files.js';
import { fetchWal, planWal } from './restore-wal.js';

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
  readonly wal: {
    readonly first?: string;
    readonly last?: string;
    readonly segments: number;
    readonly lastArchivedAt?: string;
  };
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

/** The system identifier of the running database server, or undefined when it cannot be reached. */
export async function liveSystemIdentifier(t: DbTarget): Promise<string | undefined> {
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

async function isFreshDir(dir: string): Promise<boolean> {
  try {
    return (await readdir(dir)).length === 0;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return true;
    throw e;
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
      if (!(await isFreshDir(o.targetDir)))
        throw new RestoreError(`a restore writes into a fresh data directory; ${o.targetDir} is not empty`);
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
    report.phase(
      o.dryRun ? 'verifying files against the manifest (nothing is written)' : `restoring files into ${dataDir}`,
    );
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
      await writeFile(join(dataDir!, 'backup_manifest'), await ctx.store.getBuffer(keys.manifest(db, meta.name)), {
        mode: 0o600,
      });
      report.phase('pg_verifybackup');
      const v = await run(join(ctx.pgBin, 'pg_verifybackup'), [dataDir!]);
      verifyBackup = v.stdout.trim();
      report.line(verifyBackup);
      report.phase(
        'replaying WAL on a private server',
        o.targetTime ? `to ${o.targetTime.toISOString()}` : 'to the end of the archive',
      );
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
      .recordVerification({
        backupName: o.name,
        db,
        mode,
        ...(o.targetTime ? { targetTime: o.targetTime } : {}),
        startedAt,
        ok: false,
        details: {},
        error: (e as Error).message,
      })
      .catch(() => {});
    throw e;
  } finally {
    if (spool) await rm(spool, { recursive: true, force: true });
    if (summary) {
      await ctx.catalog
        .recordVerification({
          backupName: o.name,
          db,
          mode,
          ...(o.targetTime ? { targetTime: o.targetTime } : {}),
          startedAt,
          ok: true,
          details: { ...summary },
        })
        .catch((err: Error) =>
          report.line(`warning: the verification could not be recorded in the catalog: ${err.message}`),
        );
    }
  }
}
