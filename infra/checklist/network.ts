import type { ManifestObject } from '../manifest/index.js';
import { selects } from './manifests.js';

/** What NetworkPolicies allow between two pods of one namespace, evaluated as the API server would (matchLabels only). */

interface PolicyPeer {
  podSelector?: { matchLabels?: Record<string, string> };
  namespaceSelector?: { matchLabels?: Record<string, string> };
  ipBlock?: unknown;
}
interface PolicyRule {
  from?: PolicyPeer[];
  to?: PolicyPeer[];
  ports?: { port?: number | string; protocol?: string }[];
}
interface PolicySpec {
  podSelector: { matchLabels?: Record<string, string>; matchExpressions?: unknown[] };
  policyTypes?: string[];
  ingress?: PolicyRule[];
  egress?: PolicyRule[];
}

export interface Pod {
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
}

const policies = (objects: readonly ManifestObject[], namespace: string) =>
  objects
    .filter((o) => o.kind === 'NetworkPolicy' && (o.metadata.namespace ?? namespace) === namespace)
    .map((o) => ({ object: o, spec: o.spec as PolicySpec }));

const peerMatches = (peer: PolicyPeer, pod: Pod, policyNamespace: string): boolean => {
  if (peer.ipBlock) return false;
  const nsOk = peer.namespaceSelector
    ? selects(peer.namespaceSelector, { 'kubernetes.io/metadata.name': pod.namespace })
    : pod.namespace === policyNamespace;
  const podOk = peer.podSelector ? selects(peer.podSelector, pod.labels) : true;
  return nsOk && podOk;
};

const portMatches = (rule: PolicyRule, port: number): boolean =>
  !rule.ports?.length || rule.ports.some((p) => p.port === undefined || Number(p.port) === port);

/** A default deny in both directions: a policy selecting every pod, with both types and no rule. */
export function defaultDeny(objects: readonly ManifestObject[], namespace: string): ManifestObject | undefined {
  return policies(objects, namespace).find(
    (p) =>
      Object.keys(p.spec.podSelector?.matchLabels ?? {}).length === 0 &&
      !p.spec.podSelector?.matchExpressions?.length &&
      ['Ingress', 'Egress'].every((t) => p.spec.policyTypes?.includes(t)) &&
      !p.spec.ingress?.length &&
      !p.spec.egress?.length,
  )?.object;
}

/** The policies that select a pod, other than ones that select every pod of the namespace. */
export function policiesSelecting(objects: readonly ManifestObject[], pod: Pod): ManifestObject[] {
  return policies(objects, pod.namespace)
    .filter(
      (p) => Object.keys(p.spec.podSelector?.matchLabels ?? {}).length > 0 && selects(p.spec.podSelector, pod.labels),
    )
    .map((p) => p.object);
}

/** Whether `from` may open a TCP connection to `to` on `port`: egress at one end and ingress at the other. */
export function allows(objects: readonly ManifestObject[], from: Pod, to: Pod, port: number): boolean {
  const egress = policies(objects, from.namespace).some(
    (p) =>
      selects(p.spec.podSelector, from.labels) &&
      (p.spec.egress ?? []).some(
        (r) => (r.to ?? []).some((peer) => peerMatches(peer, to, from.namespace)) && portMatches(r, port),
      ),
  );
  const ingress = policies(objects, to.namespace).some(
    (p) =>
      selects(p.spec.podSelector, to.labels) &&
      (p.spec.ingress ?? []).some(
        (r) => (r.from ?? []).some((peer) => peerMatches(peer, from, to.namespace)) && portMatches(r, port),
      ),
  );
  return egress && ingress;
}

/** Ingress rules that admit any source (no `from`, or an empty peer): an open door. */
export function openIngress(objects: readonly ManifestObject[], namespace: string): ManifestObject[] {
  return policies(objects, namespace)
    .filter((p) =>
      (p.spec.ingress ?? []).some(
        (r) => !r.from?.length || r.from.some((peer) => !peer.podSelector && !peer.namespaceSelector && !peer.ipBlock),
      ),
    )
    .map((p) => p.object);
}
