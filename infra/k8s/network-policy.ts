import { Construct } from 'constructs';
import * as k8s from './imports/k8s.js';
import { type ApiServer, type Flow, type Platform, type Component, portNumber } from '../model/index.js';
import { componentLabels } from './labels.js';

/** Something that runs pods with its own `app` label: a component or one of its tasks. */
interface Peer {
  readonly name: string;
  readonly component: Component;
  readonly flows: readonly Flow[];
  readonly externalEgress: NonNullable<Component['externalEgress']>;
}

/** Ingress from outside the namespace, granted by namespace (the ingress controller, the log shipper). */
export interface NamespaceIngress {
  readonly namespace: string;
  readonly to: Component['name'];
  readonly port: string;
}

export interface NetworkPoliciesProps {
  readonly platform: Platform;
  /** Components rendered in this chart. */
  readonly components: readonly Component[];
  readonly namespaceIngress: readonly NamespaceIngress[];
}

/** Peers of the whole platform: flows may cross charts. */
function peers(platform: Platform): Peer[] {
  return platform.components.flatMap((c) => [
    { name: c.name, component: c, flows: c.flows, externalEgress: c.externalEgress ?? [] },
    ...c.tasks.map((t) => ({ name: t.name, component: c, flows: t.flows, externalEgress: t.externalEgress ?? [] })),
  ]);
}

const PRIVATE_RANGES = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '169.254.0.0/16'];

/** Egress to the API server's endpoints, for the pods that read the Kubernetes API. */
export function apiServerEgress(api: ApiServer): k8s.NetworkPolicyEgressRule {
  return { to: api.cidrs.map((cidr) => ({ ipBlock: { cidr } })), ports: [tcp(api.port)] };
}

const tcp = (port: number): k8s.NetworkPolicyPort => ({ protocol: 'TCP', port: k8s.IntOrString.fromNumber(port) });
const nsSelector = (namespace: string): k8s.LabelSelector => ({
  matchLabels: { 'kubernetes.io/metadata.name': namespace },
});

/**
 * One NetworkPolicy per pod group, allowing exactly the flows the model declares (both
 * directions), on top of the namespace's default deny. The guide's tiers follow: the data
 * tier is reachable only by the components whose flows name it.
 */
export class NetworkPolicies extends Construct {
  constructor(scope: Construct, id: string, props: NetworkPoliciesProps) {
    super(scope, id);
    const { platform } = props;
    const all = peers(platform);
    const mine = all.filter((p) => props.components.includes(p.component));
    for (const peer of mine) {
      const isComponent = peer.name === peer.component.name;
      const ingress: k8s.NetworkPolicyIngressRule[] = [];
      if (isComponent) {
        for (const port of peer.component.ports) {
          const from = all.filter((p) => p.flows.some((f) => f.to === peer.name && f.port === port.name));
          const namespaces = props.namespaceIngress
            .filter((n) => n.to === peer.name && n.port === port.name)
            .map((n) => n.namespace);
          const sources: k8s.NetworkPolicyPeer[] = [
            ...[...new Set(from.map((p) => p.name))]
              .sort()
              .map((name) => ({ podSelector: { matchLabels: { app: name } } })),
            ...[...new Set(namespaces)].sort().map((ns) => ({ namespaceSelector: nsSelector(ns) })),
          ];
          if (sources.length > 0) ingress.push({ from: sources, ports: [tcp(port.port)] });
        }
      }
      const egress: k8s.NetworkPolicyEgressRule[] = [];
      const byTarget = new Map<string, Set<number>>();
      for (const f of peer.flows)
        byTarget.set(f.to, (byTarget.get(f.to) ?? new Set()).add(portNumber(platform, f.to, f.port)));
      for (const [to, ports] of [...byTarget].sort(([a], [b]) => a.localeCompare(b))) {
        egress.push({
          to: [{ podSelector: { matchLabels: { app: to } } }],
          ports: [...ports].sort((a, b) => a - b).map(tcp),
        });
      }
      const external = peer.externalEgress;
      if (external.length > 0) {
        const cidrs = peer.component.externalEgressCidrs;
        egress.push({
          // The given ranges, else public addresses only: the cluster's private ranges stay closed.
          to: cidrs
            ? cidrs.map((cidr) => ({ ipBlock: { cidr } }))
            : [{ ipBlock: { cidr: '0.0.0.0/0', except: PRIVATE_RANGES } }],
          ports: [...new Set(external.map((e) => e.port))].sort((a, b) => a - b).map(tcp),
        });
      }
      // The API server, for components that read the Kubernetes API: its own addresses and port only.
      if (isComponent && peer.component.apiAccess) {
        egress.push(apiServerEgress(platform.apiServer!));
      }
      new k8s.KubeNetworkPolicy(this, peer.name, {
        metadata: { name: `${peer.name}-flows`, labels: componentLabels(peer.name, peer.component.layer) },
        spec: {
          podSelector: { matchLabels: { app: peer.name } },
          policyTypes: ['Ingress', 'Egress'],
          ingress,
          egress,
        },
      });
    }
  }
}

/** Default deny for every pod of the namespace, and DNS for all. */
export class NamespaceNetworkBaseline extends Construct {
  constructor(scope: Construct, id: string, props: { readonly labels: Record<string, string> }) {
    super(scope, id);
    new k8s.KubeNetworkPolicy(this, 'DefaultDeny', {
      metadata: { name: 'default-deny-all', labels: props.labels },
      spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'] },
    });
    new k8s.KubeNetworkPolicy(this, 'Dns', {
      metadata: { name: 'allow-dns', labels: props.labels },
      spec: {
        podSelector: {},
        policyTypes: ['Egress'],
        egress: [
          {
            to: [
              { namespaceSelector: nsSelector('kube-system'), podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } },
            ],
            ports: [
              { protocol: 'UDP', port: k8s.IntOrString.fromNumber(53) },
              { protocol: 'TCP', port: k8s.IntOrString.fromNumber(53) },
            ],
          },
        ],
      },
    });
  }
}
