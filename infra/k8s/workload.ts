import { Construct } from 'constructs';
import * as k8s from 'cdk8s-plus-29/lib/imports/k8s.js';
import { HEALTH_PATHS } from '../contract/index.js';
import { type Component, type Platform, headless, portNumber, FORMAT_PARAM_ANNOTATION } from '../model/index.js';
import { SINGLETON_ANNOTATION } from '../policy/hardening.js';
import { labelsOf, selectorLabels } from './labels.js';
import { WorkloadCertificate } from './mesh-ca.js';
import { configHash, podSpec } from './pod.js';
import { TaskRunner } from './task.js';

export interface WorkloadProps {
  readonly platform: Platform;
  readonly component: Component;
  /** StorageClass of the volume claims; the cluster default when absent. */
  readonly storageClass?: string;
}

/** Pods of a component with more than one replica (at its floor). */
function minReplicas(c: Component): number {
  return c.scaling.autoscaling?.minReplicas ?? c.scaling.replicas;
}

/**
 * One component of the model as Kubernetes objects: ServiceAccount, ConfigMap, Service(s),
 * a Deployment (stateless) or StatefulSet (with persistence), HPA, PDB and the tasks.
 */
export class Workload extends Construct {
  constructor(scope: Construct, id: string, props: WorkloadProps) {
    super(scope, id);
    const { platform, component: c } = props;
    const labels = labelsOf(c);
    const selector = selectorLabels(c.name);
    const metadata = { name: c.name, labels };
    const configMapName = `${c.name}-config`;

    new k8s.KubeServiceAccount(this, 'ServiceAccount', { metadata, automountServiceAccountToken: false });
    if (c.apiAccess) {
      new k8s.KubeRole(this, 'Role', {
        metadata,
        rules: [{ apiGroups: [''], resources: [...c.apiAccess], verbs: ['get', 'list', 'watch'] }],
      });
      new k8s.KubeRoleBinding(this, 'RoleBinding', {
        metadata,
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: c.name },
        subjects: [{ kind: 'ServiceAccount', name: c.name, namespace: platform.namespace }],
      });
    }

    if (c.configFiles.length > 0) {
      new k8s.KubeConfigMap(this, 'ConfigMap', {
        metadata: { name: configMapName, labels },
        data: Object.fromEntries(c.configFiles.map((f) => [f.name, f.content])),
      });
    }

    if (c.identity) new WorkloadCertificate(this, 'Certificate', { ca: platform.mtls, namespace: platform.namespace, component: c, labels });

    const servicePorts = c.ports.map((p) => ({ name: p.name, port: p.port, targetPort: k8s.IntOrString.fromNumber(p.port), protocol: p.protocol ?? 'TCP' }));
    new k8s.KubeService(this, 'Service', { metadata, spec: { type: 'ClusterIP', selector, ports: servicePorts } });

    const replicas = minReplicas(c);
    const spread = replicas > 1 ? spreadConstraints(c.name) : {};
    const annotations: Record<string, string> = {
      ...(c.configFiles.length > 0 ? { 'prism.io/config-hash': configHash(c.configFiles) } : {}),
      ...(c.metricsPort
        ? {
            'prometheus.io/scrape': 'true',
            'prometheus.io/port': String(portNumber(platform, c.name, c.metricsPort)),
            'prometheus.io/path': c.metricsPath ?? HEALTH_PATHS.metrics,
            ...(c.metricsParams?.format ? { [FORMAT_PARAM_ANNOTATION]: c.metricsParams.format } : {}),
          }
        : {}),
    };
    const template = (claimName?: string): k8s.PodTemplateSpec => ({
      metadata: { labels, annotations },
      spec: podSpec(
        platform,
        c,
        {
          name: c.name,
          image: c.image,
          command: c.command,
          args: c.args,
          env: c.env,
          configFiles: c.configFiles,
          configMapName,
          probes: { liveness: c.liveness, readiness: c.readiness },
          secretFiles: c.secretFiles,
          ...(c.identity ? { identity: c.identity } : {}),
          storageClass: props.storageClass,
          ...(claimName && c.persistence ? { persistence: { claimName, mountPath: c.persistence.mountPath } } : {}),
        },
        { serviceAccountName: c.name, ...spread },
      ),
    });

    if (c.persistence) {
      const serviceName = headless(c.name);
      new k8s.KubeService(this, 'Headless', {
        metadata: { name: serviceName, labels },
        spec: { clusterIp: 'None', publishNotReadyAddresses: true, selector, ports: servicePorts },
      });
      new k8s.KubeStatefulSet(this, 'Resource', {
        metadata,
        spec: {
          serviceName,
          replicas: c.scaling.replicas,
          selector: { matchLabels: selector },
          podManagementPolicy: 'Parallel',
          updateStrategy: { type: 'RollingUpdate' },
          persistentVolumeClaimRetentionPolicy: { whenDeleted: 'Retain', whenScaled: 'Retain' },
          template: template('data'),
          volumeClaimTemplates: [
            {
              metadata: { name: 'data', labels },
              spec: {
                accessModes: ['ReadWriteOnce'],
                ...(props.storageClass ? { storageClassName: props.storageClass } : {}),
                resources: { requests: { storage: k8s.Quantity.fromString(c.persistence.size) } },
              },
            },
          ],
        },
      });
    } else {
      new k8s.KubeDeployment(this, 'Resource', {
        // A singleton runs one replica on purpose and rolls out with Recreate (never two at once), so
        // kube-score's advice for replicas and for RollingUpdate does not apply.
        metadata: c.singleton ? { ...metadata, annotations: { [SINGLETON_ANNOTATION]: c.singleton, 'kube-score/ignore': 'deployment-replicas,deployment-strategy' } } : metadata,
        spec: {
          // The HPA owns the replica count when there is one.
          ...(c.scaling.autoscaling ? {} : { replicas: c.scaling.replicas }),
          selector: { matchLabels: selector },
          revisionHistoryLimit: 5,
          // A singleton is replaced, never surged: a rolling update would run two instances (and two
          // restore volumes) side by side. Everything else keeps full capacity while it rolls.
          strategy: c.singleton
            ? { type: 'Recreate' }
            : { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: k8s.IntOrString.fromNumber(0), maxSurge: k8s.IntOrString.fromNumber(1) } },
          template: template(),
        },
      });
    }

    if (c.scaling.autoscaling) {
      const a = c.scaling.autoscaling;
      new k8s.KubeHorizontalPodAutoscalerV2(this, 'Hpa', {
        metadata: { name: `${c.name}-hpa`, labels },
        spec: {
          scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: c.name },
          minReplicas: a.minReplicas,
          maxReplicas: a.maxReplicas,
          metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: a.targetCPUUtilization } } }],
        },
      });
    }

    if (replicas > 1) {
      new k8s.KubePodDisruptionBudget(this, 'Pdb', {
        metadata: { name: c.name, labels },
        spec: { maxUnavailable: k8s.IntOrString.fromNumber(1), selector: { matchLabels: selector } },
      });
    }

    for (const task of c.tasks) new TaskRunner(this, task.name, { platform, component: c, task, storageClass: props.storageClass });
  }
}

/** Spread replicas over nodes and zones, and keep two replicas off one node where possible. */
function spreadConstraints(name: string): Pick<k8s.PodSpec, 'affinity' | 'topologySpreadConstraints'> {
  const labelSelector = { matchLabels: selectorLabels(name) };
  return {
    topologySpreadConstraints: [
      { maxSkew: 1, topologyKey: 'kubernetes.io/hostname', whenUnsatisfiable: 'ScheduleAnyway', labelSelector },
      { maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'ScheduleAnyway', labelSelector },
    ],
    affinity: {
      podAntiAffinity: {
        preferredDuringSchedulingIgnoredDuringExecution: [
          { weight: 100, podAffinityTerm: { topologyKey: 'kubernetes.io/hostname', labelSelector } },
        ],
      },
    },
  };
}
