import { readFileSync, renameSync, writeFileSync } from 'node:fs';

/**
 * What the scheduler is doing, written to a file the container's health check reads (`schedule-health`): a
 * heartbeat the scheduler's event loop rewrites, each job's next run and how its last run ended. Compose has
 * no other way to learn that a long-running scheduler stopped scheduling, hangs, or that its backups fail.
 */
export interface ScheduleStatus {
  /** When the scheduler last wrote this file (ISO 8601). */
  readonly heartbeat: string;
  readonly jobs: Readonly<Record<string, JobStatus>>;
}

export interface JobStatus {
  readonly next: string | null;
  readonly last?: { readonly at: string; readonly ok: boolean; readonly result: string };
}

/** How often the scheduler rewrites the file; the health check allows several missed beats. */
export const HEARTBEAT_MS = 10_000;
export const MAX_HEARTBEAT_AGE_MS = 6 * HEARTBEAT_MS;

/** Replaces the file in one step (a reader never sees half a file). */
export function writeScheduleStatus(file: string, status: ScheduleStatus): void {
  writeFileSync(`${file}.tmp`, JSON.stringify(status));
  renameSync(`${file}.tmp`, file);
}

/** Why the scheduler is not working, one line per reason; empty when it is. */
export function scheduleProblems(file: string, now: Date = new Date()): string[] {
  let status: ScheduleStatus;
  try {
    status = JSON.parse(readFileSync(file, 'utf8')) as ScheduleStatus;
  } catch (e) {
    return [`no schedule status at ${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`];
  }
  const problems: string[] = [];
  const age = now.getTime() - Date.parse(status.heartbeat);
  if (!(age <= MAX_HEARTBEAT_AGE_MS))
    problems.push(`the scheduler's last heartbeat was ${Math.round(age / 1000)} s ago (at ${status.heartbeat})`);
  const jobs = Object.entries(status.jobs ?? {});
  if (jobs.length === 0) problems.push('no job is scheduled');
  for (const [name, job] of jobs) {
    if (!job.next) problems.push(`${name}: has no next run (its schedule stopped)`);
    if (job.last && !job.last.ok) problems.push(`${name}: its last run at ${job.last.at} failed (${job.last.result})`);
  }
  return problems;
}
