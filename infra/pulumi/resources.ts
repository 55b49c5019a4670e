import * as k8s from '@pulumi/kubernetes';
import type * as pulumi from '@pulumi/pulumi';
import type { ManifestObject } from '../manifest/index.js';

/**
 * Deployment waves: namespaces, CRDs and certificate approval first, then the objects pods read (config,
 * accounts, services, policies, Certificates, the platform Secret), then the workloads, so no pod starts
 * before its ConfigMaps and Secret exist. Approval (approver-policy's CertificateRequestPolicies and the
 * cluster roles that let cert-manager use them) comes before any Certificate: with one policy per identity,
 * a request that arrives while only other identities' policies exist is Denied by them, and a Denied request
 * is final (cert-manager tries again only after its hour-long backoff).
 */
export type Wave = 'foundation' | 'configuration' | 'workloads';

const FOUNDATION_KINDS = new Set([
  'Namespace',
  'CustomResourceDefinition',
  'CertificateRequestPolicy',
  'ClusterRole',
  'ClusterRoleBinding',
]);
const WORKLOAD_KINDS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'Job', 'CronJob', 'Pod', 'ReplicaSet']);

export function waveOf(o: Pick<ManifestObject, 'kind'>): Wave {
  if (FOUNDATION_KINDS.has(o.kind)) return 'foundation';
  if (WORKLOAD_KINDS.has(o.kind)) return 'workloads';
  return 'configuration';
}

/** Built-in API groups (`v1`, `apps/v1`, `*.k8s.io/*`) have a typed class in @pulumi/kubernetes. */
function isBuiltIn(apiVersion: string): boolean {
  if (!apiVersion.includes('/')) return true;
  const group = apiVersion.split('/')[0]!;
  return !group.includes('.') || group.endsWith('.k8s.io');
}

/** A typed resource class; each takes its own args type, which the synthesized object is given as (`never` accepts them all). */
type ResourceClass = new (name: string, args: never, opts?: pulumi.CustomResourceOptions) => pulumi.CustomResource;

/**
 * The typed class of each built-in kind the platform deploys, by `apiVersion/kind`. Written out rather
 * than looked up by name in the SDK's module tree: a kind the charts start to emit is added here on
 * purpose (the program refuses it until then), and the compiler checks every entry.
 */
export const TYPED_CLASSES: ReadonlyMap<string, ResourceClass> = new Map<string, ResourceClass>([
  ['v1/ConfigMap', k8s.core.v1.ConfigMap],
  ['v1/Namespace', k8s.core.v1.Namespace],
  ['v1/PersistentVolumeClaim', k8s.core.v1.PersistentVolumeClaim],
  ['v1/Secret', k8s.core.v1.Secret],
  ['v1/Service', k8s.core.v1.Service],
  ['v1/ServiceAccount', k8s.core.v1.ServiceAccount],
  ['apps/v1/DaemonSet', k8s.apps.v1.DaemonSet],
  ['apps/v1/Deployment', k8s.apps.v1.Deployment],
  ['apps/v1/StatefulSet', k8s.apps.v1.StatefulSet],
  ['autoscaling/v2/HorizontalPodAutoscaler', k8s.autoscaling.v2.HorizontalPodAutoscaler],
  ['batch/v1/CronJob', k8s.batch.v1.CronJob],
  ['batch/v1/Job', k8s.batch.v1.Job],
  ['networking.k8s.io/v1/Ingress', k8s.networking.v1.Ingress],
  ['networking.k8s.io/v1/NetworkPolicy', k8s.networking.v1.NetworkPolicy],
  ['policy/v1/PodDisruptionBudget', k8s.policy.v1.PodDisruptionBudget],
  ['rbac.authorization.k8s.io/v1/ClusterRole', k8s.rbac.v1.ClusterRole],
  ['rbac.authorization.k8s.io/v1/ClusterRoleBinding', k8s.rbac.v1.ClusterRoleBinding],
  ['rbac.authorization.k8s.io/v1/Role', k8s.rbac.v1.Role],
  ['rbac.authorization.k8s.io/v1/RoleBinding', k8s.rbac.v1.RoleBinding],
]);

/** The logical Pulumi name of an object: `namespace/name`, or `name` when cluster-scoped (unique per type). */
function resourceName(o: ManifestObject): string {
  return o.metadata.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : o.metadata.name;
}

/**
 * One Pulumi resource for one synthesized object, as it is: a typed resource for built-in kinds
 * (so the provider knows its schema, await logic and replace rules), a CustomResource otherwise
 * (ExternalSecret, cert-manager). A built-in kind missing from `TYPED_CLASSES` is an error rather than a guess.
 */
export function kubernetesResource(o: ManifestObject, opts: pulumi.CustomResourceOptions): pulumi.CustomResource {
  const name = resourceName(o);
  if (isBuiltIn(o.apiVersion)) {
    const cls = TYPED_CLASSES.get(`${o.apiVersion}/${o.kind}`);
    if (!cls)
      throw new Error(
        `no typed resource for ${o.apiVersion} ${o.kind} (object ${name}): add its @pulumi/kubernetes class to TYPED_CLASSES in infra/pulumi/resources.ts`,
      );
    return new cls(name, o as never, opts);
  }
  return new k8s.apiextensions.CustomResource(name, o, opts);
}
