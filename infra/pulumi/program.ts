import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { environmentApp } from '../../charts/platform.js';
import { CONFIG_NAMESPACE, type Stack } from '../config/index.js';
import { LOCAL_SECRET_FILE } from '../local/k8s-secret.js';
import { SECRET_NAME, type Platform } from '../model/index.js';
import { readStackConfig } from './config.js';
import { imageTag, serviceImages, useBuiltImages, type ServiceImage } from './images.js';
import { kubernetesResource, waveOf, type KubeObject, type Wave } from './resources.js';
import { alertingSecretKeys } from '../model/files/alertmanager.js';
import { platformSecret, secretValues } from './secrets.js';

/** Stack files live here (Pulumi.yaml: `stackConfigDir: stacks`), the same files `npm run synth` reads. */
export const STACK_CONFIG_DIR = 'stacks';

export interface ProgramOptions {
  /** Stack name (`pulumi.getStack()`): dev, staging, prod. */
  readonly stack: string;
  /** Git revision the images are tagged with (see `gitRevision`). */
  readonly revision: string;
}

export interface PrismDeployment {
  readonly platform: Platform;
  /** Exactly the synthesized objects, one Pulumi resource each. */
  readonly objects: readonly KubeObject[];
  readonly resources: readonly pulumi.CustomResource[];
  readonly images: readonly ServiceImage[];
  /** `prism-secrets`, in secrets mode `pulumi` only. */
  readonly secret?: k8s.core.v1.Secret;
  readonly provider: k8s.Provider;
}

/** The objects `npm run synth` writes for a stack: the same charts, rendered in memory. */
export function synthesizedObjects(stack: Stack): { platform: Platform; objects: KubeObject[] } {
  const { platform, charts } = environmentApp(stack, 'dist/k8s');
  return { platform, objects: charts.flatMap((c) => c.toJson() as KubeObject[]) };
}

/**
 * One stack of the platform: validates the stack config, builds and pushes the four service
 * images, and deploys the synthesized objects (with the built image digests) through an explicit
 * provider, in waves: namespaces first, then what pods read (including the Secret), then workloads.
 */
export function prismDeployment(options: ProgramOptions): PrismDeployment {
  const config = new pulumi.Config(CONFIG_NAMESPACE);
  const stackConfig = readStackConfig(options.stack, config);
  const notificationSecrets = stackConfig.observability.enabled ? alertingSecretKeys(stackConfig.alerting) : [];
  const secrets = stackConfig.secrets.mode === 'pulumi' ? secretValues(options.stack, config, notificationSecrets) : undefined;
  if (stackConfig.secrets.mode === 'local') {
    pulumi.log.info(`secrets mode local: ${SECRET_NAME} is not managed by Pulumi; create it with npm run local-secrets, then kubectl apply -f ${LOCAL_SECRET_FILE}`);
  }
  const stack: Stack = { name: options.stack, file: `${STACK_CONFIG_DIR}/Pulumi.${options.stack}.yaml`, config: stackConfig };
  const { platform, objects } = synthesizedObjects(stack);

  const { kubeconfig, context } = stackConfig.cluster;
  const provider = new k8s.Provider(`prism-${options.stack}`, {
    ...(kubeconfig ? { kubeconfig } : {}),
    ...(context ? { context } : {}),
  });
  const images = serviceImages(platform, imageTag(options.stack, options.revision));
  const deployed = useBuiltImages(objects, images);

  const waves: Record<Wave, pulumi.CustomResource[]> = { foundation: [], configuration: [], workloads: [] };
  const deploy = (wave: Wave, dependsOn: pulumi.Resource[]) => {
    for (const o of deployed.filter((x) => waveOf(x) === wave)) waves[wave].push(kubernetesResource(o, { provider, dependsOn }));
  };
  deploy('foundation', []);
  const secret = secrets ? platformSecret(platform.namespace, secrets, { provider, dependsOn: waves.foundation }) : undefined;
  deploy('configuration', waves.foundation);
  deploy('workloads', [...waves.foundation, ...waves.configuration, ...(secret ? [secret] : [])]);

  return {
    platform,
    objects,
    resources: [...waves.foundation, ...waves.configuration, ...waves.workloads],
    images,
    ...(secret ? { secret } : {}),
    provider,
  };
}
