// The DB manager's command line (the image's entry point, see DBMANAGER_CLI in infra/contract):
//   serve                                   gRPC API, migrations at start-up, continuous WAL archiving
//   migrate [--all | auth | ops]            apply pending migrations
//   status                                  migration state of both databases
//   backup <auth|ops> <full|delta|wal>      take a backup (full/delta: base backup; wal: archive WAL now)
//   backup list [auth|ops] [--from S]       backups with size, time and WAL range (also: list); with
//                                           --from in-cluster|offsite, read from that store (no catalog)
//   restore <auth|ops> <NAME> [--dry-run] [--target-time T] [--target-dir DIR] [--run-as USER] [--from S]
//   restore <auth|ops> <NAME> --apply --data-dir DIR [--supervisor DIR] [--target-time T] [--run-as USER] [--from S]
//                                           the actual restore: swap the server's data directory for the verified
//                                           restore, start and check it, take a new full backup (see operations.ts)
//   verify-latest <auth|ops>                restore the newest backup into scratch space and check it
//   prune <auth|ops>                        apply the retention period now
//   schedule [--status-file F] --job '<name>|<cron>|<args>'...
//                                           run those commands at their times (Compose's backup schedule;
//                                           Kubernetes uses CronJobs), keeping a status in F
//   schedule-health --status-file F         exit 1, saying why, unless that scheduler is working (its health check)
import { parseArgs } from 'node:util';
import { type DatabaseId, OBJECT_STORAGE_ENV } from '#contract';
import {
  EnvError,
  ServiceRuntime,
  SpanStatusCode,
  context,
  parseEnv,
  startTracing,
  trace,
} from '../../runtime/src/index.js';
import { formatBytes, lineReporter } from './backup/progress.js';
import { pruneBackups } from './backup/retention.js';
import { DATABASE_WAIT_MS, databaseMigrationStatus, migrateDatabase } from './migrations/index.js';
import {
  backupBase,
  backupWal,
  formatBackupList,
  formatSummary,
  restore,
  restoreApply,
  storedBackups,
  verifyLatest,
} from './operations.js';
import { scheduleProblems } from './schedule-status.js';
import { type ScheduledJob, parseJob, runCli, startScheduler } from './scheduler.js';
import { startDbManager } from './server.js';
import type { DbTarget } from './backup/pg-tools.js';
import { DbManagerContext, type StoreSource, dbTarget, rolePasswords } from './settings.js';

const USAGE = `usage: cli.js serve | migrate [--all|auth|ops] | status | backup <auth|ops> <full|delta|wal> | backup list [auth|ops] [--from in-cluster|offsite]
       | restore <auth|ops> <NAME> [--dry-run] [--target-time T] [--target-dir DIR] [--run-as USER] [--from in-cluster|offsite]
       | restore <auth|ops> <NAME> --apply --data-dir DIR [--supervisor DIR] [--target-time T] [--run-as USER] [--from in-cluster|offsite]
       | verify-latest <auth|ops> | prune <auth|ops> | schedule [--status-file F] --job '<name>|<cron>|<args>'...
       | schedule-health --status-file F`;

class UsageError extends Error {}

const out = (s: string) => process.stdout.write(`${s}\n`);
const report = lineReporter((l) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${l}\n`));

function fromArg(v: string | undefined): StoreSource | undefined {
  if (v === undefined || v === 'in-cluster' || v === 'offsite') return v;
  throw new UsageError(`--from must be in-cluster or offsite, got "${v}"`);
}

function dbArg(v: string | undefined): DatabaseId {
  if (v === 'auth' || v === 'ops') return v;
  throw new UsageError(`database must be auth or ops, got ${v === undefined ? 'nothing' : `"${v}"`}`);
}

async function withContext<T>(fn: (ctx: DbManagerContext) => Promise<T>): Promise<T> {
  // Each job holds only its own database's backup role (least privilege): a command for the other database fails at connecting.
  const env = parseEnv('dbmanager', process.env);
  const ctx = new DbManagerContext(env);
  try {
    return await fn(ctx);
  } finally {
    await ctx.close();
  }
}

/** The two databases alone: migrations and their status need no object storage (nor its variables). */
function databaseEnv() {
  return parseEnv('dbmanager', process.env, { except: OBJECT_STORAGE_ENV });
}
function databaseTargets(env = databaseEnv()): Record<DatabaseId, DbTarget> {
  return { auth: dbTarget(env, 'auth', 'admin'), ops: dbTarget(env, 'ops', 'admin') };
}

async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      all: { type: 'boolean' },
      'dry-run': { type: 'boolean' },
      'target-time': { type: 'string' },
      'target-dir': { type: 'string' },
      'run-as': { type: 'string' },
      apply: { type: 'boolean' },
      'data-dir': { type: 'string' },
      supervisor: { type: 'string' },
      from: { type: 'string' },
      job: { type: 'string', multiple: true },
      'status-file': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command, a, b] = positionals;
  if (values.help || !command) {
    out(USAGE);
    if (!command && !values.help) process.exitCode = 2;
    return;
  }
  switch (command) {
    case 'serve': {
      const runtime = new ServiceRuntime({ service: 'dbmanager' });
      const { port } = await startDbManager(runtime);
      await runtime.start(port);
      return;
    }
    case 'migrate': {
      const dbs: DatabaseId[] = values.all || !a ? ['auth', 'ops'] : [dbArg(a)];
      const env = databaseEnv();
      const targets = databaseTargets(env);
      for (const db of dbs) {
        const roles = { db, password: rolePasswords(env, db) };
        // The Job and Compose task start beside the databases: wait for them, boundedly, rather than fail fast.
        const r = await migrateDatabase(
          db,
          { ...targets[db] },
          { log: (l) => report.line(l), roles, waitMs: DATABASE_WAIT_MS },
        );
        out(
          formatSummary(`migrations of ${targets[db].database}`, {
            applied: r.applied.join(', ') || 'none',
            retried: r.retried.join(', ') || undefined,
            alreadyApplied: r.alreadyApplied,
          }),
        );
      }
      return;
    }
    case 'status': {
      // Read-only: the backup roles may read the migration history (the DB manager's own credentials).
      const env = databaseEnv();
      const targets = { auth: dbTarget(env, 'auth'), ops: dbTarget(env, 'ops') };
      for (const db of ['auth', 'ops'] as const) {
        out(`== ${targets[db].database}`);
        for (const m of await databaseMigrationStatus(db, { ...targets[db] }))
          out(
            `  ${m.name}  ${m.state}${m.appliedAt ? `  ${m.appliedAt.toISOString()}` : ''}${m.error ? `  ${m.error}` : ''}`,
          );
      }
      return;
    }
    case 'list':
      return list(a, fromArg(values.from));
    case 'backup': {
      if (a === 'list') return list(b, fromArg(values.from));
      const db = dbArg(a);
      await withContext(async (ctx) => {
        if (b === 'full' || b === 'delta') {
          const s = await backupBase(ctx, db, b, report);
          out(
            formatSummary(`backup ${s.name}`, {
              kind: s.kind,
              parent: s.parent,
              stored: `${formatBytes(s.bytesStored)} (${s.filesStored} of ${s.filesTotal} files)`,
              database: formatBytes(s.databaseBytes),
              wal: `${s.walStart} .. ${s.walEnd}`,
              duration: `${(s.durationMs / 1000).toFixed(1)} s`,
              retention: s.prune
                ? `${s.prune.expired.length} backup(s) expired, ${s.prune.walDeleted} WAL segment(s) deleted`
                : undefined,
            }),
          );
        } else if (b === 'wal') {
          const s = await backupWal(ctx, db, report);
          out(
            formatSummary(`WAL archive run ${s.name}`, {
              segments: s.segments,
              range: s.first ? `${s.first} .. ${s.last}` : undefined,
              archivedUpTo: s.archivedUpTo,
              stored: formatBytes(s.bytesStored),
            }),
          );
        } else {
          throw new UsageError(`backup kind must be full, delta or wal, got ${b === undefined ? 'nothing' : `"${b}"`}`);
        }
      });
      return;
    }
    case 'restore': {
      const db = dbArg(a);
      if (!b) throw new UsageError('restore needs a backup name (see: backup list)');
      const tt = values['target-time'];
      const targetTime = tt ? new Date(tt) : undefined;
      const from = fromArg(values.from);
      if (targetTime && Number.isNaN(targetTime.getTime()))
        throw new UsageError(`--target-time "${tt}" is not a time (use ISO 8601, e.g. 2026-11-25T17:00:00Z)`);
      if (values.apply) {
        if (values['dry-run'] || values['target-dir'])
          throw new UsageError('--apply restores into the server itself: not with --dry-run or --target-dir');
        const dataDir = values['data-dir'];
        if (!dataDir) throw new UsageError("--apply needs --data-dir: the server's data directory on this machine");
        await withContext(async (ctx) => {
          const s = await restoreApply(
            ctx,
            {
              db,
              name: b,
              dataDir,
              ...(targetTime ? { targetTime } : {}),
              ...(values['run-as'] ? { runAs: values['run-as'] } : {}),
              ...(from ? { from } : {}),
              ...(values.supervisor ? { supervisor: values.supervisor } : {}),
            },
            report,
          );
          out(
            formatSummary(`restore of ${s.name}: applied`, {
              chain: s.chain.join(' <- '),
              cluster: `system identifier ${s.systemIdentifier}`,
              replayedTo: s.replayedTo,
              dataDirectory: s.dataDir,
              previousDirectory: `${s.previousDir} (delete it once the restored server is trusted)`,
              newFullBackup: s.newBackup,
              duration: `${(s.durationMs / 1000).toFixed(1)} s to verify`,
            }),
          );
        });
        return;
      }
      await withContext(async (ctx) => {
        const s = await restore(
          ctx,
          {
            db,
            name: b,
            dryRun: !!values['dry-run'],
            ...(targetTime ? { targetTime } : {}),
            ...(values['target-dir'] ? { targetDir: values['target-dir'] } : {}),
            ...(values['run-as'] ? { runAs: values['run-as'] } : {}),
            ...(from ? { from } : {}),
          },
          report,
        );
        out(
          formatSummary(s.dryRun ? `dry run of ${s.name}: OK, nothing was written` : `restore of ${s.name}: verified`, {
            chain: s.chain.join(' <- '),
            cluster: `system identifier ${s.systemIdentifier}${s.serverSystemIdentifier && s.serverSystemIdentifier !== s.systemIdentifier ? ` (the running server is another cluster: ${s.serverSystemIdentifier})` : ''}`,
            files: `${s.filesVerified} verified against the manifest (${formatBytes(s.bytesVerified)})`,
            wal: s.wal.segments
              ? `${s.wal.first} .. ${s.wal.last} (${s.wal.segments} segments, checksums and headers verified)`
              : 'none after the backup',
            targetTime: s.targetTime,
            dataDirectory: s.targetDir,
            pg_verifybackup: s.verifyBackup,
            replayedTo: s.replayedTo,
            recoveryEndedAt: s.recoveryEndedAt,
            databases: s.databases?.join(', '),
            logicalRead: s.dumpBytes !== undefined ? `pg_dumpall read ${formatBytes(s.dumpBytes)}` : undefined,
            duration: `${(s.durationMs / 1000).toFixed(1)} s`,
            next: s.dryRun
              ? undefined
              : `restore ${db} ${s.name} --apply --data-dir <the server's data directory> does the rest: stop the server, swap in a verified restore, start and check it, take a new full backup`,
          }),
        );
      });
      return;
    }
    case 'verify-latest': {
      const db = dbArg(a);
      await withContext(async (ctx) => {
        const s = await verifyLatest(ctx, db, report);
        out(
          formatSummary(`verification of ${s.name}: passed`, {
            files: s.filesVerified,
            walSegments: s.wal.segments,
            replayedTo: s.replayedTo,
            duration: `${(s.durationMs / 1000).toFixed(1)} s`,
          }),
        );
      });
      return;
    }
    case 'prune': {
      const db = dbArg(a);
      await withContext(async (ctx) => {
        const r = await pruneBackups(await ctx.engine(db, report), db, ctx.retentionDays);
        out(
          formatSummary(`retention of ${db} (${ctx.retentionDays} days)`, {
            expired: r.expired.join(', ') || 'none',
            kept: r.kept.join(', '),
            walDeleted: r.walDeleted,
          }),
        );
      });
      return;
    }
    case 'schedule': {
      let jobs: ScheduledJob[];
      try {
        jobs = (values.job ?? []).map(parseJob);
      } catch (e) {
        throw new UsageError((e as Error).message);
      }
      if (jobs.length === 0) throw new UsageError('schedule needs at least one --job');
      const log = (l: string) => process.stderr.write(`${new Date().toISOString()} scheduler: ${l}\n`);
      const scheduler = startScheduler(jobs, runCli, log, values['status-file']);
      for (const [name, at] of Object.entries(scheduler.next()))
        log(`${name}: next run ${at?.toISOString() ?? 'never'}`);
      for (const sig of ['SIGTERM', 'SIGINT'] as const) {
        process.once(sig, () => {
          log(`${sig}: stopping; waiting for running jobs`);
          void scheduler.stop(sig).then(() => process.exit(0));
        });
      }
      // Keeps running: the cron timers hold the event loop.
      return new Promise<void>(() => {});
    }
    case 'schedule-health': {
      // The scheduler container's health check: fails, saying why, when the scheduler is not working.
      const file = values['status-file'];
      if (!file) throw new UsageError('schedule-health needs --status-file (the one schedule writes)');
      const problems = scheduleProblems(file);
      if (problems.length > 0) {
        process.stderr.write(`${problems.join('\n')}\n`);
        process.exitCode = 1;
      } else out('scheduler: working');
      return;
    }
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

async function list(db: string | undefined, from: StoreSource | undefined): Promise<void> {
  const which = db ? dbArg(db) : undefined;
  await withContext(async (ctx) =>
    out(formatBackupList(from ? await storedBackups(ctx, from, which) : await ctx.catalog.list(which))),
  );
}

/**
 * A one-shot command (backup, restore, migrate, ...) is one span, under which the driver's queries appear,
 * exported before the process exits. `serve` traces each call itself; `schedule` runs commands as children.
 * Every one is recorded (PRISM_TRACE_SAMPLE_RATIO is for request traffic): a backup or a restore is rare and
 * worth its trace.
 */
async function traced(argv: string[], fn: () => Promise<void>): Promise<void> {
  const words = argv.filter((w) => /^[a-z][a-z-]*$/.test(w)).slice(0, 3);
  if (words.length === 0 || words[0] === 'serve' || words[0]!.startsWith('schedule')) return fn();
  const tracing = startTracing('dbmanager', process.env.PRISM_OTLP_ENDPOINT, process.env.PRISM_ENVIRONMENT);
  if (!tracing.enabled) return fn();
  const span = tracing.tracer.startSpan(`dbmanager ${words.join(' ')}`);
  try {
    await context.with(trace.setSpan(context.active(), span), fn);
  } catch (e) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: (e as Error).message });
    throw e;
  } finally {
    span.end();
    // An unreachable trace backend (Compose without the observability file) costs the trace, not the command.
    await tracing.shutdown().catch((e: Error) => process.stderr.write(`tracing: spans not exported: ${e.message}\n`));
  }
}

try {
  await traced(process.argv.slice(2), () => main(process.argv.slice(2)));
} catch (e) {
  const err = e as Error;
  if (e instanceof UsageError) {
    process.stderr.write(`${err.message}\n${USAGE}\n`);
    process.exitCode = 2;
  } else if (e instanceof EnvError) {
    process.stderr.write(`${err.message}\n`);
    process.exitCode = 78;
  } else {
    process.stderr.write(`error: ${err.message}\n`);
    process.exitCode = 1;
  }
  // Nothing may keep a failed command (or a failed `serve` start-up) alive.
  process.exit(process.exitCode);
}
