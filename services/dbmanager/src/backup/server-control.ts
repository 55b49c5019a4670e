import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { run } from './pg-tools.js';
import { RestoreError } from './restore-error.js';

/**
 * How `restore --apply` stops and starts the database server whose data directory it swaps. Two ways
 * are automated: pg_ctl (a server on this machine started with pg_ctl or by hand: stopped with
 * `pg_ctl stop -m fast`, started again with the options it ran with, from its postmaster.opts) and the
 * local platform's supervisor (which otherwise restarts a server the moment it stops). In Compose and
 * Kubernetes the server runs in another container: the DB manager cannot stop it there and refuses to
 * apply (see docs/operations/disaster-recovery.md for the manual steps).
 */
export interface ServerControl {
  /** For messages: how the server is stopped and started. */
  readonly describe: string;
  /** The server's data directory (on this machine). */
  readonly dataDir: string;
  /** Refuses (throws) when the server cannot be stopped this way; called before anything is changed. */
  check(): Promise<void>;
  stop(): Promise<void>;
  start(): Promise<void>;
}

/** The server's command line of its last start (postmaster.opts), without the program and its data directory. */
function parsePostmasterOpts(text: string): string[] {
  const args = [...text.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]!);
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '-D') i++;
    else out.push(args[i]!);
  }
  return out;
}

const quote = (a: string) => `'${a.replace(/'/g, `'\\''`)}'`;

export function pgCtlControl(pgBin: string, dataDir: string, runAs?: string): ServerControl {
  const pgCtl = join(pgBin, 'pg_ctl');
  const as = runAs ? { runAs } : {};
  let options: string[] | undefined;
  return {
    describe: `pg_ctl on ${dataDir}`,
    dataDir,
    async check() {
      if (!existsSync(join(dataDir, 'PG_VERSION')))
        throw new RestoreError(`${dataDir} is not a PostgreSQL data directory`);
      // pg_ctl status exits 3 when no server runs on the directory, 4 when it is not a data directory.
      const status = await run(pgCtl, ['-D', dataDir, 'status'], as).catch((e: Error) => e);
      if (status instanceof Error) {
        if (!/exited with 3/.test(status.message))
          throw new RestoreError(`pg_ctl cannot tell whether the server of ${dataDir} runs: ${status.message}`);
        if (!existsSync(join(dataDir, 'postmaster.opts')))
          throw new RestoreError(
            `the server of ${dataDir} is stopped and its postmaster.opts is missing: it cannot be started with its options`,
          );
      }
      options = parsePostmasterOpts(await readFile(join(dataDir, 'postmaster.opts'), 'utf8'));
    },
    async stop() {
      const running = await run(pgCtl, ['-D', dataDir, 'status'], as).then(
        () => true,
        () => false,
      );
      if (running) await run(pgCtl, ['-D', dataDir, '-m', 'fast', '-w', '-t', '120', 'stop'], as);
    },
    async start() {
      if (!options) throw new RestoreError('internal: start before check');
      const log = join(dirname(dataDir), `${dataDir.split('/').pop()}-restore-start.log`);
      await run(pgCtl, ['-D', dataDir, '-l', log, '-w', '-t', '300', '-o', options.map(quote).join(' '), 'start'], as);
    },
  };
}

/**
 * The local platform's supervisor holds the server: a `hold-<process>` file in its request directory makes
 * it stop the process and not start it again until the file goes (then it starts it as `up` did).
 */
export function supervisorControl(
  requestDir: string,
  processName: string,
  dataDir: string,
  timeoutMs = 180_000,
): ServerControl {
  const hold = join(requestDir, `hold-${processName}`);
  const held = join(requestDir, `held-${processName}`);
  const waitFor = async (what: string, done: () => boolean) => {
    const until = Date.now() + timeoutMs;
    while (!done()) {
      if (Date.now() > until)
        throw new RestoreError(`the local platform's supervisor did not ${what} within ${timeoutMs / 1000} s`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  return {
    describe: `the local platform's supervisor (${processName})`,
    dataDir,
    check() {
      if (!existsSync(requestDir))
        throw new RestoreError(`${requestDir} is no running local platform's supervisor directory`);
      if (!existsSync(join(dataDir, 'PG_VERSION')))
        throw new RestoreError(`${dataDir} is not a PostgreSQL data directory`);
      return Promise.resolve();
    },
    async stop() {
      await writeFile(hold, '');
      await waitFor(`stop ${processName}`, () => existsSync(held));
    },
    async start() {
      await rm(hold, { force: true });
      await waitFor(`start ${processName} again`, () => !existsSync(held));
    },
  };
}
