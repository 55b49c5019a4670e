import { posix } from 'node:path';
import { bytes, cpuMillis } from '../config/index.js';
import { MTLS_FILES, type SecretKey } from '../contract/index.js';
import {
  type Component,
  type ConfigFile,
  type Image,
  type ImageBuild,
  type Platform,
  type Probe,
  type Task,
  type WritablePath,
  MTLS_CA_CERT,
  MTLS_CERT_DIR,
  imageRef,
  portNumber,
} from '../model/index.js';
import { composeArg, composeEnvironment, literal, secretInterpolation } from './env.js';
import { httpCheckCommand } from './images.js';
import { configHostDir, fromProjectDir } from './layout.js';
import { NETWORK_NAMES, canPublish, componentNetworks, networksOf } from './networks.js';
import type { ComposeBuild, ComposeHealthcheck, ComposePort, ComposeService, DependsCondition } from './types.js';

/** Published ports listen on the loopback interface only: a developer machine is not a server. */
const PUBLISH_HOST_IP = '127.0.0.1';

/** A Kubernetes memory quantity in Docker's units (binary: `m` is MiB), exact. */
export function dockerMemory(quantity: string): string {
  const b = bytes(quantity);
  if (b === undefined) throw new Error(`not a memory quantity: ${quantity}`);
  for (const [unit, factor] of [
    ['g', 1024 ** 3],
    ['m', 1024 ** 2],
    ['k', 1024],
  ] as const) {
    if (b % factor === 0) return `${b / factor}${unit}`;
  }
  return `${b}b`;
}

export function dockerCpus(quantity: string): number {
  const m = cpuMillis(quantity);
  if (m === undefined) throw new Error(`not a CPU quantity: ${quantity}`);
  return m / 1000;
}

const seconds = (n: number): string => `${n}s`;

/**
 * Compose has one health check: the readiness probe (it gates `service_healthy`). None for an image with no program
 * to run one. Its start period is the time Kubernetes gives the container to start: the liveness probe's initial
 * delay and the failures it tolerates. With the readiness probe's delay alone (5 s for the services), a start slowed
 * by a busy machine turned `unhealthy` after 20 s and `depends_on: service_healthy` gave up on it at once, while in
 * Kubernetes the pod would simply have become Ready later. A check that passes ends the start period at once.
 */
function healthcheck(platform: Platform, c: Component, probe: Probe, liveness?: Probe): ComposeHealthcheck | undefined {
  return probeHealthcheck(c.name, c.image, (port) => portNumber(platform, c.name, port), probe, liveness);
}

/** The health check of a container running `image`, whose port numbers `portOf` gives by name. */
export function probeHealthcheck(
  owner: string,
  image: Image,
  portOf: (portName: string) => number,
  probe: Probe,
  liveness?: Probe,
): ComposeHealthcheck | undefined {
  if (image.tools.httpCheck === 'scratch') return undefined;
  const a = probe.action;
  let test: string[];
  if ('exec' in a) test = ['CMD', ...a.exec.map(literal)];
  else if ('http' in a)
    test = httpCheckCommand(image, `http://127.0.0.1:${portOf(a.http.port)}${a.http.path}`).map(literal);
  else throw new Error(`${owner}: a TCP readiness probe has no Compose health check; give it an exec or http probe`);
  return {
    test,
    interval: seconds(probe.periodSeconds),
    timeout: seconds(probe.timeoutSeconds ?? 1),
    retries: probe.failureThreshold ?? 3,
    start_period: seconds(
      Math.max(
        probe.initialDelaySeconds,
        liveness ? liveness.initialDelaySeconds + liveness.periodSeconds * (liveness.failureThreshold ?? 3) : 0,
      ),
    ),
  };
}

/** Read-only bind mounts of config files, one per mount directory (as the ConfigMap volumes). */
function configMounts(owner: string, files: readonly ConfigFile[]): string[] {
  const dirs = [...new Set(files.map((f) => f.mountPath))].sort();
  return dirs.map((dir) => `${fromProjectDir(configHostDir(owner, files, dir))}:${dir}:ro`);
}

const volumeName = (owner: string): string => `${owner}-data`;

/**
 * Scratch directories the model puts on disk (the DB manager's restore space): a tmpfs would
 * count against `mem_limit`, so these are named volumes, as a disk-backed emptyDir is in
 * Kubernetes. The others are tmpfs.
 */
export const diskScratch = (c: Component, paths: readonly WritablePath[] = c.writablePaths): WritablePath[] =>
  paths.filter((w) => w.onDisk);
const scratchVolume = (owner: string, path: string): string =>
  `${owner}-scratch-${path.replace(/^\//, '').replace(/[^a-z0-9]+/g, '-')}`;
const scratchMounts = (c: Component, paths: readonly WritablePath[] = c.writablePaths): string[] =>
  diskScratch(c, paths).map((w) => `${scratchVolume(c.name, w.path)}:${w.path}`);
/** The volume holding a component's secret files (its JWT keys), filled by the volume-init one-shot. */
export const secretFilesVolume = (owner: string): string => `${owner}-secret-files`;

/** The named volumes a component writes to, which the volume-init hands to its user. */
export const ownedVolumes = (c: Component): string[] => [
  ...(c.persistence ? [volumeName(c.name)] : []),
  ...diskScratch(c).map((w) => scratchVolume(c.name, w.path)),
];

/** Hardening shared by every container (the restricted profile where Compose has it). */
function hardening(c: Component, user: number, writable: readonly WritablePath[] = c.writablePaths) {
  return {
    user: `${user}:${user}`,
    read_only: true,
    // tmpfs with the emptyDir's size limit; it is memory-backed, so it counts against mem_limit.
    tmpfs: writable.filter((w) => !w.onDisk).map((w) => `${w.path}:size=${dockerMemory(w.size)},mode=1777`),
    cap_drop: ['ALL'],
    security_opt: ['no-new-privileges:true'],
    mem_limit: dockerMemory(c.resources.limits.memory),
    mem_reservation: dockerMemory(c.resources.requests.memory),
    cpus: dockerCpus(c.resources.limits.cpu),
    stop_grace_period: seconds(c.terminationGracePeriodSeconds),
  };
}

const labels = (name: string, layer: string, kind: 'component' | 'task' | 'scheduler', of?: string) => ({
  'io.prism.component': name,
  'io.prism.layer': layer,
  'io.prism.kind': kind,
  ...(of ? { 'io.prism.task-of': of } : {}),
});

export type Dependencies = Readonly<Record<string, DependsCondition>>;

function dependsOn(deps: Dependencies) {
  const names = Object.keys(deps).sort();
  return names.length > 0 ? { depends_on: Object.fromEntries(names.map((n) => [n, { condition: deps[n]! }])) } : {};
}

/** The local CA's certificate alone (not its directory, which holds the CA key), mounted as `file`. */
const meshCaMount = (file: string): string => `${fromProjectDir(MTLS_CA_CERT)}:${file}:ro`;
/** The CA certificate's place in a certificate directory (`<dir>/ca.crt`). */
const caFileIn = (dir: string): string => posix.join(dir, MTLS_FILES.ca);

/** A long-running component as a compose service. */
export function componentService(platform: Platform, c: Component, deps: Dependencies): ComposeService {
  const tiers = componentNetworks(platform, c);
  const publish = canPublish(tiers);
  const published = c.ports.filter((p) => p.publish && publish);
  const ports: ComposePort[] = published.map((p) => ({
    target: p.port,
    published: p.port,
    host_ip: PUBLISH_HOST_IP,
    protocol: p.protocol === 'UDP' ? 'udp' : 'tcp',
  }));
  const expose = c.ports.filter((p) => !published.includes(p)).map((p) => String(p.port));
  const check = healthcheck(platform, c, c.readiness, c.liveness);
  const volumes = [
    ...configMounts(c.name, c.configFiles),
    ...(c.secretFiles ? [`${secretFilesVolume(c.name)}:${c.secretFiles.mountPath}:ro`] : []),
    // Bind-mounted, not copied: a renewed certificate (npm run local-certs -- --renew) reaches the running service.
    // A verify-only workload (a PostgreSQL exporter) gets the CA certificate alone.
    ...(c.identity && !c.identity.verifyOnly
      ? [`${fromProjectDir(posix.join(MTLS_CERT_DIR, c.name))}:${c.identity.mountPath}:ro`]
      : []),
    ...(c.identity?.verifyOnly ? [meshCaMount(caFileIn(c.identity.mountPath))] : []),
    // The CA certificate alone (not its directory, which holds the CA key).
    ...(c.meshCaFile ? [meshCaMount(c.meshCaFile)] : []),
    ...(c.persistence ? [`${volumeName(c.name)}:${c.persistence.mountPath}`] : []),
    ...scratchMounts(c),
  ];
  return {
    image: imageRef(c.image),
    ...(c.image.build ? { build: composeBuild(c.image.build) } : {}),
    container_name: c.name,
    ...(c.command ? { entrypoint: c.command.map((a) => composeArg(platform, a, c.env, c.name)) } : {}),
    ...(c.args ? { command: c.args.map((a) => composeArg(platform, a, c.env, c.name)) } : {}),
    ...(Object.keys(c.env).length > 0 ? { environment: composeEnvironment(platform, c.env, c.name) } : {}),
    ...(ports.length > 0 ? { ports } : {}),
    ...(expose.length > 0 ? { expose } : {}),
    networks: tiers.map((t) => NETWORK_NAMES[t]),
    ...dependsOn(deps),
    ...(check ? { healthcheck: check } : {}),
    ...(volumes.length > 0 ? { volumes } : {}),
    ...hardening(c, c.user),
    restart: 'unless-stopped',
    labels: labels(c.name, c.layer, 'component'),
  };
}

/** The model's image build; the context is relative to the repository root, Compose's to the project directory. */
function composeBuild(b: ImageBuild): ComposeBuild {
  return { context: fromProjectDir(b.context), dockerfile: b.dockerfile, args: { ...b.args }, target: b.target };
}

/** A one-shot task (no schedule) as a compose service that runs once and exits. */
export function taskService(platform: Platform, c: Component, t: Task, deps: Dependencies): ComposeService {
  const image = t.image ?? c.image;
  const env = t.env ?? c.env;
  const command = t.command ?? c.command;
  const writable = t.writablePaths ?? c.writablePaths;
  // A task of a workload with a certificate gets the CA alone, as its Kubernetes Job does (it verifies PostgreSQL).
  const volumes = [
    ...configMounts(t.name, t.configFiles ?? []),
    ...scratchMounts(c, writable),
    ...(c.identity && !c.identity.verifyOnly ? [meshCaMount(caFileIn(c.identity.mountPath))] : []),
  ];
  return {
    image: imageRef(image),
    // The owner's image may not be built yet when the task runs first.
    ...(image.build ? { build: composeBuild(image.build) } : {}),
    container_name: t.name,
    ...(command ? { entrypoint: command.map((a) => composeArg(platform, a, env, t.name)) } : {}),
    command: t.args.map((a) => composeArg(platform, a, env, t.name)),
    environment: composeEnvironment(platform, env, t.name),
    networks: networksOf(platform, undefined, t.flows).map((tier) => NETWORK_NAMES[tier]),
    ...dependsOn(deps),
    ...(volumes.length > 0 ? { volumes } : {}),
    ...hardening(c, c.user, writable),
    restart: 'no',
    labels: labels(t.name, c.layer, 'task', c.name),
  };
}

/**
 * The component's scheduled tasks (Kubernetes CronJobs) as one long-running service: its image with
 * the model's scheduler arguments, its environment, flows and scratch space.
 */
export function schedulerService(platform: Platform, c: Component, deps: Dependencies): ComposeService {
  const s = c.localScheduler!;
  // The scheduler is its own process: the component's liveness probe is not its own.
  const check = healthcheck(platform, c, s.readiness);
  const asTask: Task = { name: s.name, description: `the scheduled tasks of ${c.name}`, args: s.args, flows: c.flows };
  return {
    ...taskService(platform, c, asTask, deps),
    ...(check ? { healthcheck: check } : {}),
    restart: 'unless-stopped',
    labels: labels(s.name, c.layer, 'scheduler', c.name),
  };
}

/** Where each key file of the secret catalog is on the host (`keys/`), by secret key. */
export type KeyFileOf = (secret: SecretKey) => string | { readonly env: string };

/**
 * What Kubernetes does with `fsGroup` and a Secret volume's `defaultMode`, which Compose lacks:
 * - each named data volume's root is given to the component's user (most images own their data
 *   directory as another user; not recursive, later content is written by that user);
 * - each component's secret files are copied from `keys/` into its own volume, owned by its
 *   user, mode 0440 (a bind mount would keep the host owner and mode 0600, unreadable by the
 *   container's user on Linux; Compose ignores uid/gid/mode for file secrets).
 * It runs as root with only CAP_CHOWN (and CAP_DAC_READ_SEARCH to read the 0600 private key),
 * no network, read-only root, before the components start; every `up` runs it again, so
 * rotated keys reach the containers.
 */
export function volumeInitService(o: {
  readonly image: Image;
  readonly name: string;
  readonly layer: string;
  /** Components whose data volume and disk scratch volumes are handed to their user. */
  readonly dataOwners: readonly Component[];
  readonly secretOwners: readonly Component[];
  readonly keyFile: KeyFileOf;
}): ComposeService {
  const steps: string[] = [];
  const volumes: string[] = [];
  for (const c of o.dataOwners) {
    for (const v of ownedVolumes(c)) {
      volumes.push(`${v}:/init/${v}`);
      steps.push(`chown ${c.user}:${c.user} /init/${v}`);
    }
  }
  const keyDirs = new Set<string>();
  const environment: Record<string, string> = {};
  for (const c of o.secretOwners) {
    const dir = `/init/${secretFilesVolume(c.name)}`;
    volumes.push(`${secretFilesVolume(c.name)}:${dir}`);
    for (const item of c.secretFiles!.items) {
      const source = o.keyFile(item.secret);
      if (typeof source !== 'string') {
        // A credential from .env becomes a file only its owner reads; an empty one stops the set-up.
        const dst = `${dir}/${item.file}`;
        environment[source.env] = secretInterpolation(item.secret);
        steps.push(
          `{ test -n "$$${source.env}" || { echo '${source.env} is empty in .env; ${c.name} needs it' >&2; exit 1; }; }`,
          `rm -f ${dst}`,
          `printf '%s' "$$${source.env}" > ${dst}`,
          `chmod 0440 ${dst}`,
          `chown ${c.user}:${c.user} ${dst}`,
        );
        continue;
      }
      const hostPath = source;
      keyDirs.add(posix.dirname(hostPath));
      const src = `/init/${hostPath}`;
      const dst = `${dir}/${item.file}`;
      steps.push(
        `{ test -r ${src} || { echo '${hostPath} is missing: run make generate-keys' >&2; exit 1; }; }`,
        `rm -f ${dst}`,
        `cp ${src} ${dst}`,
        `chmod 0440 ${dst}`,
        `chown ${c.user}:${c.user} ${dst}`,
      );
    }
  }
  for (const d of [...keyDirs].sort()) volumes.push(`${fromProjectDir(d)}:/init/${d}:ro`);
  return {
    image: imageRef(o.image),
    container_name: o.name,
    entrypoint: ['/bin/sh', '-c'],
    command: [steps.join(' && ')],
    ...(Object.keys(environment).length > 0 ? { environment } : {}),
    network_mode: 'none',
    volumes,
    user: '0:0',
    read_only: true,
    cap_drop: ['ALL'],
    cap_add: o.secretOwners.length > 0 ? ['CHOWN', 'DAC_READ_SEARCH'] : ['CHOWN'],
    security_opt: ['no-new-privileges:true'],
    restart: 'no',
    labels: labels(o.name, o.layer, 'task'),
  };
}
