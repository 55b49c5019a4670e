import { createHash } from 'node:crypto';
import * as k8s from './imports/k8s.js';
import { bytes } from '../config/index.js';
import {
  type Component,
  type ConfigFile,
  type EnvValue,
  type Image,
  type Platform,
  type Probe,
  type SecretFiles,
  type WorkloadIdentity,
  type WritablePath,
  imageRef,
  resolveRef,
} from '../model/index.js';
import { MTLS_FILES, SECRET_NAME, secretSpec } from '../contract/index.js';
import { workloadCertSecret } from './mesh-ca.js';
import { containerSecurityContext, podSecurityContext } from './security.js';

/** What a pod runs: a component itself, or one of its tasks. */
export interface PodSource {
  readonly name: string;
  readonly image: Image;
  readonly command?: readonly string[];
  readonly args?: readonly string[];
  readonly env: Readonly<Record<string, EnvValue>>;
  readonly configFiles: readonly ConfigFile[];
  /** The ConfigMap holding `configFiles`. */
  readonly configMapName: string;
  readonly probes?: { readonly liveness: Probe; readonly readiness: Probe };
  readonly persistence?: { readonly claimName: string; readonly mountPath: string };
  readonly secretFiles?: SecretFiles;
  /** The mutual-TLS certificate's Secret is mounted when set (the component's pods, not its tasks). */
  readonly identity?: WorkloadIdentity;
  /** Only `ca.crt` of the component's certificate Secret, in this directory (its tasks: they verify PostgreSQL, they are no peer). */
  readonly meshCaDir?: string;
  /** Writable directories; the component's own when absent. */
  readonly writablePaths?: readonly WritablePath[];
  /** StorageClass of on-disk scratch volumes; the cluster default when absent. */
  readonly storageClass?: string;
}

function envVars(platform: Platform, env: Readonly<Record<string, EnvValue>>): k8s.EnvVar[] {
  return Object.entries(env)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, v]): k8s.EnvVar => {
      if ('value' in v) return { name, value: v.value };
      if ('ref' in v) return { name, value: resolveRef(platform, v.ref) };
      if ('field' in v) return { name, valueFrom: { fieldRef: { fieldPath: v.field } } };
      // A credential only its owner can supply (OAuth) may be absent: the feature stays off.
      const optional = secretSpec(v.secret).source === 'provided' ? { optional: true } : {};
      return { name, valueFrom: { secretKeyRef: { name: SECRET_NAME, key: v.secret, ...optional } } };
    });
}

/** A model probe as Kubernetes renders it; ports are looked up by name, never invented. */
export function renderProbe(p: Probe, ports: readonly { name: string; port: number }[]): k8s.Probe {
  const portOf = (name: string) => k8s.IntOrString.fromNumber(ports.find((x) => x.name === name)!.port);
  const action: Partial<k8s.Probe> =
    'http' in p.action
      ? { httpGet: { path: p.action.http.path, port: portOf(p.action.http.port) } }
      : 'tcp' in p.action
        ? { tcpSocket: { port: portOf(p.action.tcp.port) } }
        : { exec: { command: [...p.action.exec] } };
  return {
    ...action,
    initialDelaySeconds: p.initialDelaySeconds,
    periodSeconds: p.periodSeconds,
    timeoutSeconds: p.timeoutSeconds,
    failureThreshold: p.failureThreshold,
  };
}

function volumeName(path: string): string {
  return path
    .replace(/^\//, '')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/-+$/, '')
    .slice(0, 63);
}

/** Headroom beyond the emptyDirs for container logs and the writable layer. */
const EPHEMERAL_HEADROOM = 512 * 1024 ** 2;
const EPHEMERAL_REQUEST = '64Mi';

/**
 * CPU and memory from the model; ephemeral storage derived from the component's scratch
 * directories, so a full emptyDir evicts the pod rather than filling the node.
 */
function resources(c: Component, writable: readonly WritablePath[]): k8s.ResourceRequirements {
  const q = (quantity: string) => k8s.Quantity.fromString(quantity);
  const scratch = writable.filter((w) => !w.onDisk).reduce((sum, w) => sum + (bytes(w.size) ?? 0), 0);
  const ephemeralLimit = `${Math.ceil((scratch + EPHEMERAL_HEADROOM) / 1024 ** 2)}Mi`;
  return {
    requests: {
      cpu: q(c.resources.requests.cpu),
      memory: q(c.resources.requests.memory),
      'ephemeral-storage': q(EPHEMERAL_REQUEST),
    },
    limits: {
      cpu: q(c.resources.limits.cpu),
      memory: q(c.resources.limits.memory),
      'ephemeral-storage': q(ephemeralLimit),
    },
  };
}

/** A hash of the mounted configuration, so that a change rolls the pods. */
export function configHash(files: readonly ConfigFile[]): string {
  const h = createHash('sha256');
  for (const f of files) h.update(`${f.mountPath}/${f.name}\0${f.content}\0`);
  return h.digest('hex').slice(0, 16);
}

/** The restricted-profile pod spec of a component or task. */
export function podSpec(
  platform: Platform,
  component: Component,
  source: PodSource,
  extra: Pick<k8s.PodSpec, 'restartPolicy' | 'affinity' | 'topologySpreadConstraints' | 'serviceAccountName'> = {},
): k8s.PodSpec {
  const volumes: k8s.Volume[] = [];
  const mounts: k8s.VolumeMount[] = [];
  // Config files: one volume per directory, each file a key of the ConfigMap. A directory inside another one's is a
  // subdirectory of that volume, not a mount of its own: the kubelet mounts ConfigMap volumes read-only, where the
  // runtime cannot make a mount point ("mkdir .../etc/prometheus/rules: read-only file system").
  const dirs = [...new Set(source.configFiles.map((f) => f.mountPath))];
  const volumeDir = (dir: string) =>
    dirs.find((d) => dir.startsWith(`${d}/`) && !dirs.some((o) => d.startsWith(`${o}/`))) ?? dir;
  const byDir = new Map<string, { key: string; path: string }[]>();
  for (const f of source.configFiles) {
    const root = volumeDir(f.mountPath);
    const path = root === f.mountPath ? f.name : `${f.mountPath.slice(root.length + 1)}/${f.name}`;
    byDir.set(root, [...(byDir.get(root) ?? []), { key: f.name, path }]);
  }
  for (const [dir, items] of [...byDir].sort(([a], [b]) => a.localeCompare(b))) {
    const name = `config-${volumeName(dir)}`.slice(0, 63);
    volumes.push({ name, configMap: { name: source.configMapName, items, defaultMode: 0o444 } });
    mounts.push({ name, mountPath: dir, readOnly: true });
  }
  if (source.secretFiles) {
    volumes.push({
      name: 'secret-files',
      secret: {
        secretName: SECRET_NAME,
        items: source.secretFiles.items.map((i) => ({ key: i.secret, path: i.file })),
        defaultMode: 0o440,
      },
    });
    mounts.push({ name: 'secret-files', mountPath: source.secretFiles.mountPath, readOnly: true });
  }
  const caOnly = source.identity?.verifyOnly ? source.identity.mountPath : source.meshCaDir;
  if (source.identity || caOnly) {
    // The Secret as a directory (no subPath), so the kubelet swaps renewed files in place. 0440 with the
    // pod's fsGroup: root owns the files, so PostgreSQL accepts its key (it refuses one others may read).
    // A workload that only verifies servers gets the CA certificate alone.
    const files = caOnly ? [MTLS_FILES.ca] : Object.values(MTLS_FILES);
    volumes.push({
      name: 'mtls',
      secret: {
        secretName: workloadCertSecret(component.name),
        items: files.map((f) => ({ key: f, path: f })),
        defaultMode: 0o440,
      },
    });
    mounts.push({ name: 'mtls', mountPath: caOnly ?? source.identity!.mountPath, readOnly: true });
  }
  const writable = source.writablePaths ?? component.writablePaths;
  for (const w of writable) {
    const name = `scratch-${volumeName(w.path)}`.slice(0, 63);
    // Large scratch gets a volume claim of its own for the pod's lifetime (a generic ephemeral
    // volume) rather than filling the node's ephemeral storage.
    volumes.push(
      w.onDisk
        ? {
            name,
            ephemeral: {
              volumeClaimTemplate: {
                spec: {
                  accessModes: ['ReadWriteOnce'],
                  ...(source.storageClass ? { storageClassName: source.storageClass } : {}),
                  resources: { requests: { storage: k8s.Quantity.fromString(w.size) } },
                },
              },
            },
          }
        : { name, emptyDir: { sizeLimit: k8s.Quantity.fromString(w.size) } },
    );
    mounts.push({ name, mountPath: w.path });
  }
  if (source.persistence) mounts.push({ name: source.persistence.claimName, mountPath: source.persistence.mountPath });

  const ports = source.probes ? component.ports : [];
  const container: k8s.Container = {
    name: source.name,
    image: imageRef(source.image),
    imagePullPolicy: source.image.pullPolicy ?? platform.imagePullPolicy,
    ...(source.command ? { command: [...source.command] } : {}),
    ...(source.args ? { args: [...source.args] } : {}),
    ports: ports.map((p) => ({ name: p.name, containerPort: p.port, protocol: p.protocol ?? 'TCP' })),
    env: envVars(platform, source.env),
    resources: resources(component, writable),
    ...(source.probes
      ? {
          livenessProbe: renderProbe(source.probes.liveness, ports),
          readinessProbe: renderProbe(source.probes.readiness, ports),
        }
      : {}),
    securityContext: containerSecurityContext(component.user),
    volumeMounts: mounts,
  };
  return {
    // Only a component that declares API access gets a token (Prometheus, for pod discovery).
    automountServiceAccountToken: Boolean(component.apiAccess && source.probes),
    enableServiceLinks: false,
    terminationGracePeriodSeconds: component.terminationGracePeriodSeconds,
    securityContext: podSecurityContext(component.user),
    containers: [container],
    volumes,
    ...extra,
  };
}
