import { ApiObject, Chart, JsonPatch } from 'cdk8s';
import { Construct } from 'constructs';
import * as k8s from './imports/k8s.js';
import { componentLabels } from './labels.js';

type PodSecurityLevel = 'restricted' | 'baseline' | 'privileged';

/** Pod Security Admission labels: enforce, audit and warn at one level, pinned to the policy version. */
function podSecurityLabels(level: PodSecurityLevel): Record<string, string> {
  return Object.fromEntries(
    ['enforce', 'audit', 'warn'].flatMap((mode) => [
      [`pod-security.kubernetes.io/${mode}`, level],
      [`pod-security.kubernetes.io/${mode}-version`, 'v1.29'],
    ]),
  );
}

export interface NamespaceProps {
  readonly name: string;
  readonly level: PodSecurityLevel;
  readonly labels: Record<string, string>;
}

/**
 * The Namespace object, cluster-scoped (no metadata.namespace). Shared by the chart and the local
 * Secret file, which must be applicable to an empty cluster and leave the same namespace behind.
 */
export function namespaceObject(props: NamespaceProps) {
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: props.name, labels: { ...props.labels, ...podSecurityLabels(props.level) } },
  } as const;
}

/** The platform's namespace: Pod Security *restricted*, labelled as the base layer. */
export function platformNamespaceProps(name: string): NamespaceProps {
  return { name, level: 'restricted', labels: componentLabels('prism', 'base') };
}

/** A namespace with Pod Security Admission enforcing, auditing and warning at one level. */
export class PlatformNamespace extends Construct {
  constructor(scope: Construct, id: string, props: NamespaceProps) {
    super(scope, id);
    const ns = new k8s.KubeNamespace(this, 'Resource', { metadata: namespaceObject(props).metadata });
    // cdk8s gives every object of a chart the chart's namespace, this cluster-scoped one included; left
    // there, Pulumi names the resource `prism/prism` and diffs show a namespace the API server drops.
    if (Chart.of(this).namespace) ApiObject.of(ns).addJsonPatch(JsonPatch.remove('/metadata/namespace'));
  }
}
