/**
 * `npm run bench:synth`: how long the main job takes, against baselines measured in the same run
 * (a bare node start, node with the tsx loader), the same job on tsx instead of Node's type stripping,
 * and the former `npm run synth` (cdk8s-cli, then two more TypeScript processes). Rounds take turns so load on the machine hits every target
 * alike; medians are printed. BENCH_ROUNDS (default 5). Writes the same files `npm run synth` does.
 */
import { spawnSync } from 'node:child_process';
import { availableParallelism, loadavg } from 'node:os';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const env = { ...process.env, CDK8S_CHECK_UPGRADE: 'false', PRISM_SYNTH_TIMINGS: '1' };

interface Target {
  readonly name: string;
  readonly steps: readonly (readonly string[])[];
}

const TARGETS: readonly Target[] = [
  { name: 'node start (baseline)', steps: [['node', '-e', '']] },
  { name: 'node + tsx loader (baseline)', steps: [['node', '--import', 'tsx', '-e', '']] },
  {
    name: 'synth: infra/cli/synth.ts on type stripping',
    steps: [['node', '--import', './infra/cli/ts-loader.mjs', 'infra/cli/synth.ts']],
  },
  { name: 'infra/cli/synth.ts on tsx', steps: [['node', '--import', 'tsx', 'infra/cli/synth.ts']] },
  { name: 'npm run synth', steps: [['npm', 'run', '--silent', 'synth']] },
  {
    name: 'former npm run synth (cdk8s-cli + 2 tsx)',
    steps: [
      ['node_modules/.bin/cdk8s', 'synth', '--app', 'npx tsx charts/main.ts'],
      ['node_modules/.bin/tsx', 'infra/cli/render-local.ts'],
      ['node_modules/.bin/tsx', 'infra/cli/render-docs.ts'],
    ],
  },
];

const times = new Map<string, number[]>(TARGETS.map((t) => [t.name, []]));
const phases = new Map<string, number[]>();

for (let round = 0; round < ROUNDS; round++) {
  for (const t of TARGETS) {
    const start = performance.now();
    for (const [cmd, ...args] of t.steps) {
      const r = spawnSync(cmd!, args, { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      if (r.status !== 0) throw new Error(`${[cmd, ...args].join(' ')} failed (${r.status}): ${r.stderr}`);
      for (const m of r.stderr.matchAll(/^synth timing (\S+) ([\d.]+) ms$/gm)) {
        if (!t.name.startsWith('synth:')) continue;
        phases.set(m[1]!, [...(phases.get(m[1]!) ?? []), Number(m[2])]);
      }
    }
    times.get(t.name)!.push(performance.now() - start);
  }
}

const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const base = median(times.get(TARGETS[0]!.name)!);
console.log(
  `synth benchmark: ${availableParallelism()} cores, load average ${loadavg()[0]!.toFixed(1)}, ${ROUNDS} rounds, medians`,
);
for (const t of TARGETS) {
  const m = median(times.get(t.name)!);
  console.log(`  ${t.name.padEnd(46)} ${s(m).padStart(8)}   ${(m / base).toFixed(1).padStart(5)}x node start`);
}
console.log('inside synth.ts (PRISM_SYNTH_TIMINGS=1):');
for (const [name, xs] of phases) console.log(`  ${name.padEnd(46)} ${s(median(xs)).padStart(8)}`);
