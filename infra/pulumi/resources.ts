import * as k8s from '@pulumi/kubernetes';
import type * as pulumi from '@pulumi/pulumi';

/** A synthesized Kubernetes object (as `chart.toJson()` gives it); fields may hold Pulumi inputs. */
export interface KubeObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string; readonly [k: string]: unknown };
  readonly [field: string]: unknown;
}

/** `apiVersion/kind/namespace/name`: how objects are matched between the synth, Pulumi and the diff. */
export function objectKey(o: Pick<KubeObject, 'apiVersion' | 'kind' | 'metadata'>): string {
  return `${o.apiVersion}/${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
}

/**
 * Deployment waves: namespaces and CRDs first, then the objects pods read (config, accounts,
 * services, policies, the platform Secret), then the workloads, so no pod starts before its
 * ConfigMaps and Secret exist.
 */
export type Wave = 'foundation' | 'configuration' | 'workloads';

const FOUNDATION_KINDS = new Set(['Namespace', 'CustomResourceDefinition']);
const WORKLOAD_KINDS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'Job', 'CronJob', 'Pod', 'ReplicaSet']);

export function waveOf(o: Pick<KubeObject, 'kind'>): Wave {
  if (FOUNDATION_KINDS.has(o.kind)) return 'foundation';
  if (WORKLOAD_KINDS.has(o.kind)) return 'workloads';
  return 'configuration';
}

/** The Pulumi type token of an object (`kubernetes:apps/v1:Deployment`, `kubernetes:core/v1:Service`). */
function typeToken(apiVersion: string, kind: string): string {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/', 2) : ['core', apiVersion];
  return `kubernetes:${group}/${version}:${kind}`;
}

/** Built-in API groups (`v1`, `apps/v1`, `*.k8s.io/*`) have a typed class in @pulumi/kubernetes. */
function isBuiltIn(apiVersion: string): boolean {
  if (!apiVersion.includes('/')) return true;
  const group = apiVersion.split('/')[0]!;
  return !group.includes('.') || group.endsWith('.k8s.io');
}

type ResourceClass = new (name: string, args: object, opts?: pulumi.CustomResourceOptions) => pulumi.CustomResource;

/** The typed class of a built-in kind: module `core` for the core group, else the group's first label. */
function typedClass(apiVersion: string, kind: string): ResourceClass | undefined {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/', 2) : ['', apiVersion];
  const moduleName = group === '' ? 'core' : group!.split('.')[0]!;
  const modules = k8s as unknown as Record<string, Record<string, Record<string, unknown>> | undefined>;
  const cls = modules[moduleName]?.[version!]?.[kind] as (ResourceClass & { __pulumiType?: string }) | undefined;
  // The token check guards the group-to-module mapping (for example flowcontrol.apiserver.k8s.io).
  return cls?.__pulumiType === typeToken(apiVersion, kind) ? cls : undefined;
}

/** The logical Pulumi name of an object: `namespace/name`, or `name` when cluster-scoped (unique per type). */
function resourceName(o: KubeObject): string {
  return o.metadata.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : o.metadata.name;
}

/**
 * One Pulumi resource for one synthesized object, as it is: a typed resource for built-in kinds
 * (so the provider knows its schema, await logic and replace rules), a CustomResource otherwise
 * (ExternalSecret). An unknown built-in kind is an error rather than a guess.
 */
export function kubernetesResource(o: KubeObject, opts: pulumi.CustomResourceOptions): pulumi.CustomResource {
  const name = resourceName(o);
  if (isBuiltIn(o.apiVersion)) {
    const cls = typedClass(o.apiVersion, o.kind);
    if (!cls) throw new Error(`@pulumi/kubernetes has no resource for ${o.apiVersion} ${o.kind} (object ${name})`);
    return new cls(name, o, opts);
  }
  return new k8s.apiextensions.CustomResource(name, o, opts);
}
