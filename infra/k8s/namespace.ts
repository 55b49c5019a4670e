import { Construct } from 'constructs';
import * as k8s from 'cdk8s-plus-29/lib/imports/k8s.js';

export type PodSecurityLevel = 'restricted' | 'baseline' | 'privileged';

/** A namespace with Pod Security Admission enforcing, auditing and warning at one level. */
export class PlatformNamespace extends Construct {
  constructor(scope: Construct, id: string, props: { readonly name: string; readonly level: PodSecurityLevel; readonly labels: Record<string, string> }) {
    super(scope, id);
    const psa = Object.fromEntries(
      ['enforce', 'audit', 'warn'].flatMap((mode) => [
        [`pod-security.kubernetes.io/${mode}`, props.level],
        [`pod-security.kubernetes.io/${mode}-version`, 'v1.29'],
      ]),
    );
    new k8s.KubeNamespace(this, 'Resource', { metadata: { name: props.name, labels: { ...props.labels, ...psa } } });
  }
}
