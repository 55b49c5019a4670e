/**
 * cdk8s entry point (cdk8s.yaml): synthesizes every environment found in `stacks/`
 * to `dist/k8s/<env>/`. A bad stack configuration stops it with one short message.
 * `npm run synth` does the same and more in one process (infra/cli/synth.ts).
 */
import { StackConfigError } from '../infra/config/index.js';
import { ModelError } from '../infra/model/index.js';
import { synthesizeEnvironments } from '../infra/k8s/charts/environments.js';

try {
  synthesizeEnvironments('stacks', process.env.CDK8S_OUTDIR ?? 'dist/k8s');
} catch (e) {
  if (e instanceof StackConfigError || e instanceof ModelError) {
    console.error(e.message);
    process.exit(1);
  }
  throw e;
}
