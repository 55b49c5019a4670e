import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { environmentApp } from '../k8s/charts/platform.js';
import { CONFIG_NAMESPACE, type Stack } from '../config/index.js';
import { SECRET_NAME } from '../contract/index.js';
import { LOCAL_SECRET_FILE, imageRef, type Platform, alertingSecretKeys } from '../model/index.js';
import { STACK_CONFIG_DIR, readStackConfig } from './config.js';
import { imageTag, serviceImages, useBuiltImages, type ServiceImage } from './images.js';
import type { ManifestObject } from '../manifest/index.js';
import { kubernetesResource, waveOf, type Wave } from './resources.js';
import { platformSecret, secretValues } from './secrets.js';

export interface EnvironmentArgs {
  /** Git revision the images are tagged with (see `gitRevision`); asked for only when images are built. */
  readonly revision: string | (() => string);
}

/** The objects `npm run synth` writes for a stack: the same charts, rendered in memory. */
function synthesizedObjects(stack: Stack): { platform: Platform; objects: ManifestObject[] } {
  const { platform, charts } = environmentApp(stack, 'dist/k8s');
  return { platform, objects: charts.flatMap((c) => c.toJson() as ManifestObject[]) };
}

/** The component's type token: the parent of every resource of one stack. */
export const ENVIRONMENT_TYPE = 'prism:platform:Environment';

/**
 * What every child of the component passes: the component as parent, and the URN it had when the
 * program registered it at the top level (before the component existed), so the engine moves an
 * existing stack's resources under the component instead of replacing them.
 */
function childOptions(parent: pulumi.Resource): { parent: pulumi.Resource; aliases: pulumi.Alias[] } {
  return { parent, aliases: [{ parent: pulumi.rootStackResource }] };
}

/**
 * One environment (stack) of the platform as a Pulumi component: validates the stack config, builds
 * and pushes the four service images (unless `images.build` is off), and deploys the synthesized
 * objects (with the built image digests) through an explicit provider, in waves: namespaces first,
 * then what pods read (including the Secret), then workloads. Every resource is its child.
 */
export class Environment extends pulumi.ComponentResource {
  readonly platform: Platform;
  /** Exactly the synthesized objects, one Pulumi resource each. */
  readonly objects: readonly ManifestObject[];
  readonly resources: readonly pulumi.CustomResource[];
  /** The images built and pushed (`images.build`); none when the stack deploys pinned images. */
  readonly images: readonly ServiceImage[];
  /** Each service's image as its containers run it: the pushed digest, or the pinned `<repository>:<tag>`. */
  readonly serviceImages: Readonly<Record<string, pulumi.Input<string>>>;
  /**
   * `prism-secrets`: created from secret config in secrets mode `pulumi`; in mode `local`, read from the
   * cluster (applied beforehand from the local Secret file), so no workload starts before it exists.
   */
  readonly secret?: k8s.core.v1.Secret;
  readonly provider: k8s.Provider;

  /** `name` is the stack (`pulumi.getStack()`): the stack file and the image tags are derived from it. */
  constructor(name: string, args: EnvironmentArgs, opts?: pulumi.ComponentResourceOptions) {
    // Configuration errors surface before anything is registered.
    const config = new pulumi.Config(CONFIG_NAMESPACE);
    const stackConfig = readStackConfig(name, config);
    const notificationSecrets = stackConfig.observability.enabled ? alertingSecretKeys(stackConfig.alerting) : [];
    const secrets = stackConfig.secrets.mode === 'pulumi' ? secretValues(name, config, notificationSecrets) : undefined;
    const stack: Stack = { name, file: `${STACK_CONFIG_DIR}/Pulumi.${name}.yaml`, config: stackConfig };
    const { platform, objects } = synthesizedObjects(stack);
    super(ENVIRONMENT_TYPE, name, {}, opts);

    const child = childOptions(this);
    const { kubeconfig, context } = stackConfig.cluster;
    const provider = new k8s.Provider(
      `prism-${name}`,
      { ...(kubeconfig ? { kubeconfig } : {}), ...(context ? { context } : {}) },
      child,
    );
    const revision = () => (typeof args.revision === 'function' ? args.revision() : args.revision);
    const images = stackConfig.images.build ? serviceImages(platform, imageTag(name, revision()), child) : [];
    const deployed = stackConfig.images.build ? useBuiltImages(objects, images) : objects;
    const pinned = platform.components.filter((c) => c.image.build).map((c) => [c.name, imageRef(c.image)] as const);
    const runImages = Object.fromEntries<pulumi.Input<string>>(
      images.length > 0 ? images.map((i) => [i.component, i.image.repoDigest] as const) : pinned,
    );

    const waves: Record<Wave, pulumi.CustomResource[]> = { foundation: [], configuration: [], workloads: [] };
    const deploy = (wave: Wave, dependsOn: pulumi.Resource[]) => {
      for (const o of deployed.filter((x) => waveOf(x) === wave))
        waves[wave].push(kubernetesResource(o, { ...child, provider, dependsOn }));
    };
    deploy('foundation', []);
    const secret = secrets
      ? platformSecret(platform.namespace, secrets, { ...child, provider, dependsOn: waves.foundation })
      : stackConfig.secrets.mode === 'local'
        ? existingLocalSecret(platform.namespace, { parent: this, provider, dependsOn: waves.foundation })
        : undefined;
    deploy('configuration', waves.foundation);
    deploy('workloads', [...waves.foundation, ...waves.configuration, ...(secret ? [secret] : [])]);

    this.platform = platform;
    this.objects = objects;
    this.resources = [...waves.foundation, ...waves.configuration, ...waves.workloads];
    this.images = images;
    this.serviceImages = runImages;
    if (secret) this.secret = secret;
    this.provider = provider;
    this.registerOutputs({ namespace: platform.namespace, objects: objects.length, serviceImages: runImages });
  }
}

/**
 * Secrets mode `local`: the Secret is not Pulumi's (its values stay out of the state's inputs); the
 * program reads it after the namespace, and every workload waits for that read. A cluster without it
 * fails before any workload is created, instead of pods starting without their credentials. A read
 * takes no alias: it is looked up again on every run, and one read under an older URN is only dropped
 * from the state, never deleted from the cluster.
 */
function existingLocalSecret(namespace: string, opts: pulumi.CustomResourceOptions): k8s.core.v1.Secret {
  void pulumi.log.info(
    `secrets mode local: ${SECRET_NAME} is read from the cluster, not managed by Pulumi; create it first with npm run local-secrets && kubectl apply --server-side -f ${LOCAL_SECRET_FILE} (server-side: a client-side apply copies every value into its last-applied-configuration annotation, which would be read into the Pulumi state)`,
  );
  // What is read lands in the state; the Secret class marks its data and stringData secret, so they stay encrypted.
  return k8s.core.v1.Secret.get(`${namespace}/${SECRET_NAME}`, `${namespace}/${SECRET_NAME}`, opts);
}
