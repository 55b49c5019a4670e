import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';

/**
 * The pull-request workflow, checked by actionlint (it also runs shellcheck on every `run:` script
 * when shellcheck is installed). CI installs it: go install github.com/rhysd/actionlint/cmd/actionlint@v1.7.12
 */

const WORKFLOW = '.github/workflows/pr.yml';

function actionlint(...files: string[]) {
  const found = spawnSync('sh', ['-c', 'command -v actionlint'], { encoding: 'utf8' });
  if (found.status !== 0) {
    throw new Error(
      'actionlint is not installed: go install github.com/rhysd/actionlint/cmd/actionlint@v1.7.12 (see .ci/run)',
    );
  }
  return spawnSync('actionlint', ['-no-color', ...files], { encoding: 'utf8' });
}

describe('pull-request workflow', () => {
  it('passes actionlint, with shellcheck on its scripts', () => {
    expect(execFileSync('sh', ['-c', 'command -v shellcheck'], { encoding: 'utf8' }).trim()).not.toBe('');
    const r = actionlint(WORKFLOW);
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('actionlint rejects a broken copy (so the check above can fail)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'prism-workflow-'));
    try {
      const broken = readFileSync(WORKFLOW, 'utf8')
        .replace('command: preview', 'command: preview\n          no-such-input: true')
        .replace('npm run -s diff -- HEAD^1 > manifest-diff.txt', 'npm run -s diff -- $BASE_REF > manifest-diff.txt');
      writeFileSync(join(dir, 'pr.yml'), broken);
      const r = actionlint(join(dir, 'pr.yml'));
      expect(r.status).toBe(1);
      expect(r.stdout).toContain('input "no-such-input" is not defined in action "pulumi/actions@v6"');
      expect(r.stdout).toContain('SC2086'); // shellcheck: unquoted variable
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('runs the tests, renders, posts the diff, and previews every stack with pulumi/actions', () => {
    const wf = parse(readFileSync(WORKFLOW, 'utf8')) as {
      on: Record<string, unknown>;
      jobs: Record<
        string,
        {
          steps: { uses?: string; run?: string; with?: Record<string, unknown>; env?: Record<string, string> }[];
          strategy?: { matrix: { stack: string[] } };
        }
      >;
    };
    expect(Object.keys(wf.on)).toEqual(['pull_request']);
    const runs = (job: string) => wf.jobs[job]!.steps.map((s) => s.run ?? '').join('\n');
    const uses = (job: string) => wf.jobs[job]!.steps.map((s) => s.uses ?? '');
    expect(runs('test')).toContain('bash .ci/run');
    expect(uses('test')).toContain('actions/setup-node@v5');
    expect(wf.jobs.test!.steps.find((s) => s.uses === 'actions/setup-node@v5')!.with!['node-version']).toBe(24);
    expect(runs('manifests')).toContain('npm run synth');
    expect(runs('manifests')).toContain('npm run -s diff -- HEAD^1');
    expect(uses('manifests')).toContain('actions/github-script@v8');
    const preview = wf.jobs.preview!;
    expect(preview.strategy!.matrix.stack).toEqual(['dev', 'staging', 'prod']);
    const pulumi = preview.steps.find((s) => s.uses === 'pulumi/actions@v6')!;
    expect(pulumi.with).toMatchObject({ command: 'preview', 'comment-on-pr': true });
    expect(pulumi.env!.PULUMI_ACCESS_TOKEN).toBe('${{ secrets.PULUMI_ACCESS_TOKEN }}');
    // Every stack in stacks/ is previewed.
    const stacks = execFileSync('ls', ['stacks'], { encoding: 'utf8' })
      .match(/Pulumi\.([a-z0-9-]+)\.yaml/g)!
      .map((f) => f.split('.')[1]);
    expect([...preview.strategy!.matrix.stack].sort()).toEqual(stacks.sort());
  });
});
