/**
 * `npm run synth`, the main job, in one process: every environment of stacks/ to dist/k8s/<env>/
 * (what `npx cdk8s synth` runs, charts/main.ts), the local set-up under deploy/ and
 * docs/service-environment.md. One TypeScript start instead of three, and no cdk8s-cli (its
 * upgrade check asks the npm registry on every run). A bad stack configuration stops it with one
 * short message.
 */
import { rmSync } from 'node:fs';
import { synthesizeEnvironments } from '../k8s/charts/environments.js';
import { renderDocs } from './render-docs.js';
import { renderLocalSetup } from './render-local.js';
import { stackProblems } from './stack-problems.js';

const OUTDIR = 'dist/k8s';
// Phase timings on stderr for `npm run bench:synth`.
const timed = <T>(phase: string, fn: () => T): T => {
  const t0 = performance.now();
  const r = fn();
  if (process.env.PRISM_SYNTH_TIMINGS) console.error(`synth timing ${phase} ${(performance.now() - t0).toFixed(1)} ms`);
  return r;
};

try {
  rmSync(OUTDIR, { recursive: true, force: true }); // as cdk8s synth does: no file of a removed stack or chart stays
  if (process.env.PRISM_SYNTH_TIMINGS)
    console.error(`synth timing start-up-and-imports ${performance.now().toFixed(1)} ms`);
  const envs = timed('kubernetes', () => synthesizeEnvironments('stacks', OUTDIR));
  console.log(`synthesized ${envs.map((e) => `${OUTDIR}/${e}/`).join(', ')}`);
  process.exitCode = timed('local-set-up', () => renderLocalSetup()) || timed('docs', () => renderDocs());
} catch (e) {
  const problems = stackProblems(e);
  if (problems === undefined) throw e;
  console.error(problems);
  process.exitCode = 1;
}
