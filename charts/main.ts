/**
 * cdk8s entry point (cdk8s.yaml): synthesizes every environment found in `stacks/`
 * to `dist/k8s/<env>/`. A bad stack configuration stops it with one short message.
 */
import { listStacks, loadStack, StackConfigError } from '../infra/config/index.js';
import { ModelError } from '../infra/model/index.js';
import { environmentApp } from './platform.js';

const STACKS_DIR = 'stacks';
const outdir = process.env.CDK8S_OUTDIR ?? 'dist/k8s';

try {
  for (const name of listStacks(STACKS_DIR)) {
    environmentApp(loadStack(STACKS_DIR, name), outdir).app.synth();
  }
} catch (e) {
  if (e instanceof StackConfigError || e instanceof ModelError) {
    console.error(e.message);
    process.exit(1);
  }
  throw e;
}
