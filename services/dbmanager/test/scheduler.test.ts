import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
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
