import { Construct } from 'constructs';
import * as k8s from './imports/k8s.js';
import { HEALTH_PATHS } from '../contract/index.js';
import { type Component, type Platform, headless, portNumber, FORMAT_PARAM_ANNOTATION } from '../model/index.js';
import { SINGLETON_ANNOTATION } from '../policy/hardening.js';
import { labelsOf, selectorLabels } from './labels.js';
import { WorkloadCertificate } from './mesh-ca.js';
import { configHash, podSpec } from './pod.js';
import { TaskRunner } from './task.js';
import { WorkloadAccess } from './workload-access.js';
import { WorkloadScaling } from './workload-scaling.js';

export interface WorkloadProps {
  readonly platform: Platform;
  readonly component: Component;
  /**
   * StorageClass of the volume claims (persistent data, and ephemeral scratch space).
   * @default - the cluster's default StorageClass
   */
  readonly storageClass?: string;
}

/** Pods of a component with more than one replica (at its floor). */
function minReplicas(c: Component): number {
  return c.scaling.autoscaling?.minReplicas ?? c.scaling.replicas;
}

/**
 * One component of the model as Kubernetes objects: its access (ServiceAccount, Role), ConfigMap,
 * certificate, Service(s), a Deployment (stateless) or StatefulSet (with persistence), HPA, PDB and
 * the tasks. Each object is a public property, the escape hatch to change what the model does not
 * say (`ApiObject.of(workload.deployment!).addJsonPatch(...)`).
 */
export class Workload extends Construct {
  readonly access: WorkloadAccess;
  /** The component's config files, one key each; mounted by directory. Absent without config files. */
  readonly configMap?: k8s.KubeConfigMap;
  /** The mTLS certificate of a component with a workload identity. */
  readonly certificate?: WorkloadCertificate;
  /** The ClusterIP Service over every named port. */
  readonly service: k8s.KubeService;
  /** The headless Service that names a StatefulSet's pods (with persistence only). */
  readonly headlessService?: k8s.KubeService;
  /** The pods of a stateless component. */
  readonly deployment?: k8s.KubeDeployment;
  /** The pods of a component with persistence, each with its volume claim `data`. */
  readonly statefulSet?: k8s.KubeStatefulSet;
  readonly scaling: WorkloadScaling;
  readonly tasks: readonly TaskRunner[];

  constructor(scope: Construct, id: string, props: WorkloadProps) {
    super(scope, id);
    const { platform, component: c } = props;
    const labels = labelsOf(c);
    const selector = selectorLabels(c.name);
    const metadata = { name: c.name, labels };
    const configMapName = `${c.name}-config`;

    this.access = new WorkloadAccess(this, 'Access', {
      name: c.name,
      namespace: platform.namespace,
      labels,
      ...(c.apiAccess ? { readResources: c.apiAccess } : {}),
    });
    if (c.configFiles.length > 0) {
      this.configMap = new k8s.KubeConfigMap(this, 'ConfigMap', {
        metadata: { name: configMapName, labels },
        data: Object.fromEntries(c.configFiles.map((f) => [f.name, f.content])),
      });
    }
    if (c.identity)
      this.certificate = new WorkloadCertificate(this, 'Certificate', {
        ca: platform.mtls,
        namespace: platform.namespace,
        component: c,
        labels,
      });

    const servicePorts = c.ports.map((p) => ({
      name: p.name,
      port: p.port,
      targetPort: k8s.IntOrString.fromNumber(p.port),
      protocol: p.protocol ?? 'TCP',
    }));
    this.service = new k8s.KubeService(this, 'Service', {
      metadata,
      spec: { type: 'ClusterIP', selector, ports: servicePorts },
    });

    const template = (claimName?: string) => podTemplate(props, configMapName, claimName);
    if (c.persistence) {
      const serviceName = headless(c.name);
      this.headlessService = new k8s.KubeService(this, 'Headless', {
        metadata: { name: serviceName, labels },
        spec: { clusterIp: 'None', publishNotReadyAddresses: true, selector, ports: servicePorts },
      });
      this.statefulSet = new k8s.KubeStatefulSet(this, 'Resource', {
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
      this.deployment = new k8s.KubeDeployment(this, 'Resource', {
        // A singleton runs one replica on purpose and rolls out with Recreate (never two at once), so
        // kube-score's advice for replicas and for RollingUpdate does not apply.
        metadata: c.singleton
          ? {
              ...metadata,
              annotations: {
                [SINGLETON_ANNOTATION]: c.singleton,
                'kube-score/ignore': 'deployment-replicas,deployment-strategy',
              },
            }
          : metadata,
        spec: {
          // The HPA owns the replica count when there is one.
          ...(c.scaling.autoscaling ? {} : { replicas: c.scaling.replicas }),
          selector: { matchLabels: selector },
          revisionHistoryLimit: 5,
          // A singleton is replaced, never surged: a rolling update would run two instances (and two
          // restore volumes) side by side. Everything else keeps full capacity while it rolls.
          strategy: c.singleton
            ? { type: 'Recreate' }
            : {
                type: 'RollingUpdate',
                rollingUpdate: {
                  maxUnavailable: k8s.IntOrString.fromNumber(0),
                  maxSurge: k8s.IntOrString.fromNumber(1),
                },
              },
          template: template(),
        },
      });
    }

    this.scaling = new WorkloadScaling(this, 'Scaling', {
      name: c.name,
      selector,
      labels,
      minReplicas: minReplicas(c),
      ...(c.scaling.autoscaling ? { autoscaling: c.scaling.autoscaling } : {}),
    });
    this.tasks = c.tasks.map(
      (task) => new TaskRunner(this, task.name, { platform, component: c, task, storageClass: props.storageClass }),
    );
  }
}

/** The pod template of a component: its pod spec, with the annotations that roll it on config change and let Prometheus scrape it. */
function podTemplate(props: WorkloadProps, configMapName: string, claimName?: string): k8s.PodTemplateSpec {
  const { platform, component: c } = props;
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
  return {
    metadata: { labels: labelsOf(c), annotations },
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
      { serviceAccountName: c.name, ...(minReplicas(c) > 1 ? spreadConstraints(c.name) : {}) },
    ),
  };
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
