/**
 * A rendered Kubernetes object: what cdk8s's `chart.toJson()` gives and what each YAML document of
 * deploy/ holds. The one type the diff, the checklist, the hardening rules, the Pulumi program and the
 * tests read rendered output through; fields beyond the identity are `unknown` until a reader narrows them.
 */
export interface ManifestObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: ObjectMeta;
  readonly [field: string]: unknown;
}

interface ObjectMeta {
  readonly name: string;
  readonly namespace?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly [field: string]: unknown;
}

/** `apiVersion/kind/namespace/name`: how objects are matched between the synth, Pulumi and the diff. */
export function objectKey(o: Pick<ManifestObject, 'apiVersion' | 'kind' | 'metadata'>): string {
  return `${o.apiVersion}/${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
}
