/**
 * Pulumi program of the project (Pulumi.yaml `main`): `pulumi up -s dev|staging|prod` deploys the
 * objects `npm run synth` renders for that stack, and builds and pushes the service images unless the
 * stack's `images.build` is off. It only wires: the stack is one `Environment` component.
 */
import * as pulumi from '@pulumi/pulumi';
import { gitRevision } from './images.js';
import { Environment } from './program.js';

export default function main() {
  const environment = new Environment(pulumi.getStack(), { revision: () => gitRevision() });
  return {
    namespace: environment.platform.namespace,
    objects: environment.objects.length,
    images: environment.serviceImages,
  };
}
