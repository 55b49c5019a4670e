/**
 * Pulumi program of the project (Pulumi.yaml `main`): `pulumi up -s dev|staging|prod` deploys the
 * objects `npm run synth` renders for that stack, and builds and pushes the service images unless the
 * stack's `images.build` is off.
 */
import * as pulumi from '@pulumi/pulumi';
import { gitRevision } from './images.js';
import { prismDeployment } from './program.js';

export default function main() {
  const d = prismDeployment({ stack: pulumi.getStack(), revision: () => gitRevision() });
  return { namespace: d.platform.namespace, objects: d.objects.length, images: d.serviceImages };
}
