import { type ChildProcess, spawn } from 'node:child_process';
import { Cron } from 'croner';
import { HEARTBEAT_MS, type JobStatus, writeScheduleStatus } from './schedule-status.js';

/**
 * The DB manager's own schedule, for Compose (Kubernetes runs the same tasks as CronJobs): each
 * job runs this CLI again in a child process at its cron times, in UTC. A job still running when
 * its next time comes is not started twice (CronJob's concurrencyPolicy Forbid).
 */
export interface ScheduledJob {
  readonly name: string;
  readonly cron: string;
  readonly args: readonly string[];
}

/** `--job` values: `<name>|<five-field cron>|<CLI arguments, space-separated>`. */
export function parseJob(spec: string): ScheduledJob {
  const parts = spec.split('|');
  const [name, cron, args] = parts;
  if (parts.length !== 3 || !name || !cron || !args?.trim())
    throw new Error(`--job "${spec}": expected <name>|<cron>|<arguments>`);
  if (cron.trim().split(/\s+/).length !== 5)
    throw new Error(`--job ${name}: "${cron}" is not a five-field cron expression`);
  try {
    new Cron(cron, { paused: true, timezone: 'UTC' }).stop();
  } catch (e) {
    throw new Error(`--job ${name}: "${cron}" is not a cron expression (${(e as Error).message})`, { cause: e });
  }
  return { name, cron, args: args.trim().split(/\s+/) };
}

export interface Scheduler {
  /** The next run of every job. */
  next(): Record<string, Date | null>;
  /** Stops scheduling, forwards `signal` to running jobs and waits for them. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export function startScheduler(
  jobs: readonly ScheduledJob[],
  run: (job: ScheduledJob) => ChildProcess,
  log: (line: string) => void,
  /** Where to keep the status the health check reads (`schedule-health`); none when absent. */
  statusFile?: string,
): Scheduler {
  const running = new Map<string, ChildProcess>();
  const last = new Map<string, NonNullable<JobStatus['last']>>();
  const crons = jobs.map(
    (job) =>
      new Cron(job.cron, { timezone: 'UTC', protect: true, name: job.name }, () => {
        if (running.has(job.name)) return log(`${job.name}: still running since its last time; skipped`);
        const started = Date.now();
        log(`${job.name}: started (${job.args.join(' ')})`);
        const child = run(job);
        running.set(job.name, child);
        return new Promise<void>((resolve) => {
          child.on('close', (code, signal) => {
            running.delete(job.name);
            const took = ((Date.now() - started) / 1000).toFixed(1);
            log(
              code === 0
                ? `${job.name}: done in ${took} s`
                : `${job.name}: FAILED (${signal ?? `exit ${code}`}) after ${took} s`,
            );
            last.set(job.name, {
              at: new Date(started).toISOString(),
              ok: code === 0,
              result: code === 0 ? `done in ${took} s` : (signal ?? `exit ${code}`),
            });
            writeStatus();
            resolve();
          });
        });
      }),
  );
  const next = () => Object.fromEntries(crons.map((c, i) => [jobs[i]!.name, c.nextRun()]));
  // The heartbeat comes from this event loop's timer: a blocked or dead scheduler stops beating.
  function writeStatus(): void {
    if (!statusFile) return;
    const at = next();
    const status = Object.fromEntries(
      jobs.map((j) => [
        j.name,
        { next: at[j.name]?.toISOString() ?? null, ...(last.has(j.name) ? { last: last.get(j.name) } : {}) },
      ]),
    );
    try {
      writeScheduleStatus(statusFile, { heartbeat: new Date().toISOString(), jobs: status });
    } catch (e) {
      log(`cannot write the status file ${statusFile}: ${(e as Error).message}`);
    }
  }
  writeStatus();
  const beat = statusFile ? setInterval(writeStatus, HEARTBEAT_MS) : undefined;
  return {
    next,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      clearInterval(beat);
      for (const c of crons) c.stop();
      const children = [...running.values()];
      await Promise.all(
        children.map(
          (c) =>
            new Promise((r) =>
              c.exitCode !== null || c.signalCode !== null ? r(null) : (c.once('close', r), c.kill(signal)),
            ),
        ),
      );
    },
  };
}

/** Runs this CLI again with the job's arguments, its output passed through. */
export function runCli(job: ScheduledJob): ChildProcess {
  return spawn(process.execPath, [...process.execArgv, process.argv[1]!, ...job.args], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
}
