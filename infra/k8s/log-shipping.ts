import { Construct } from 'constructs';
import * as k8s from './imports/k8s.js';
import {
  type ApiServer,
  type LogShipper,
  type Platform,
  imageRef,
  alloyKubernetesConfig,
  portNumber,
} from '../model/index.js';
import { componentLabels, selectorLabels } from './labels.js';
import { PlatformNamespace } from './namespace.js';
import { apiServerEgress } from './network-policy.js';
import { configHash, renderProbe } from './pod.js';
import { containerSecurityContext } from './security.js';

export const LOG_NAMESPACE = 'prism-logging';
const q = (quantity: string) => k8s.Quantity.fromString(quantity);

export interface LogShippingProps {
  readonly platform: Platform;
  readonly shipper: LogShipper;
  /** The API server's endpoints: the only addresses besides Loki and DNS the shipper may reach. */
  readonly apiServer: ApiServer;
}

const POD_LOGS = '/var/log/pods';

/**
 * The model's log shipper as a DaemonSet that tails the pod log files of each node and pushes them
 * to Loki. Reading node files needs a hostPath, which the restricted profile forbids, so it lives in
 * its own namespace (`privileged` admission, nothing else runs there) and the `prism` namespace stays
 * restricted. It may only reach Loki, DNS and the API server (pod discovery), nothing else.
 */
export class LogShipping extends Construct {
  constructor(scope: Construct, id: string, props: LogShippingProps) {
    super(scope, id);
    const { platform, shipper } = props;
    const { name, configDir, configFile } = shipper;
    const ns = LOG_NAMESPACE;
    const platformNamespace = platform.namespace;
    const labels = componentLabels(name, 'observability', shipper.image.tag);
    const metadata = { name, namespace: ns, labels };
    // From another namespace: Loki by its Service's full name.
    const loki = shipper.loki;
    const lokiPort = portNumber(platform, loki.component, loki.port);
    const config = alloyKubernetesConfig({
      namespace: platformNamespace,
      lokiPushUrl: `${loki.scheme}://${loki.component}.${platformNamespace}.svc.cluster.local:${lokiPort}${loki.path ?? ''}`,
      podLogsDir: POD_LOGS,
    });

    new PlatformNamespace(this, 'Namespace', {
      name: ns,
      level: 'privileged',
      labels: componentLabels(ns, 'observability'),
    });
    new k8s.KubeServiceAccount(this, 'ServiceAccount', { metadata, automountServiceAccountToken: false });
    new k8s.KubeRole(this, 'Role', {
      metadata: { name, namespace: platformNamespace, labels },
      rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] }],
    });
    new k8s.KubeRoleBinding(this, 'RoleBinding', {
      metadata: { name, namespace: platformNamespace, labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
      subjects: [{ kind: 'ServiceAccount', name, namespace: ns }],
    });
    new k8s.KubeConfigMap(this, 'ConfigMap', {
      metadata: { name: `${name}-config`, namespace: ns, labels },
      data: { [configFile]: config },
    });

    const ports = [shipper.port];
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
          metadata: {
            labels,
            annotations: {
              'prism.io/config-hash': configHash([{ name: configFile, mountPath: configDir, content: config }]),
            },
          },
          spec: {
            serviceAccountName: name,
            automountServiceAccountToken: true,
            enableServiceLinks: false,
            securityContext: {
              runAsUser: 0,
              runAsGroup: 0,
              runAsNonRoot: false,
              seccompProfile: { type: 'RuntimeDefault' },
            },
            tolerations: [{ operator: 'Exists', effect: 'NoSchedule' }],
            containers: [
              {
                name,
                image: imageRef(shipper.image),
                imagePullPolicy: platform.imagePullPolicy,
                args: [...shipper.args, `${shipper.listenFlag}=0.0.0.0:${shipper.port.port}`],
                env: [{ name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } }],
                ports: ports.map((p) => ({ name: p.name, containerPort: p.port })),
                securityContext: { ...security, runAsNonRoot: false, runAsUser: 0, runAsGroup: 0 },
                resources: {
                  requests: {
                    cpu: q(shipper.resources.requests.cpu),
                    memory: q(shipper.resources.requests.memory),
                    'ephemeral-storage': q(shipper.tmpSize),
                  },
                  // Its /tmp, and its own container log files on the node.
                  limits: {
                    cpu: q(shipper.resources.limits.cpu),
                    memory: q(shipper.resources.limits.memory),
                    'ephemeral-storage': q('512Mi'),
                  },
                },
                livenessProbe: renderProbe(shipper.liveness, ports),
                readinessProbe: renderProbe(shipper.readiness, ports),
                volumeMounts: [
                  { name: 'config', mountPath: configDir, readOnly: true },
                  { name: 'pods', mountPath: POD_LOGS, readOnly: true },
                  { name: 'positions', mountPath: shipper.storagePath },
                  { name: 'tmp', mountPath: '/tmp' },
                ],
              },
            ],
            volumes: [
              { name: 'config', configMap: { name: `${name}-config` } },
              { name: 'pods', hostPath: { path: POD_LOGS, type: 'Directory' } },
              { name: 'positions', hostPath: { path: '/var/lib/prism-alloy', type: 'DirectoryOrCreate' } },
              { name: 'tmp', emptyDir: { sizeLimit: q(shipper.tmpSize) } },
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
            to: [
              {
                namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': platformNamespace } },
                podSelector: { matchLabels: { app: loki.component } },
              },
            ],
            ports: [{ protocol: 'TCP', port: k8s.IntOrString.fromNumber(lokiPort) }],
          },
          {
            to: [
              {
                namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } },
                podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } },
              },
            ],
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
