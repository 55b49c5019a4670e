import { Construct } from 'constructs';
import * as k8s from './imports/k8s.js';
import { PORTS } from '../contract/index.js';
import { type ApiServer, type Image, imageRef, httpGet, probe, alloyKubernetesConfig } from '../model/index.js';
import { componentLabels, selectorLabels } from './labels.js';
import { PlatformNamespace } from './namespace.js';
import { apiServerEgress } from './network-policy.js';
import { configHash, renderProbe } from './pod.js';
import { containerSecurityContext } from './security.js';

export const LOG_NAMESPACE = 'prism-logging';

export interface LogShippingProps {
  readonly platformNamespace: string;
  readonly image: Image;
  /** The API server's endpoints: the only addresses besides Loki and DNS the shipper may reach. */
  readonly apiServer: ApiServer;
}

const CONFIG_FILE = 'config.alloy';
const CONFIG_DIR = '/etc/alloy';
const POD_LOGS = '/var/log/pods';

/**
 * Grafana Alloy as a DaemonSet that tails the pod log files of each node and pushes them to Loki
 * (Promtail, its predecessor, reached end of life on 2026-03-02). Reading node files needs a
 * hostPath, which the restricted profile forbids, so it lives in its own namespace (`privileged`
 * admission, nothing else runs there) and the `prism` namespace stays restricted. It may only
 * reach Loki, DNS and the API server (pod discovery), nothing else.
 */
export class LogShipping extends Construct {
  constructor(scope: Construct, id: string, props: LogShippingProps) {
    super(scope, id);
    const name = 'alloy';
    const ns = LOG_NAMESPACE;
    const labels = componentLabels(name, 'observability', props.image.tag);
    const metadata = { name, namespace: ns, labels };
    const config = alloyKubernetesConfig({
      namespace: props.platformNamespace,
      lokiPushUrl: `http://loki.${props.platformNamespace}.svc.cluster.local:${PORTS.loki}/loki/api/v1/push`,
      podLogsDir: POD_LOGS,
    });

    new PlatformNamespace(this, 'Namespace', { name: ns, level: 'privileged', labels: componentLabels(ns, 'observability') });
    new k8s.KubeServiceAccount(this, 'ServiceAccount', { metadata, automountServiceAccountToken: false });
    new k8s.KubeRole(this, 'Role', {
      metadata: { name, namespace: props.platformNamespace, labels },
      rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] }],
    });
    new k8s.KubeRoleBinding(this, 'RoleBinding', {
      metadata: { name, namespace: props.platformNamespace, labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
      subjects: [{ kind: 'ServiceAccount', name, namespace: ns }],
    });
    new k8s.KubeConfigMap(this, 'ConfigMap', { metadata: { name: `${name}-config`, namespace: ns, labels }, data: { [CONFIG_FILE]: config } });

    const ports = [{ name: 'http', port: PORTS.alloy }];
    const security = containerSecurityContext(0);
    new k8s.KubeDaemonSet(this, 'Resource', {
      metadata: {
        ...metadata,
        annotations: {
          // Deliberate exception: pod log files on the node are root-owned (0640); reading them needs UID 0.
          // Every capability is still dropped and the root filesystem is read-only.
          'kube-score/ignore': 'container-security-context-user-group-id',
        },
      },
      spec: {
        selector: { matchLabels: selectorLabels(name) },
        updateStrategy: { type: 'RollingUpdate' },
        template: {
          metadata: { labels, annotations: { 'prism.io/config-hash': configHash([{ name: CONFIG_FILE, mountPath: CONFIG_DIR, content: config }]) } },
          spec: {
            serviceAccountName: name,
            automountServiceAccountToken: true,
            enableServiceLinks: false,
            securityContext: { runAsUser: 0, runAsGroup: 0, runAsNonRoot: false, seccompProfile: { type: 'RuntimeDefault' } },
            tolerations: [{ operator: 'Exists', effect: 'NoSchedule' }],
            containers: [
              {
                name,
                image: imageRef(props.image),
                imagePullPolicy: 'Always',
                args: [
                  'run',
                  `${CONFIG_DIR}/${CONFIG_FILE}`,
                  `--server.http.listen-addr=0.0.0.0:${PORTS.alloy}`,
                  // Read positions survive restarts on the node, so no line is shipped twice or skipped.
                  '--storage.path=/var/lib/alloy/data',
                  // No usage reports to Grafana Labs (the network policy would drop them anyway).
                  '--disable-reporting',
                ],
                env: [{ name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } }],
                ports: ports.map((p) => ({ name: p.name, containerPort: p.port })),
                securityContext: { ...security, runAsNonRoot: false, runAsUser: 0, runAsGroup: 0 },
                resources: {
                  requests: { cpu: k8s.Quantity.fromString('50m'), memory: k8s.Quantity.fromString('64Mi'), 'ephemeral-storage': k8s.Quantity.fromString('64Mi') },
                  limits: { cpu: k8s.Quantity.fromString('250m'), memory: k8s.Quantity.fromString('256Mi'), 'ephemeral-storage': k8s.Quantity.fromString('512Mi') },
                },
                // The model's probe defaults (explicit timeout and failure threshold), as every other workload has.
                livenessProbe: renderProbe(probe(httpGet('/-/healthy', 'http'), 10, 15), ports),
                readinessProbe: renderProbe(probe(httpGet('/-/ready', 'http'), 5, 10), ports),
                volumeMounts: [
                  { name: 'config', mountPath: CONFIG_DIR, readOnly: true },
                  { name: 'pods', mountPath: POD_LOGS, readOnly: true },
                  { name: 'positions', mountPath: '/var/lib/alloy/data' },
                  { name: 'tmp', mountPath: '/tmp' },
                ],
              },
            ],
            volumes: [
              { name: 'config', configMap: { name: `${name}-config` } },
              { name: 'pods', hostPath: { path: POD_LOGS, type: 'Directory' } },
              { name: 'positions', hostPath: { path: '/var/lib/prism-alloy', type: 'DirectoryOrCreate' } },
              { name: 'tmp', emptyDir: { sizeLimit: k8s.Quantity.fromString('64Mi') } },
            ],
          },
        },
      },
    });
    new k8s.KubeNetworkPolicy(this, 'DefaultDeny', {
      metadata: { name: 'default-deny-all', namespace: ns, labels },
      spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'] },
    });
    new k8s.KubeNetworkPolicy(this, 'NetworkPolicy', {
      metadata: { name: `${name}-flows`, namespace: ns, labels },
      spec: {
        podSelector: { matchLabels: { app: name } },
        policyTypes: ['Ingress', 'Egress'],
        ingress: [],
        egress: [
          {
            to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': props.platformNamespace } }, podSelector: { matchLabels: { app: 'loki' } } }],
            ports: [{ protocol: 'TCP', port: k8s.IntOrString.fromNumber(PORTS.loki) }],
          },
          {
            to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } }, podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } }],
            ports: [
              { protocol: 'UDP', port: k8s.IntOrString.fromNumber(53) },
              { protocol: 'TCP', port: k8s.IntOrString.fromNumber(53) },
            ],
          },
          apiServerEgress(props.apiServer),
        ],
      },
    });
  }
}
