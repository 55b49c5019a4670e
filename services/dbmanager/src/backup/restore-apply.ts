import { rename, rm, statfs } from 'node:fs/promises';
import { dirname } from 'node:path';
import pg from 'pg';
import type { EngineContext } from './basebackup.js';
import { readMeta } from './basebackup.js';
import { connectionConfig, run } from './pg-tools.js';
import { RestoreError } from './restore-error.js';
import { liveSystemIdentifier, restoreBackup, type RestoreOptions, type RestoreSummary } from './restore.js';
import type { ServerControl } from './server-control.js';

/**
 * The guide's "actual restore", done: restore and verify into a directory beside the server's data
 * directory (same file system, so the swap is two renames), stop the server, keep its directory aside,
 * put the verified one in its place, start it, check it is the backup's cluster answering with the
 * database, then take a new full backup (the restored server runs on a new timeline). Anything off before
 * the stop refuses with nothing changed; a failure after it puts the old directory back and starts it.
 */

export interface ApplyOptions extends Pick<
  RestoreOptions,
  'target' | 'name' | 'targetTime' | 'runAs' | 'replayTimeoutMs'
> {
  readonly control: ServerControl;
  /** Takes the new full backup once the restored server runs; resolves with its name. */
  readonly takeFullBackup: () => Promise<string>;
  /** @default now */
  readonly now?: Date;
}

export interface ApplySummary extends RestoreSummary {
  readonly dataDir: string;
  /** Where the replaced data directory was kept. */
  readonly previousDir: string;
  readonly newBackup: string;
}

/** The system identifier recorded in a data directory (pg_controldata; the server may be stopped). */
async function dirSystemIdentifier(pgBin: string, dataDir: string, runAs: string | undefined): Promise<string> {
  const { stdout } = await run(`${pgBin}/pg_controldata`, [dataDir], runAs ? { runAs } : {});
  const m = /^Database system identifier:\s+(\d+)$/m.exec(stdout);
  if (!m) throw new RestoreError(`pg_controldata ${dataDir} gives no system identifier`);
  return m[1]!;
}

async function serverChecks(o: ApplyOptions, systemIdentifier: string, timeoutMs = 60_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < until) {
    const c = new pg.Client({ ...connectionConfig(o.target), connectionTimeoutMillis: 5_000 });
    try {
      await c.connect();
      const id = (
        await c.query<{ id: string; rec: boolean }>(
          'SELECT system_identifier::text AS id, pg_is_in_recovery() AS rec FROM pg_control_system()',
        )
      ).rows[0]!;
      if (id.id !== systemIdentifier)
        throw new RestoreError(`the started server is cluster ${id.id}, not the backup's ${systemIdentifier}`);
      if (id.rec) throw new RestoreError('the started server is still in recovery');
      return;
    } catch (e) {
      if (e instanceof RestoreError) throw e;
      last = (e as Error).message;
    } finally {
      await c.end().catch(() => {});
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new RestoreError(`the restored server does not accept ${o.target.user} on ${o.target.database}: ${last}`);
}

export async function applyRestore(ctx: EngineContext, o: ApplyOptions): Promise<ApplySummary> {
  const report = ctx.report.child(`apply ${o.name}`);
  const { control } = o;
  const dataDir = control.dataDir.replace(/\/+$/, '');
  const stamp = (o.now ?? new Date()).toISOString().replace(/[-:]/g, '').replace(/\..*/, '');
  const staged = `${dataDir}.restore-${stamp}`;
  const previousDir = `${dataDir}.before-restore-${stamp}`;

  // Before anything changes: this way of stopping works, the directory is the backup's cluster (and the
  // server that answers is the one of this directory), and the file system holds a second copy.
  report.phase(`checking ${dataDir} and ${control.describe}`);
  await control.check();
  const meta = await readMeta(ctx.store, o.target.id, o.name);
  const onDisk = await dirSystemIdentifier(ctx.pgBin, dataDir, o.runAs);
  if (onDisk !== meta.systemIdentifier)
    throw new RestoreError(
      `${dataDir} is cluster ${onDisk}, backup ${o.name} is of cluster ${meta.systemIdentifier}: refusing to replace another cluster`,
    );
  const live = await liveSystemIdentifier(o.target);
  if (live !== undefined && live !== onDisk)
    throw new RestoreError(
      `the server answering on ${o.target.host}:${o.target.port} is cluster ${live}, not the one of ${dataDir} (${onDisk})`,
    );
  const fs = await statfs(dirname(dataDir));
  const free = fs.bavail * fs.bsize;
  const needed = Math.ceil(meta.databaseBytes * 1.2) + 64 * 1024 * 1024;
  if (free < needed)
    throw new RestoreError(
      `${dirname(dataDir)} has ${free} bytes free; the restore needs about ${needed} beside the current data directory`,
    );

  // Restore and verify (replay on a private server, read every row) beside the data directory.
  let restored: RestoreSummary;
  try {
    restored = await restoreBackup(ctx, {
      target: o.target,
      name: o.name,
      dryRun: false,
      targetDir: staged,
      ...(o.targetTime ? { targetTime: o.targetTime } : {}),
      ...(o.runAs ? { runAs: o.runAs } : {}),
      ...(o.replayTimeoutMs ? { replayTimeoutMs: o.replayTimeoutMs } : {}),
    });
  } catch (e) {
    await rm(staged, { recursive: true, force: true });
    throw e;
  }

  report.phase(`stopping the server (${control.describe})`);
  await control.stop();
  report.phase(`swapping: ${dataDir} kept as ${previousDir}`);
  await rename(dataDir, previousDir);
  try {
    await rename(staged, dataDir);
    report.phase('starting the restored server');
    await control.start();
    await serverChecks(o, meta.systemIdentifier);
  } catch (e) {
    // Put things back as they were: the old directory, running.
    report.line(`the restored server failed (${(e as Error).message}); putting ${previousDir} back`);
    await control.stop().catch(() => {});
    await rm(dataDir, { recursive: true, force: true });
    await rename(previousDir, dataDir);
    await control.start();
    throw new RestoreError(`restore not applied, the previous data directory runs again: ${(e as Error).message}`);
  }
  report.phase('taking a new full backup (the restored server runs on a new timeline)');
  let newBackup: string;
  try {
    newBackup = await o.takeFullBackup();
  } catch (e) {
    throw new RestoreError(
      `restore applied (previous directory kept as ${previousDir}), but the new full backup failed: ${(e as Error).message}; take one now (backup full)`,
    );
  }
  return { ...restored, dataDir, previousDir, newBackup };
}
