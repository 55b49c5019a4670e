import { parse } from 'yaml';
import { podTemplates, type ManifestObject } from '../manifest/index.js';

/**
 * Read-only views of synthesized Kubernetes objects for the checklist's rules. Rules match objects
 * by kind, labels, images and env names, never by an object's name alone, so they keep working
 * when a construct renames what it renders.
 */

export interface EnvVar {
  readonly name: string;
  readonly value?: string;
  readonly valueFrom?: {
    readonly secretKeyRef?: { readonly name: string; readonly key: string };
    readonly configMapKeyRef?: unknown;
    readonly fieldRef?: unknown;
  };
}

interface ProbeSpec {
  readonly timeoutSeconds?: number;
  readonly httpGet?: { readonly path?: string; readonly port: number | string };
  readonly tcpSocket?: unknown;
  readonly exec?: unknown;
  readonly grpc?: unknown;
}

export interface Container {
  readonly name: string;
  readonly image: string;
  readonly command?: readonly string[];
  readonly args?: readonly string[];
  readonly env?: readonly EnvVar[];
  readonly ports?: readonly { readonly name?: string; readonly containerPort: number }[];
  readonly livenessProbe?: ProbeSpec;
  readonly readinessProbe?: ProbeSpec;
  readonly resources?: {
    readonly requests?: Readonly<Record<string, string>>;
    readonly limits?: Readonly<Record<string, string>>;
  };
  readonly volumeMounts?: readonly { readonly name: string; readonly mountPath: string }[];
}

interface Volume {
  readonly name: string;
  readonly secret?: {
    readonly secretName: string;
    readonly items?: readonly { readonly key: string; readonly path: string }[];
  };
  readonly configMap?: { readonly name: string };
  readonly projected?: {
    readonly sources: readonly {
      readonly secret?: { readonly name: string; readonly items?: readonly { readonly key: string }[] };
      readonly configMap?: { readonly name: string };
    }[];
  };
  readonly persistentVolumeClaim?: unknown;
}

interface PodSpec {
  readonly containers: readonly Container[];
  readonly initContainers?: readonly Container[];
  readonly volumes?: readonly Volume[];
  readonly terminationGracePeriodSeconds?: number;
}

/** Anything that runs pods, with its pod template flattened out. */
export interface Workload {
  readonly object: ManifestObject;
  readonly kind: string;
  readonly name: string;
  readonly namespace: string;
  /** `app.kubernetes.io/name`, else `app`, else the object's name. */
  readonly app: string;
  readonly podLabels: Readonly<Record<string, string>>;
  readonly podAnnotations: Readonly<Record<string, string>>;
  readonly pod: PodSpec;
  /** Fixed replica count (Deployment, StatefulSet); undefined for the others. */
  readonly replicas?: number;
}

const at = (o: unknown, ...path: string[]): unknown =>
  path.reduce<unknown>((v, k) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined), o);

export function workloads(objects: readonly ManifestObject[]): Workload[] {
  return podTemplates(objects).map(({ object: o, labels, annotations, spec }) => {
    const replicas = at(o, 'spec', 'replicas');
    return {
      object: o,
      kind: o.kind,
      name: o.metadata.name,
      namespace: o.metadata.namespace ?? '',
      app: o.metadata.labels?.['app.kubernetes.io/name'] ?? o.metadata.labels?.app ?? o.metadata.name,
      podLabels: labels,
      podAnnotations: annotations,
      pod: spec as PodSpec,
      ...(typeof replicas === 'number' ? { replicas } : {}),
    };
  });
}

/** Long-running workloads: the ones that need probes, replicas and disruption budgets. */
export const isLongRunning = (w: Workload): boolean => ['Deployment', 'StatefulSet', 'DaemonSet'].includes(w.kind);

export const containersOf = (w: Workload): readonly Container[] => [
  ...(w.pod.initContainers ?? []),
  ...w.pod.containers,
];

export function env(c: Container, name: string): EnvVar | undefined {
  return c.env?.find((e) => e.name === name);
}

/** The first container of a workload that sets the variable. */
export function envOf(w: Workload, name: string): EnvVar | undefined {
  for (const c of w.pod.containers) {
    const e = env(c, name);
    if (e) return e;
  }
  return undefined;
}

/** The secret keys a workload reads, through env or volumes, as `secret/key` (a whole secret as `secret/*`). */
export function secretKeysRead(w: Workload): Set<string> {
  const keys = new Set<string>();
  for (const c of containersOf(w))
    for (const e of c.env ?? [])
      if (e.valueFrom?.secretKeyRef) keys.add(`${e.valueFrom.secretKeyRef.name}/${e.valueFrom.secretKeyRef.key}`);
  for (const v of w.pod.volumes ?? []) {
    const sources = [
      ...(v.secret ? [{ name: v.secret.secretName, items: v.secret.items }] : []),
      ...(v.projected?.sources ?? []).flatMap((s) => (s.secret ? [s.secret] : [])),
    ];
    for (const s of sources) {
      if (s.items?.length) for (const i of s.items) keys.add(`${s.name}/${i.key}`);
      else keys.add(`${s.name}/*`);
    }
  }
  return keys;
}

/** Secrets whose data is mounted at a directory containing `path` (a volume mount), by name. */
export function secretsMountedAt(w: Workload, path: string): string[] {
  const names: string[] = [];
  for (const c of w.pod.containers) {
    for (const m of c.volumeMounts ?? []) {
      if (!(path === m.mountPath || path.startsWith(`${m.mountPath.replace(/\/$/, '')}/`))) continue;
      const v = w.pod.volumes?.find((x) => x.name === m.name);
      if (v?.secret) names.push(v.secret.secretName);
      for (const s of v?.projected?.sources ?? []) if (s.secret) names.push(s.secret.name);
    }
  }
  return names;
}

export const spec = <T>(o: ManifestObject): T => (o.spec ?? {}) as T;

/** Whether a `matchLabels` selector (no expressions) selects these labels. */
export function selects(
  selector: { matchLabels?: Record<string, string>; matchExpressions?: unknown[] } | undefined,
  labels: Readonly<Record<string, string>>,
): boolean {
  if (!selector) return false;
  if (selector.matchExpressions?.length) return false;
  return Object.entries(selector.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
}

/** Every value of every ConfigMap and Secret, with where it came from. */
function configValues(objects: readonly ManifestObject[]): { object: ManifestObject; key: string; text: string }[] {
  const out: { object: ManifestObject; key: string; text: string }[] = [];
  for (const o of objects) {
    if (o.kind === 'ConfigMap')
      for (const [key, text] of Object.entries((o.data as Record<string, string>) ?? {}))
        out.push({ object: o, key, text });
    if (o.kind === 'Secret') {
      // A config rendered into a Secret (an Alertmanager config, for example) is read the same way.
      for (const [key, text] of Object.entries((o.stringData as Record<string, string>) ?? {}))
        out.push({ object: o, key, text });
      for (const [key, b64] of Object.entries((o.data as Record<string, string>) ?? {}))
        out.push({ object: o, key, text: Buffer.from(b64, 'base64').toString('utf8') });
    }
  }
  return out;
}

/** ConfigMap values that parse as YAML (or JSON) documents of the given shape. */
export function configDocs<T>(
  objects: readonly ManifestObject[],
  shape: (doc: unknown) => doc is T,
): { object: ManifestObject; key: string; doc: T }[] {
  const out: { object: ManifestObject; key: string; doc: T }[] = [];
  for (const v of configValues(objects)) {
    if (!/\.(ya?ml|json)$/.test(v.key)) continue;
    let doc: unknown;
    try {
      doc = parse(v.text);
    } catch {
      continue;
    }
    if (shape(doc)) out.push({ object: v.object, key: v.key, doc });
  }
  return out;
}

export const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** `repository` of an image reference (`registry/path:tag` or `@digest` stripped). */
function imageRepository(image: string): string {
  const noDigest = image.split('@')[0]!;
  const slash = noDigest.lastIndexOf('/');
  const colon = noDigest.lastIndexOf(':');
  return colon > slash ? noDigest.slice(0, colon) : noDigest;
}

/** Workloads whose some container runs an image whose repository ends with `/name` or is `name`. */
export function runningImage(ws: readonly Workload[], name: string): Workload[] {
  return ws.filter((w) =>
    containersOf(w).some((c) => {
      const repo = imageRepository(c.image);
      return repo === name || repo.endsWith(`/${name}`);
    }),
  );
}

export const describeList = (xs: readonly string[], none = 'none'): string => (xs.length ? xs.join(', ') : none);
