import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MAX_HEARTBEAT_AGE_MS, scheduleProblems, writeScheduleStatus } from '../src/schedule-status.js';
import { parseJob, startScheduler } from '../src/scheduler.js';

const node = (script: string) => spawn(process.execPath, ['-e', script], { stdio: 'ignore' });

describe('the DB manager’s scheduler (Compose’s backup schedule)', () => {
  it('reads jobs as name|cron|arguments and refuses a malformed one with the reason', () => {
    expect(parseJob('backup-auth|0 2 * * *|backup auth full')).toEqual({
      name: 'backup-auth',
      cron: '0 2 * * *',
      args: ['backup', 'auth', 'full'],
    });
    expect(() => parseJob('backup-auth|0 2 * *|backup auth full')).toThrow(
      /"0 2 \* \*" is not a five-field cron expression/,
    );
    expect(() => parseJob('backup-auth|0 25 * * *|backup auth full')).toThrow(
      /backup-auth: "0 25 \* \* \*" is not a cron expression/,
    );
    expect(() => parseJob('backup-auth 0 2 * * * backup')).toThrow(/expected <name>\|<cron>\|<arguments>/);
  });

  it('runs each job at its times as a child process, never twice at once, and stops the running ones', async () => {
    const said: string[] = [];
    let started = 0;
    // Every second (croner's six-field form); each run lasts 2.5 s, so runs overlap if allowed.
    const s = startScheduler(
      [{ name: 'slow', cron: '* * * * * *', args: [] }],
      () => (started++, node('setTimeout(() => {}, 2500)')),
      (l) => said.push(l),
    );
    await new Promise((r) => setTimeout(r, 4200));
    await s.stop();
    expect(started).toBeGreaterThanOrEqual(1);
    expect(started).toBeLessThanOrEqual(2);
    expect(said.filter((l) => /slow: started/.test(l)).length).toBe(started);
    expect(said.some((l) => /slow: (still running since its last time; skipped|done in)/.test(l))).toBe(true);
    const count = started;
    await new Promise((r) => setTimeout(r, 1500));
    expect(started).toBe(count); // nothing after stop
  }, 15_000);

  it('reports a failing job with its exit code', async () => {
    const said: string[] = [];
    const s = startScheduler(
      [{ name: 'broken', cron: '* * * * * *', args: [] }],
      () => node('process.exit(3)'),
      (l) => said.push(l),
    );
    await new Promise((r) => setTimeout(r, 1800));
    await s.stop();
    expect(said.join('\n')).toMatch(/broken: FAILED \(exit 3\) after \d+\.\d s/);
  }, 10_000);
});

describe('the scheduler’s status file and its health check (schedule-health, the Compose health check)', () => {
  const cli = (args: string[]) =>
    spawnSync('node_modules/.bin/tsx', ['services/dbmanager/src/cli.ts', ...args], { encoding: 'utf8' });

  it('is healthy while it beats; names a failed job; goes stale once stopped; fails without a file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'prism-schedule-'));
    const file = join(dir, 'status.json');
    try {
      expect(scheduleProblems(file)[0]).toMatch(/no schedule status at .*status\.json \(ENOENT\)/);
      const s = startScheduler(
        [
          { name: 'nightly', cron: '0 2 * * *', args: [] },
          { name: 'broken', cron: '* * * * * *', args: [] },
        ],
        () => node('process.exit(3)'),
        () => {},
        file,
      );
      expect(scheduleProblems(file)).toEqual([]);
      expect(cli(['schedule-health', '--status-file', file]).status).toBe(0);
      // The broken job runs every second (once the synchronous CLI call above lets the event loop go).
      for (let i = 0; i < 100 && !scheduleProblems(file).some((p) => p.startsWith('broken:')); i++)
        await new Promise((r) => setTimeout(r, 100));
      // Read before stopping: stop() ends a run in flight (SIGTERM), which would then be the last run.
      // spawnSync holds the event loop, so no run ends while the check reads the file.
      const failed = cli(['schedule-health', '--status-file', file]);
      await s.stop();
      expect(failed.status).toBe(1);
      expect(failed.stderr).toMatch(/broken: its last run at \S+ failed \(exit 3\)/m);
      // No heartbeat once stopped: a minute later the check fails on its own.
      const later = new Date(Date.now() + MAX_HEARTBEAT_AGE_MS + 1000);
      expect(scheduleProblems(file, later).join('\n')).toMatch(/the scheduler's last heartbeat was \d+ s ago/);
      expect(cli(['schedule-health']).status).toBe(2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);

  it('fails for a schedule that has stopped (a job with no next run)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'prism-schedule-'));
    const file = join(dir, 'status.json');
    try {
      writeScheduleStatus(file, { heartbeat: new Date().toISOString(), jobs: { nightly: { next: null } } });
      expect(scheduleProblems(file)).toEqual(['nightly: has no next run (its schedule stopped)']);
      writeScheduleStatus(file, { heartbeat: new Date().toISOString(), jobs: {} });
      expect(scheduleProblems(file)).toEqual(['no job is scheduled']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
