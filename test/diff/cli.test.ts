import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * `npm run diff` against real git refs in a throw-away repository: a copy of this checkout's files
 * (tracked and untracked, minus ignored ones) with its node_modules, commits made there only. The
 * command under test is this checkout's infra/cli/diff.ts, run with the temporary repository as cwd.
 */

const PROJECT = resolve('.');
const CLI = join(PROJECT, 'infra/cli/diff.ts');
const DEV = 'stacks/Pulumi.dev.yaml';
let repo: string;
let originalDev: string;

function git(...args: string[]): string {
  return execFileSync('git', ['-c', 'user.name=Prism Test', '-c', 'user.email=test@prism.invalid', ...args], {
    cwd: repo,
    encoding: 'utf8',
  }).trim();
}

function diff(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', CLI, ...args], {
    cwd: repo,
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** One environment's section of the report (from its header to the blank line after it). */
function section(stdout: string, env: string): string {
  const start = stdout.indexOf(`\n${env}: `);
  expect(start, `no section for ${env} in:\n${stdout}`).toBeGreaterThanOrEqual(0);
  return stdout.slice(start + 1, stdout.indexOf('\n\n', start + 1));
}

beforeAll(() => {
  repo = mkdtempSync(join(tmpdir(), 'prism-diff-repo-'));
  const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: PROJECT,
    encoding: 'utf8',
  })
    .split('\0')
    .filter((f) => f !== '' && existsSync(join(PROJECT, f)));
  for (const f of new Set(files)) cpSync(join(PROJECT, f), join(repo, f));
  symlinkSync(join(PROJECT, 'node_modules'), join(repo, 'node_modules'), 'dir');
  git('init', '--quiet', '--initial-branch=main');
  // `node_modules/` in .gitignore matches directories only, not this symlink.
  writeFileSync(join(repo, '.git/info/exclude'), '/node_modules\n');
  git('add', '--all');
  git('commit', '--quiet', '-m', 'base');
  originalDev = readFileSync(join(repo, DEV), 'utf8');
  expect(git('ls-files', 'node_modules')).toBe('');
}, 60_000);

afterAll(() => rmSync(repo, { recursive: true, force: true }));

describe('npm run diff', () => {
  it('no change: says so for every environment and exits 0, also with --exit-code', () => {
    const r = diff('HEAD', '--exit-code');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const head = git('rev-parse', '--short=12', 'HEAD');
    expect(r.stdout).toContain(`Manifest diff: HEAD (${head}) → working tree`);
    for (const env of ['dev', 'staging', 'prod']) expect(r.stdout).toContain(`\n${env}: no changes\n`);
    expect(r.stdout.trim().split('\n').at(-1)).toBe(
      `No changes: HEAD (${head}) and working tree render the same objects in every environment (dev, prod, staging).`,
    );
  });

  it('an added object and a changed field: listed per environment; exit 0, 1 with --exit-code', () => {
    writeFileSync(join(repo, DEV), `${originalDev}  prism:services:\n    gateway:\n      replicas: 2\n`);
    const r = diff('HEAD');
    expect(r.status).toBe(0);
    const dev = section(r.stdout, 'dev').split('\n');
    expect(dev.slice(0, 4)).toEqual([
      'dev: 1 added, 0 removed, 1 changed',
      '+ policy/v1 PodDisruptionBudget prism/gateway',
      '~ apps/v1 Deployment prism/gateway',
      '    spec.replicas: 1 → 2',
    ]);
    // More than one replica also spreads the pods: a new field shows its whole value.
    expect(dev).toContain(
      '    spec.template.spec.affinity: (none) → {"podAntiAffinity":{"preferredDuringSchedulingIgnoredDuringExecution":[{"podAffinityTerm":{"labelSelector":{"matchLabels":{"app":"gateway","app.kubernetes.io/name":"gateway"}},"topologyKey":"kubernetes.io/hostname"},"weight":100}]}}',
    );
    expect(r.stdout).toContain('\nstaging: no changes\n');
    expect(r.stdout).toContain('\nprod: no changes\n');
    expect(r.stdout.trim().split('\n').at(-1)).toMatch(
      /^Changes in 1 of 3 environments \(dev\) between HEAD \([0-9a-f]{12}\) and working tree\.$/,
    );
    expect(diff('HEAD', '--exit-code').status).toBe(1);
  });

  it('a removed object: the committed change against a working tree that undoes it', () => {
    git('commit', '--quiet', '-am', 'gateway: two replicas in dev');
    writeFileSync(join(repo, DEV), originalDev);
    const r = diff('HEAD');
    expect(r.status).toBe(0);
    const dev = section(r.stdout, 'dev').split('\n');
    expect(dev.slice(0, 4)).toEqual([
      'dev: 0 added, 1 removed, 1 changed',
      '- policy/v1 PodDisruptionBudget prism/gateway',
      '~ apps/v1 Deployment prism/gateway',
      '    spec.replicas: 2 → 1',
    ]);
    expect(
      dev.some((l) => l.startsWith('    spec.template.spec.affinity: {"podAntiAffinity"') && l.endsWith(' → (none)')),
    ).toBe(true);
    // An older ref that matches the working tree again: no change.
    const older = diff('HEAD~1', '--exit-code');
    expect(older.status).toBe(0);
    expect(older.stdout).toContain('No changes: HEAD~1');
  });

  it('a changed config file: the changed lines of the text, with field path', () => {
    writeFileSync(join(repo, DEV), `${originalDev}  prism:rateLimit:\n    requestsPerSecond: 150\n`);
    const r = diff('HEAD~1');
    expect(r.status).toBe(0);
    const dev = section(r.stdout, 'dev');
    expect(dev).toContain('~ v1 ConfigMap prism/gateway-config');
    expect(dev).toMatch(
      /\n {4}data\["gateway\.yaml"\]: text changed\n {6}- +requests_per_second: 100\n {6}\+ +requests_per_second: 150(\n|$)/,
    );
    // The pod template carries the config hash, so the gateway rolls.
    expect(dev).toMatch(/spec\.template\.metadata\.annotations\["prism\.io\/config-hash"\]: "[0-9a-f]+" → "[0-9a-f]+"/);
    writeFileSync(join(repo, DEV), originalDev);
  });

  it('an unknown ref: exit 2 with the reason, no worktree left behind', () => {
    const r = diff('no-such-branch');
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('npm run diff: unknown git ref "no-such-branch"');
    expect(git('worktree', 'list').split('\n')).toHaveLength(1);
  });

  it('a ref whose stacks do not render: exit 2 naming the ref and the bad key; the worktree is removed', () => {
    writeFileSync(join(repo, DEV), `${originalDev}  prism:nats:\n    replicas: 2\n`);
    git('commit', '--quiet', '-am', 'broken nats replicas');
    writeFileSync(join(repo, DEV), originalDev);
    const r = diff('HEAD');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/npm run diff: rendering HEAD \([0-9a-f]{12}\) failed/);
    expect(r.stderr).toContain('prism:nats.replicas');
    expect(git('worktree', 'list').split('\n')).toHaveLength(1);
  });

  it('a ref from before the project had a cdk8s.yaml: exit 2, saying so', () => {
    git('rm', '--quiet', '--cached', 'cdk8s.yaml');
    git('commit', '--quiet', '-m', 'no cdk8s.yaml');
    git('add', 'cdk8s.yaml');
    git('commit', '--quiet', '-m', 'cdk8s.yaml back');
    const r = diff('HEAD~1');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^npm run diff: HEAD~1 \([0-9a-f]{12}\): no cdk8s\.yaml, nothing to render$/m);
    expect(git('worktree', 'list').split('\n')).toHaveLength(1);
  });

  it('usage errors exit 2', () => {
    expect(diff().status).toBe(2);
    expect(diff('HEAD', 'HEAD~1').stderr).toContain('usage: npm run diff -- <git-ref> [--exit-code]');
  });
});
