import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import type { ChecklistReport } from '../../infra/checklist/index.js';

const run = (...args: string[]) =>
  spawnSync('node_modules/.bin/tsx', ['infra/cli/checklist.ts', ...args], { encoding: 'utf8', timeout: 120_000 });

describe('npm run checklist', () => {
  it('--json: the 27 items of prod, exit 1 while an item is not met', () => {
    const r = run('prod', '--json');
    const report = JSON.parse(r.stdout) as ChecklistReport;
    expect(report.environment).toBe('prod');
    expect(report.items).toHaveLength(27);
    for (const i of report.items) expect(['met', 'configured', 'not met', 'not applicable']).toContain(i.status);
    expect(r.status).toBe(report.ok ? 0 : 1);
    expect(report.ok).toBe(report.items.every((i) => i.status !== 'not met'));
  });

  it('a usage error or an unknown environment: exit 2 with one line saying what was wrong', () => {
    const none = run();
    expect(none.status).toBe(2);
    expect(none.stderr).toMatch(/^an environment is required\nusage: npm run checklist -- <env> \[--json\]/);
    const unknown = run('qa');
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/^unknown environment qa; expected one of dev, prod, staging/);
  });
});
