import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { pgRole } from '#contract';
import type { EngineContext } from './basebackup.js';
import type { BackupMeta } from './layout.js';
import { type DbTarget, run, runCounting } from './pg-tools.js';
import type { Reporter } from './progress.js';
import { RestoreError } from './restore-error.js';
import type { WalPlan } from './restore-wal.js';
import { formatLsn, parseLsn, parseSegmentName } from './wal-names.js';

/** What replaying a restored directory needs of the restore's options. */
export interface ReplayOptions {
  readonly target: DbTarget;
  readonly targetTime?: Date;
  /** OS user that runs the server when we are root (PostgreSQL refuses root). */
  readonly runAs?: string;
  /** @default 10 minutes */
  readonly replayTimeoutMs?: number;
}

export interface ReplayResult {
  readonly replayedTo: string;
  readonly recoveryEndedAt?: string;
  readonly databases: readonly string[];
  readonly dumpBytes: number;
}

async function chownTree(path: string, user: string): Promise<void> {
  await run('chown', ['-R', `${user}:`, path]);
}

/** Starts PostgreSQL on the restored directory (socket only), lets it replay and promote. */
export async function replayAndCheck(
  ctx: EngineContext,
  o: ReplayOptions,
  meta: BackupMeta,
  plan: WalPlan,
  dataDir: string,
  spool: string,
  report: Reporter,
): Promise<ReplayResult> {
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
    ...(o.targetTime
      ? ['-c', `recovery_target_time=${o.targetTime.toISOString().replace('T', ' ').replace('Z', '+00')}`]
      : []),
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
  // The restored cluster's superuser (trusted on the scratch socket): the backup role may not read the tables the check dumps.
  const superuser = pgRole(o.target.id, 'admin').name;
  // The scratch socket, never TLS: `pg` would read PGSSLMODE=verify-full from the environment and ask a Unix socket for TLS.
  const conn = { host: work, port: 5432, user: superuser, database: 'postgres', ssl: false };
  const lastSegStart = plan.segments.length
    ? parseSegmentName(plan.segments.at(-1)!, meta.walSegmentSize).segno * BigInt(meta.walSegmentSize)
    : parseLsn(meta.endLsn);
  try {
    const deadline = Date.now() + (o.replayTimeoutMs ?? 600_000);
    for (;;) {
      if (exited !== undefined)
        throw new RestoreError(`PostgreSQL stopped during recovery (exit ${exited}): ${tail()}`);
      if (Date.now() > deadline)
        throw new RestoreError(
          `WAL replay did not finish within ${(o.replayTimeoutMs ?? 600_000) / 1000} s: ${tail()}`,
        );
      const c = new pg.Client(conn);
      try {
        await c.connect();
        const { rows } = await c.query<{ rec: boolean; lsn: string | null }>(
          'SELECT pg_is_in_recovery() AS rec, pg_last_wal_replay_lsn()::text AS lsn',
        );
        const r = rows[0]!;
        if (r.lsn)
          report.progress(
            'WAL replayed',
            Number(parseLsn(r.lsn) - parseLsn(meta.startLsn)),
            Number(lastSegStart + BigInt(meta.walSegmentSize) - parseLsn(meta.startLsn)),
          );
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
      databases = (
        await c.query<{ d: string }>('SELECT datname AS d FROM pg_database WHERE NOT datistemplate ORDER BY 1')
      ).rows.map((r) => r.d);
    } finally {
      await c.end();
    }
    if (parseLsn(replayedTo) < parseLsn(meta.endLsn))
      throw new RestoreError(`recovery stopped at ${replayedTo}, before the end of the backup (${meta.endLsn})`);
    if (!o.targetTime && parseLsn(replayedTo) < lastSegStart) {
      throw new RestoreError(
        `recovery stopped at ${replayedTo}, before the last archived segment ${plan.segments.at(-1)} (${formatLsn(lastSegStart)})`,
      );
    }
    if (!databases.includes(o.target.database))
      throw new RestoreError(
        `the restored server has no database ${o.target.database} (it has ${databases.join(', ')})`,
      );
    // A full logical read: every row of every table must come back.
    const dump = await runCounting(
      join(ctx.pgBin, 'pg_dumpall'),
      ['-h', work, '-p', '5432', '-U', superuser, '--no-password'],
      runAs ? { runAs } : {},
    );
    const ended = /recovery stopping before .*time ([^\n]+)|last completed transaction was at log time ([^\n]+)/.exec(
      log,
    );
    return {
      replayedTo,
      databases,
      dumpBytes: dump.bytes,
      ...(ended ? { recoveryEndedAt: (ended[1] ?? ended[2])!.trim() } : {}),
    };
  } finally {
    if (exited === undefined) {
      // pg_ctl signals the postmaster itself (runuser would not pass SIGINT on): fast shutdown.
      await run(join(ctx.pgBin, 'pg_ctl'), ['-D', dataDir, '-m', 'fast', '-w', 'stop'], runAs ? { runAs } : {}).catch(
        () => child.kill('SIGKILL'),
      );
      await exitedP;
    }
    await rm(work, { recursive: true, force: true });
  }
}
