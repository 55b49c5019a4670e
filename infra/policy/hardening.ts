/**
 * Hardening rules every environment must meet, checked over synthesized objects (not the
 * model), so a renderer bug cannot slip through. Each function returns violations as
 * `Kind/name: what is wrong`; an empty list means the rule holds.
 */

import { podTemplates, type ManifestObject } from '../manifest/index.js';

/** A rendered object as these rules read it: its `spec` is walked as the document it is (see eslint.config.js). */
type Rendered = ManifestObject & { readonly spec?: any };

const MIN_UID = 10000;
const LONG_RUNNING = new Set(['Deployment', 'StatefulSet', 'DaemonSet']);

export interface Workload {
  readonly object: Rendered;
  /** The pod template's spec. */
  readonly pod: any;
  readonly labels: Readonly<Record<string, string>>;
  readonly namespace: string;
}

const id = (o: Rendered) => `${o.kind}/${o.metadata.name}`;

/** Every pod template of the objects, with where it runs. */
export function workloads(objects: readonly ManifestObject[]): Workload[] {
  return podTemplates(objects).map((t) => ({
    object: t.object,
    pod: t.spec,
    labels: t.labels,
    namespace: t.object.metadata.namespace ?? 'default',
  }));
}

/** Namespaces whose Pod Security Admission enforces `restricted`. */
export function restrictedNamespaces(objects: readonly Rendered[]): Set<string> {
  return new Set(
    objects
      .filter(
        (o) => o.kind === 'Namespace' && o.metadata.labels?.['pod-security.kubernetes.io/enforce'] === 'restricted',
      )
      .map((o) => o.metadata.name),
  );
}

/** Pod Security Standards "restricted", plus UID >= 10000 and a read-only root filesystem. */
export function restrictedProfile(w: Workload): string[] {
  const v: string[] = [];
  const p = w.pod;
  const where = id(w.object);
  if (p.hostNetwork || p.hostPID || p.hostIPC) v.push(`${where}: uses a host namespace`);
  for (const vol of p.volumes ?? []) if (vol.hostPath) v.push(`${where}: hostPath volume ${vol.name}`);
  if (p.securityContext?.runAsNonRoot !== true) v.push(`${where}: pod runAsNonRoot is not true`);
  if (p.securityContext?.seccompProfile?.type !== 'RuntimeDefault')
    v.push(`${where}: pod seccomp is not RuntimeDefault`);
  for (const c of [...(p.initContainers ?? []), ...p.containers]) {
    const s = c.securityContext ?? {};
    const uid = s.runAsUser ?? p.securityContext?.runAsUser;
    if (!(uid >= MIN_UID)) v.push(`${where}/${c.name}: UID ${uid} is below ${MIN_UID}`);
    if (s.allowPrivilegeEscalation !== false) v.push(`${where}/${c.name}: privilege escalation allowed`);
    if (s.privileged) v.push(`${where}/${c.name}: privileged`);
    if (!s.capabilities?.drop?.includes('ALL')) v.push(`${where}/${c.name}: capabilities not dropped`);
    if ((s.capabilities?.add ?? []).length > 0) v.push(`${where}/${c.name}: adds capabilities`);
    if (s.readOnlyRootFilesystem !== true) v.push(`${where}/${c.name}: root filesystem is writable`);
    if (s.seccompProfile && s.seccompProfile.type !== 'RuntimeDefault')
      v.push(`${where}/${c.name}: seccomp is not RuntimeDefault`);
  }
  return v;
}

/** Requests and limits, probes on long-running pods, pinned images. */
function containerHygiene(w: Workload): string[] {
  const v: string[] = [];
  const where = id(w.object);
  for (const c of w.pod.containers) {
    for (const kind of ['requests', 'limits']) {
      for (const r of ['cpu', 'memory']) if (!c.resources?.[kind]?.[r]) v.push(`${where}/${c.name}: no ${r} ${kind}`);
    }
    if (LONG_RUNNING.has(w.object.kind)) {
      if (!c.livenessProbe) v.push(`${where}/${c.name}: no liveness probe`);
      if (!c.readinessProbe) v.push(`${where}/${c.name}: no readiness probe`);
    }
    const image: string = c.image;
    const tag = image.includes('@') ? 'digest' : image.slice(image.lastIndexOf(':') + 1);
    if (!image.includes(':') || tag === 'latest' || tag.includes('/'))
      v.push(`${where}/${c.name}: image ${image} is not pinned`);
  }
  return v;
}

/** A service account token only where a Role grants read access to the API, and nothing more. */
function serviceAccountTokens(w: Workload, objects: readonly Rendered[]): string[] {
  if (w.pod.automountServiceAccountToken === false) return [];
  const sa = w.pod.serviceAccountName;
  const bindings = objects.filter(
    (o) => o.kind === 'RoleBinding' && (o as any).subjects?.some((s: any) => s.name === sa),
  );
  const roles = bindings.map((b) =>
    objects.find((o) => o.kind === 'Role' && o.metadata.name === (b as any).roleRef.name),
  );
  const readOnly =
    roles.length > 0 &&
    roles.every(
      (r) =>
        r &&
        (r as any).rules.every((rule: any) =>
          rule.verbs.every((verb: string) => ['get', 'list', 'watch'].includes(verb)),
        ),
    );
  return readOnly ? [] : [`${id(w.object)}: mounts a service account token without a read-only Role`];
}

/** The replica floor of a workload (the HPA's minimum when one targets it). */
function replicaFloor(w: Workload, objects: readonly Rendered[]): number {
  const hpa = objects.find(
    (o) => o.kind === 'HorizontalPodAutoscaler' && o.spec.scaleTargetRef.name === w.object.metadata.name,
  );
  return hpa?.spec.minReplicas ?? w.object.spec?.replicas ?? 1;
}

const selects = (selector: Record<string, string> | undefined, labels: Record<string, string>) =>
  selector !== undefined && Object.entries(selector).every(([k, val]) => labels[k] === val);

/** More than one replica: a PodDisruptionBudget and topology spread. */
function availability(w: Workload, objects: readonly Rendered[]): string[] {
  if (!['Deployment', 'StatefulSet'].includes(w.object.kind) || replicaFloor(w, objects) < 2) return [];
  const v: string[] = [];
  const pdb = objects.find((o) => o.kind === 'PodDisruptionBudget' && selects(o.spec.selector.matchLabels, w.labels));
  if (!pdb) v.push(`${id(w.object)}: ${replicaFloor(w, objects)} replicas without a PodDisruptionBudget`);
  if (!(w.pod.topologySpreadConstraints?.length > 0)) v.push(`${id(w.object)}: replicas without topology spread`);
  return v;
}

/** Default deny in the namespace, and a policy of its own for every pod. */
function networkIsolation(w: Workload, objects: readonly Rendered[]): string[] {
  const policies = objects.filter(
    (o) => o.kind === 'NetworkPolicy' && (o.metadata.namespace ?? 'default') === w.namespace,
  );
  const isDenyAll = (p: Rendered) =>
    Object.keys(p.spec.podSelector).length === 0 &&
    p.spec.policyTypes.includes('Ingress') &&
    p.spec.policyTypes.includes('Egress') &&
    !p.spec.ingress &&
    !p.spec.egress;
  const v: string[] = [];
  if (!policies.some(isDenyAll)) v.push(`${id(w.object)}: namespace ${w.namespace} has no default deny`);
  if (!policies.some((p) => selects(p.spec.podSelector.matchLabels, w.labels)))
    v.push(`${id(w.object)}: no NetworkPolicy selects its pods`);
  return v;
}

/** The annotation a singleton Deployment carries (infra/k8s/workload.ts), with the reason. */
export const SINGLETON_ANNOTATION = 'prism.io/singleton';

/**
 * A singleton never runs twice: one replica, no autoscaler, and replaced rather than surged on
 * rollout (a RollingUpdate starts the new pod, and its volumes, before the old one stops).
 */
function singleInstance(w: Workload, objects: readonly Rendered[]): string[] {
  if (w.object.kind !== 'Deployment' || !w.object.metadata.annotations?.[SINGLETON_ANNOTATION]) return [];
  const v: string[] = [];
  const hpa = objects.some(
    (o) => o.kind === 'HorizontalPodAutoscaler' && o.spec.scaleTargetRef.name === w.object.metadata.name,
  );
  if (hpa || (w.object.spec?.replicas ?? 1) !== 1) v.push(`${id(w.object)}: a singleton with more than one replica`);
  if (w.object.spec?.strategy?.type !== 'Recreate')
    v.push(
      `${id(w.object)}: a singleton rolled out with ${w.object.spec?.strategy?.type ?? 'RollingUpdate'}, not Recreate`,
    );
  return v;
}

/**
 * The Prism images start tini as PID 1 (signals forwarded, zombies reaped); a container that sets
 * `command` replaces that entrypoint, so their containers pass `args` only.
 */
function initProcess(w: Workload): string[] {
  return w.pod.containers
    .filter((c: { image: string; command?: string[] }) => /\/prism-[a-z]+[:@]/.test(c.image) && c.command)
    .map((c: { name: string }) => `${id(w.object)}/${c.name}: command overrides the image's tini entrypoint`);
}

/** Every rule over every workload of a rendered environment. */
export function checkHardening(objects: readonly Rendered[]): string[] {
  const restricted = restrictedNamespaces(objects);
  return workloads(objects).flatMap((w) => [
    ...(restricted.has(w.namespace) ? restrictedProfile(w) : []),
    ...containerHygiene(w),
    ...serviceAccountTokens(w, objects),
    ...availability(w, objects),
    ...singleInstance(w, objects),
    ...initProcess(w),
    ...networkIsolation(w, objects),
  ]);
}
