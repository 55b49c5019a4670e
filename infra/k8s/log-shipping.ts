import { Construct } from 'constructs';
import * as k8s from 'cdk8s-plus-29/lib/imports/k8s.js';
import { PORTS } from '../contract/index.js';
import { promtailYaml } from '../model/files/loki.js';
import { type Image, imageRef } from '../model/index.js';
import { componentLabels, selectorLabels } from './labels.js';
import { PlatformNamespace } from './namespace.js';
import { configHash } from './pod.js';
import { containerSecurityContext } from './security.js';

export const LOG_NAMESPACE = 'prism-logging';

export interface LogShippingProps {
  readonly platformNamespace: string;
  readonly image: Image;
}

/**
 * Promtail as a DaemonSet that reads pod logs from each node and pushes them to Loki. Reading
 * node files needs a hostPath, which the restricted profile forbids, so it lives in its own
 * namespace (`privileged` admission, nothing else runs there) and the `prism` namespace stays
 * restricted. It may only reach Loki, DNS and the API server.
 */
export class LogShipping extends Construct {
  constructor(scope: Construct, id: string, props: LogShippingProps) {
    super(scope, id);
    const name = 'promtail';
    const ns = LOG_NAMESPACE;
    const labels = componentLabels(name, 'observability', props.image.tag);
    const metadata = { name, namespace: ns, labels };
    const config = promtailYaml(`http://loki.${props.platformNamespace}.svc.cluster.local:${PORTS.loki}`, props.platformNamespace);

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
    new k8s.KubeConfigMap(this, 'ConfigMap', { metadata: { name: `${name}-config`, namespace: ns, labels }, data: { 'promtail.yaml': config } });

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
          metadata: { labels, annotations: { 'prism.io/config-hash': configHash([{ name: 'promtail.yaml', mountPath: '/etc/promtail', content: config }]) } },
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
                args: ['-config.file=/etc/promtail/promtail.yaml', '-config.expand-env=true'],
                env: [{ name: 'HOSTNAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } }],
                ports: [{ name: 'http', containerPort: PORTS.promtail }],
                securityContext: { ...security, runAsNonRoot: false, runAsUser: 0, runAsGroup: 0 },
                resources: {
                  requests: { cpu: k8s.Quantity.fromString('50m'), memory: k8s.Quantity.fromString('64Mi'), 'ephemeral-storage': k8s.Quantity.fromString('64Mi') },
                  limits: { cpu: k8s.Quantity.fromString('250m'), memory: k8s.Quantity.fromString('256Mi'), 'ephemeral-storage': k8s.Quantity.fromString('512Mi') },
                },
                livenessProbe: { tcpSocket: { port: k8s.IntOrString.fromNumber(PORTS.promtail) }, initialDelaySeconds: 10, periodSeconds: 15 },
                readinessProbe: { httpGet: { path: '/ready', port: k8s.IntOrString.fromNumber(PORTS.promtail) }, initialDelaySeconds: 5, periodSeconds: 10 },
                volumeMounts: [
                  { name: 'config', mountPath: '/etc/promtail', readOnly: true },
                  { name: 'pods', mountPath: '/var/log/pods', readOnly: true },
                  { name: 'positions', mountPath: '/run/promtail' },
                  { name: 'tmp', mountPath: '/tmp' },
                ],
              },
            ],
            volumes: [
              { name: 'config', configMap: { name: `${name}-config` } },
              { name: 'pods', hostPath: { path: '/var/log/pods', type: 'Directory' } },
              { name: 'positions', hostPath: { path: '/var/lib/prism-promtail', type: 'DirectoryOrCreate' } },
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
          {
            to: [{ ipBlock: { cidr: '0.0.0.0/0' } }],
            ports: [
              { protocol: 'TCP', port: k8s.IntOrString.fromNumber(443) },
              { protocol: 'TCP', port: k8s.IntOrString.fromNumber(6443) },
            ],
          },
        ],
      },
    });
  }
}
