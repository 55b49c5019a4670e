import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';

/**
 * The two CI paths in step: the pull-request workflow on GitHub (PRISM_TOOLCHAIN=download) runs the steps of
 * .ci/run, the script this machine's CI runs (PRISM_TOOLCHAIN=source), every one of them, through .ci/run
 * itself, so both run the same test command and the same scripts. No step anywhere reads ../shared.
 */

const WORKFLOW = '.github/workflows/pr.yml';
const CI_RUN = '.ci/run';

type Step = {
  name?: string;
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
  env?: Record<string, string>;
};
type Job = { env?: Record<string, string>; steps: Step[]; 'timeout-minutes'?: number };
const workflow = parse(readFileSync(WORKFLOW, 'utf8')) as { jobs: Record<string, Job> };
const ciRun = readFileSync(CI_RUN, 'utf8');

/** The steps .ci/run defines, in its order (its STEPS array), each with a step_<name> function. */
function ciSteps(): string[] {
  const m = /^STEPS=\(([a-z ]+)\)$/m.exec(ciRun);
  if (!m) throw new Error('.ci/run has no STEPS=(...) line');
  return m[1]!.split(' ');
}

/** The .ci/run steps a job runs, in order ("bash .ci/run a b" lines of its run: scripts). */
function jobCiSteps(job: Job): string[] {
  return job.steps.flatMap((s) =>
    [...(s.run ?? '').matchAll(/bash \.ci\/run ([a-z ]+)$/gm)].flatMap((m) => m[1]!.trim().split(' ')),
  );
}

function toolchain(env: Record<string, string | undefined>) {
  const clean = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('PRISM_TOOLCHAIN') && k !== 'GITHUB_ACTIONS'),
  );
  return spawnSync('bash', ['-c', '. scripts/toolchain.sh && prism_toolchain && echo "$PRISM_TOOLCHAIN"'], {
    encoding: 'utf8',
    env: { ...clean, ...env },
  });
}

describe('the pull-request workflow and .ci/run', () => {
  it('.ci/run defines a function for each of its steps and runs them in order', () => {
    const steps = ciSteps();
    expect(steps).toEqual(['prerequisites', 'npm', 'lint', 'checklist', 'test', 'images', 'compose', 'deploy']);
    for (const s of steps) expect(ciRun).toMatch(new RegExp(`^step_${s}\\(\\) \\{$`, 'm'));
    // The test command is the README's: npm test, once, in step_test.
    expect(ciRun.match(/^\s*npm test$/gm)).toHaveLength(1);
    expect(ciRun).toContain('bash scripts/install-prerequisites.sh');
    expect(ciRun).toContain('bash scripts/image-test.sh');
    expect(ciRun).toContain('bash scripts/deploy-test.sh "${args[@]}"');
    // The Compose lane: up, the journeys, and down whether they passed or not (down fails on a leftover).
    const compose = /^step_compose\(\) \{\n([\s\S]*?)^\}$/m.exec(ciRun)![1]!;
    expect(compose).toContain('{ bash scripts/compose-run.sh up && bash scripts/compose-run.sh journeys; } || rc=$?');
    expect(compose).toMatch(/^\s*bash scripts\/compose-run\.sh down \|\| /m);
    expect(compose).toMatch(/^\s*return "\$rc"$/m);
  });

  it('the workflow runs every .ci/run step (npm ci and the prerequisites in each job that needs them, the rest once), in .ci/run order within each job, in download mode', () => {
    const all = ciSteps();
    const byJob = Object.fromEntries(Object.entries(workflow.jobs).map(([name, job]) => [name, jobCiSteps(job)]));
    const ran = Object.values(byJob).flat();
    // npm ci is needed by each job that runs anything else, the prerequisites (servers, Go tools) by each job
    // that runs the tests or the image test (which runs the images beside a local platform); every other step
    // runs once.
    const perJob = new Set(['npm', 'prerequisites']);
    expect(ran.filter((s) => !perJob.has(s)).sort()).toEqual(all.filter((s) => !perJob.has(s)).sort());
    expect(ran).toContain('prerequisites');
    for (const [name, steps] of Object.entries(byJob)) {
      if (steps.length === 0) continue;
      expect(steps, name).toEqual(all.filter((s) => steps.includes(s)));
      expect(new Set(steps).size, `${name}: each step once`).toBe(steps.length);
      expect(workflow.jobs[name]!.env?.PRISM_TOOLCHAIN, `${name}: PRISM_TOOLCHAIN`).toBe('download');
      if (steps.some((s) => s !== 'prerequisites' && s !== 'npm'))
        expect(steps, `${name}: npm ci first`).toContain('npm');
      if (steps.includes('test') || steps.includes('images'))
        expect(steps, `${name}: the prerequisites first`).toContain('prerequisites');
    }
  });

  it('no workflow step bypasses .ci/run for what it runs, and none reads ../shared', () => {
    for (const [name, job] of Object.entries(workflow.jobs)) {
      for (const step of job.steps) {
        const text = JSON.stringify(step);
        expect(text, `${name}: ${step.name ?? step.uses}`).not.toMatch(/\.\.\/shared|\/work\/shared/);
        if (name === 'test' || name === 'images-and-deploy' || name === 'compose') {
          expect(step.run ?? '', `${name}: ${step.name}`).not.toMatch(
            /npm (run )?test|vitest|bash scripts\/(image-test|deploy-test|install-prerequisites|compose-run)\.sh/,
          );
        }
      }
    }
  });

  it('the only reads of ../shared in the CI scripts are on the source path', () => {
    const files = [CI_RUN, ...readdirSync('scripts').map((f) => `scripts/${f}`)].filter((f) =>
      /\.(sh|mjs)$|\/run$/.test(f),
    );
    const readers = files.filter((f) => readFileSync(f, 'utf8').includes('../shared'));
    expect(readers.sort()).toEqual(['.ci/run', 'scripts/control-plane-tools.sh']);
    // .ci/run: inside `if [ "$PRISM_TOOLCHAIN" = source ] && ...`.
    const line = ciRun.split('\n').find((l) => l.includes('../shared') && l.trimStart().startsWith('if'))!;
    expect(line).toMatch(/^\s*if \[ "\$PRISM_TOOLCHAIN" = source \] && \[ -f \.\.\/shared\//);
    // control-plane-tools.sh: the language host source is used only by build_pulumi, after download mode exited.
    const tools = readFileSync('scripts/control-plane-tools.sh', 'utf8');
    const downloadExit = tools.indexOf('if [ "$PRISM_TOOLCHAIN" = download ]; then');
    expect(downloadExit).toBeGreaterThan(0);
    expect(tools.indexOf('"$LANGUAGE_HOST_SRC', downloadExit)).toBeGreaterThan(
      tools.indexOf('\n  exit 0\nfi\n', downloadExit),
    );
  });

  it('the GitHub path pins the versions the source path builds', () => {
    const tools = readFileSync('scripts/control-plane-tools.sh', 'utf8');
    const pulumi = /^PULUMI=v(\S+)/m.exec(tools)![1];
    const step = workflow.jobs['images-and-deploy']!.steps.find((s) => s.uses === 'pulumi/actions@v6')!;
    expect(step.with!['pulumi-version']).toBe(pulumi);
    // The cert-manager step reads the deploy test's versions (cert-manager, approver-policy) with these seds:
    // each must find one.
    const run = workflow.jobs['images-and-deploy']!.steps.find(
      (s) => s.name === 'cert-manager, approver-policy and ingress-nginx',
    )!.run!;
    const seds = [...run.matchAll(/\$\(sed -n '([^']+)' scripts\/deploy-test\.sh\)/g)].map((m) => m[1]!);
    expect(seds).toHaveLength(2);
    for (const sed of seds)
      expect(execFileSync('sed', ['-n', sed, 'scripts/deploy-test.sh'], { encoding: 'utf8' }).trim()).toMatch(
        /^v\d+\.\d+\.\d+$/,
      );
  });
});

describe('PRISM_TOOLCHAIN, the one switch', () => {
  it('defaults by an explicit, logged detection: download on GitHub Actions, source elsewhere', () => {
    const gh = toolchain({ GITHUB_ACTIONS: 'true' });
    expect(gh.stdout.trim()).toBe('download');
    expect(gh.stderr).toContain('toolchain: download (GITHUB_ACTIONS=true');
    const here = toolchain({});
    expect(here.stdout.trim()).toBe('source');
    expect(here.stderr).toContain('toolchain: source (not on GitHub Actions');
    const set = toolchain({ GITHUB_ACTIONS: 'true', PRISM_TOOLCHAIN: 'source' });
    expect(set.stdout.trim()).toBe('source');
    expect(set.stderr).toContain('toolchain: source (PRISM_TOOLCHAIN=source)');
  });

  it('refuses a value it does not know', () => {
    const r = toolchain({ PRISM_TOOLCHAIN: 'downlaod' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('PRISM_TOOLCHAIN=downlaod: expected download or source');
  });

  it('download mode builds nothing: the tools must be on PATH, and a missing one is named', () => {
    const env = { ...process.env, PRISM_TOOLCHAIN: 'download', PRISM_TOOLS_CACHE: '/nonexistent/prism-tools' };
    // Only the system's directories on PATH: no kwok, no control plane there.
    const bare = spawnSync('bash', ['scripts/control-plane-tools.sh', 'kwok', 'kubernetes'], {
      encoding: 'utf8',
      env: { ...env, PATH: `/usr/bin:/bin:${process.execPath.replace(/\/node$/, '')}` },
    });
    expect(bare.status).toBe(1);
    expect(bare.stderr).toContain('not on PATH: kwok');
    expect(bare.stderr).not.toContain('building');
    // Present on PATH: nothing to add to it.
    const dir = execFileSync('sh', ['-c', 'dirname "$(command -v bash)"'], { encoding: 'utf8' }).trim();
    const ok = spawnSync('bash', ['scripts/control-plane-tools.sh', '--print-path', 'kubectl'], {
      encoding: 'utf8',
      env: { ...env, PATH: `${dir}:/usr/bin:/bin:/usr/local/bin` },
    });
    if (spawnSync('sh', ['-c', 'command -v kubectl']).status === 0) {
      expect(ok.stderr).not.toContain('missing');
      expect(ok.status).toBe(0);
      expect(ok.stdout).toBe('\n');
    }
  });

  it('cert-manager and approver-policy: built at the versions the deploy test pins; download mode refuses them', () => {
    const pinned = (name: string) =>
      new RegExp(`^${name}=(v\\S+)`, 'm').exec(readFileSync('scripts/deploy-test.sh', 'utf8'))![1];
    const cache = '/nonexistent/prism-tools';
    const source = spawnSync(
      'bash',
      ['scripts/control-plane-tools.sh', '--print-path', 'cert-manager', 'approver-policy'],
      {
        encoding: 'utf8',
        env: { ...process.env, PRISM_TOOLCHAIN: 'source', PRISM_TOOLS_CACHE: cache },
      },
    );
    expect(source.status).toBe(1);
    expect(source.stderr).toContain(`${cache}/cert-manager-${pinned('CERT_MANAGER')} is missing`);
    // No host binary of either is released: the lane there is kind, not a build here.
    for (const tool of ['cert-manager', 'approver-policy']) {
      const r = spawnSync('bash', ['scripts/control-plane-tools.sh', tool], {
        encoding: 'utf8',
        env: { ...process.env, PRISM_TOOLCHAIN: 'download', PRISM_TOOLS_CACHE: cache },
      });
      expect(r.status).toBe(1);
      expect(r.stderr).toContain(`no ${tool} host binary is released`);
    }
    const approverPolicy = spawnSync('bash', ['scripts/control-plane-tools.sh', '--print-path', 'approver-policy'], {
      encoding: 'utf8',
      env: { ...process.env, PRISM_TOOLCHAIN: 'source', PRISM_TOOLS_CACHE: cache },
    });
    expect(approverPolicy.stderr).toContain(`${cache}/approver-policy-${pinned('APPROVER_POLICY')} is missing`);
  });

  it('the deploy test on an existing cluster needs its KUBECONFIG', () => {
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'KUBECONFIG'));
    const r = spawnSync('bash', ['scripts/deploy-test.sh', '--existing-cluster'], {
      encoding: 'utf8',
      env: { ...env, PRISM_TOOLCHAIN: 'download' },
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--existing-cluster needs KUBECONFIG');
    const bad = spawnSync('bash', ['scripts/deploy-test.sh', '--exisiting-cluster'], {
      encoding: 'utf8',
      env: { ...env, PRISM_TOOLCHAIN: 'download' },
    });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain(
      'unknown option --exisiting-cluster (--dry-run-only, --existing-cluster, --keep <dir>)',
    );
    // --keep leaves a stack deployed: only on a cluster of the caller's, one stack at a time.
    for (const args of [
      ['--keep', '/tmp/x', 'dev'],
      ['--existing-cluster', '--keep', '/tmp/x', 'dev', 'prod'],
    ]) {
      const keep = spawnSync('bash', ['scripts/deploy-test.sh', ...args], {
        encoding: 'utf8',
        env: { ...env, KUBECONFIG: '/nonexistent', PRISM_TOOLCHAIN: 'download' },
      });
      expect(keep.status, args.join(' ')).toBe(2);
      expect(keep.stderr).toContain('--keep goes with --existing-cluster and exactly one stack');
    }
  });
});
