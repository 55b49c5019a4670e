import {
  DBMANAGER_CLI,
  type SecretKey,
  OFFSITE_SECRET_KEYS,
  SECRET_KEYS,
  isAlertingSecret,
  madeLocally,
  secretSpec,
} from '../contract/index.js';
import { stringify } from 'yaml';
import {
  type Component,
  type ConfigFile,
  type Flow,
  type Layer,
  type Platform,
  type Task,
  type Tier,
  KEY_FILES,
  TIERS,
  component,
} from '../model/index.js';
import { INTERPOLATION } from './env.js';
import {
  DOCKER_SOCKET,
  DOCKER_SOCKET_VARIABLE,
  logShipperConfig,
  logShipperConfigFile,
  logShipperService,
} from './log-shipping.js';
import {
  COMPOSE_FILES,
  ENV_EXAMPLE_FILE,
  PROJECT_NAME,
  SERVICES_MK_FILE,
  TRAEFIK_DIR,
  configHostDir,
  fromProjectDir,
} from './layout.js';
import { NETWORK_NAMES, networkDefinition } from './networks.js';
import {
  type Dependencies,
  componentService,
  diskScratch,
  ownedVolumes,
  schedulerService,
  secretFilesVolume,
  taskService,
  volumeInitService,
} from './service.js';
import {
  TRAEFIK_CONFIG_PATH,
  TRAEFIK_DYNAMIC_DIR,
  TRAEFIK_STATIC_FILES,
  TRAEFIK_STATIC_VARIABLE,
  traefikFiles,
} from './traefik.js';
import type { ComposeFile, ComposeService } from './types.js';

/**
 * The Compose renderer: the same platform model as Kubernetes, written as the guide's compose
 * files, their config files, `.env.example` and the service lists the Makefile uses. Pure:
 * `renderLocal` returns file contents by repository path; the CLI writes them.
 */

const HEADER = '# Rendered from the Prism platform model (npm run synth); do not edit by hand.\n';
const LAYERS: readonly Layer[] = ['data', 'core', 'observability', 'edge'];
/**
 * Files always loaded together with others, so their services can wait for those files' (depends_on with a
 * condition): docker-compose.yml with the infrastructure (the migrations wait for the databases, the services
 * for their stores), the Traefik overlay after docker-compose.yml. The Makefile loads them so.
 */
const LOADED_WITH: Readonly<Partial<Record<Layer, readonly Layer[]>>> = { core: ['data'], edge: ['core', 'data'] };

/** Compose files as YAML 1.1 readers need them: `no`, `on`, `yes` quoted so they stay strings. */
const composeYaml = (doc: ComposeFile): string =>
  stringify(doc, { version: '1.1', lineWidth: 0, aliasDuplicateObjects: false });

const oneShotTasks = (c: Component): Task[] => c.tasks.filter((t) => !t.schedule);
const volumeInitName = (layer: Layer): string => `${layer}-volume-init`;

/** Where a secret file's content comes from: a key file under `keys/` (the JWT pair), or its `.env` variable (notification credentials). */
function keyFile(key: SecretKey): string | { readonly env: string } {
  const source = secretSpec(key).source;
  if (source === 'jwt-private-key' || source === 'jwt-public-key') return KEY_FILES[source];
  return { env: secretSpec(key).dotenv };
}

const toMetricsPort = (platform: Platform, f: Flow): boolean => component(platform, f.to).metricsPort === f.port;
/**
 * A monitor (Prometheus scraping, Consul health-checking) reaches others only on their metrics
 * ports: it watches them and never waits for them (that would also make cycles, Grafana waits
 * for Prometheus which scrapes Grafana).
 */
const isMonitor = (platform: Platform, c: Component): boolean =>
  c.flows.length > 0 && c.flows.every((f) => toMetricsPort(platform, f));

function dependencies(
  platform: Platform,
  c: Component,
  inProject: ReadonlySet<string>,
  tasks: readonly Task[],
  volumeInit: string | undefined,
): Dependencies {
  const deps: Record<string, 'service_healthy' | 'service_completed_successfully'> = {};
  if (!isMonitor(platform, c))
    for (const f of c.flows) if (f.to !== c.name && inProject.has(f.to)) deps[f.to] = 'service_healthy';
  // A task that prepares a store (migrations, bucket) finishes before anything using that store starts.
  for (const t of tasks) {
    if (t.flows.some((tf) => c.flows.some((f) => f.to === tf.to && f.port === tf.port)))
      deps[t.name] = 'service_completed_successfully';
  }
  if ((ownedVolumes(c).length > 0 || c.secretFiles) && volumeInit) deps[volumeInit] = 'service_completed_successfully';
  return deps;
}

function composeFile(platform: Platform, layer: Layer): ComposeFile {
  const own = platform.components.filter((c) => c.layer === layer);
  const project = platform.components.filter((c) => c.layer === layer || LOADED_WITH[layer]?.includes(c.layer));
  const inProject = new Set(project.map((c) => c.name));
  // The tasks of every file loaded with this one: a store's set-up in the infrastructure file (Consul's tokens, the
  // backup bucket and its user) is waited for by the services of docker-compose.yml that use the store. Without
  // that, one `up` of all the files could start a service before its token or bucket exists, and `up --wait`
  // failed on the set-up task that nothing waited for ("container minio-setup exited (0)").
  const tasks = project.flatMap(oneShotTasks);
  const persistent = own.filter((c) => ownedVolumes(c).length > 0);
  const withSecretFiles = own.filter((c) => c.secretFiles);
  // Any image with a shell and chown will do; the file's own first, else one the set-up pulls anyway.
  const initImage = [...own, ...platform.components].find((c) => c.image.tools.shell)!.image;
  const volumeInit = persistent.length > 0 || withSecretFiles.length > 0 ? volumeInitName(layer) : undefined;

  const services: Record<string, ComposeService> = {};
  for (const c of own) {
    let svc = componentService(platform, c, dependencies(platform, c, inProject, tasks, volumeInit));
    if (layer === 'edge') svc = withTraefikConfig(svc);
    services[c.name] = svc;
    for (const t of oneShotTasks(c)) {
      const deps: Record<string, 'service_healthy' | 'service_completed_successfully'> = {};
      for (const f of t.flows) if (inProject.has(f.to)) deps[f.to] = 'service_healthy';
      // A task shares its owner's disk scratch, which the volume-init hands over first.
      if (volumeInit && diskScratch(c, t.writablePaths).length > 0) deps[volumeInit] = 'service_completed_successfully';
      services[t.name] = taskService(platform, c, t, deps);
    }
    if (c.localScheduler) {
      // Starts once its owner is up (the migrations have run, the stores are there).
      const deps: Record<string, 'service_healthy' | 'service_completed_successfully'> = {
        [c.name]: 'service_healthy',
      };
      if (volumeInit && diskScratch(c, c.writablePaths).length > 0) deps[volumeInit] = 'service_completed_successfully';
      services[c.localScheduler.name] = schedulerService(platform, c, deps);
    }
  }
  // Log shipping: Alloy reads the project's containers wherever Loki runs.
  const shipper = layer === 'observability' ? platform.logShipper : undefined;
  if (shipper) services[shipper.name] = logShipperService(shipper);
  if (volumeInit) {
    services[volumeInit] = volumeInitService({
      image: initImage,
      name: volumeInit,
      layer,
      dataOwners: persistent,
      secretOwners: withSecretFiles,
      keyFile,
    });
  }
  checkAcyclic(COMPOSE_FILES[layer], services);
  checkHealthGates(COMPOSE_FILES[layer], services);

  const used = new Set(Object.values(services).flatMap((s) => s.networks ?? []));
  const networks = Object.fromEntries(
    TIERS.filter((t: Tier) => used.has(NETWORK_NAMES[t])).map((t) => [NETWORK_NAMES[t], networkDefinition(t)]),
  );
  return {
    services,
    ...(Object.keys(networks).length > 0 ? { networks } : {}),
    ...(volumeInit || shipper
      ? {
          volumes: Object.fromEntries(
            [
              ...withSecretFiles.map((c) => secretFilesVolume(c.name)),
              ...persistent.flatMap(ownedVolumes),
              ...(shipper ? [`${shipper.name}-data`] : []),
            ].map((v) => [v, {}]),
          ),
        }
      : {}),
  };
}

/** Compose refuses a dependency cycle at start-up; refuse it at render time instead, naming the cycle. */
function checkAcyclic(file: string, services: Readonly<Record<string, ComposeService>>): void {
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string, path: string[]): void => {
    if (state.get(name) === 'done') return;
    if (state.get(name) === 'visiting') throw new Error(`${file}: depends_on cycle ${[...path, name].join(' -> ')}`);
    state.set(name, 'visiting');
    for (const dep of Object.keys(services[name]?.depends_on ?? {})) visit(dep, [...path, name]);
    state.set(name, 'done');
  };
  for (const name of Object.keys(services)) visit(name, []);
}

/** `service_healthy` on a container without a health check would never be satisfied. */
function checkHealthGates(file: string, services: Readonly<Record<string, ComposeService>>): void {
  for (const [name, svc] of Object.entries(services)) {
    for (const [dep, { condition }] of Object.entries(svc.depends_on ?? {})) {
      if (condition === 'service_healthy' && services[dep] && !services[dep].healthcheck)
        throw new Error(`${file}: ${name} waits for ${dep} to be healthy, but ${dep} has no health check`);
    }
  }
}

function withTraefikConfig(svc: ComposeService): ComposeService {
  const staticFile = `${fromProjectDir(TRAEFIK_DIR)}/\${${TRAEFIK_STATIC_VARIABLE}:-${TRAEFIK_STATIC_FILES.development}}`;
  return {
    ...svc,
    volumes: [
      ...(svc.volumes ?? []),
      `${staticFile}:${TRAEFIK_CONFIG_PATH}:ro`,
      `${fromProjectDir(`${TRAEFIK_DIR}/dynamic`)}:${TRAEFIK_DYNAMIC_DIR}:ro`,
    ],
  };
}

/** `.env.example`: the guide's table (every secret catalog variable Compose reads) and the other variables the files use. */
function envExample(): string {
  const lines = [
    HEADER.trimEnd(),
    '# `make dev-setup` copies this to .env (git-ignored, mode 0600) and fills in generated passwords.',
    '',
    '# Compose project: every make target and the guide commands use the same one.',
    `COMPOSE_PROJECT_NAME=${PROJECT_NAME}`,
    '# The compose files are one project split by concern: containers of the other files are not orphans.',
    'COMPOSE_IGNORE_ORPHANS=true',
    `# Traefik static configuration mounted by the overlay: ${TRAEFIK_STATIC_FILES.development} (self-signed) or ${TRAEFIK_STATIC_FILES.production} (Let's Encrypt).`,
    `${TRAEFIK_STATIC_VARIABLE}=${TRAEFIK_STATIC_FILES.development}`,
    '# The engine API socket the log shipper reads container logs from (rootless Docker: $XDG_RUNTIME_DIR/docker.sock;',
    '# Podman: its `podman system service` socket). Mounted read-only, which still grants the whole API: local only.',
    `${DOCKER_SOCKET_VARIABLE}=${DOCKER_SOCKET}`,
  ];
  for (const s of SECRET_KEYS) {
    if (!madeLocally(s) && s.source !== 'provided') continue;
    // The local set-up (the dev stack) has no off-site backup store.
    if (OFFSITE_SECRET_KEYS.includes(s.key)) continue;
    const note =
      s.source === 'password' || s.source === 'consul-token'
        ? 'generated by make dev-setup'
        : s.source === 'minio-metrics-token'
          ? 'derived by make dev-setup'
          : isAlertingSecret(s.key)
            ? 'optional: only read when a receiver of this kind is configured'
            : 'optional: leave empty to keep this sign-in off';
    lines.push('', `# ${s.description} (${note})`, `${s.dotenv}=`);
  }
  return `${lines.join('\n')}\n`;
}

/** Make variables: the long-running services, one-shot tasks and all services of each compose file. */
function servicesMk(platform: Platform): string {
  const vars = { data: 'INFRA', core: 'CORE', observability: 'OBSERVABILITY', edge: 'EDGE' } as const;
  const migrate = platform.components
    .flatMap(oneShotTasks)
    .filter((t) => t.args.join(' ') === DBMANAGER_CLI.migrate.join(' '));
  if (migrate.length !== 1) throw new Error(`expected one migration task in the model, found ${migrate.length}`);
  const lines = [
    HEADER.trimEnd(),
    `PRISM_COMPOSE_PROJECT := ${PROJECT_NAME}`,
    `PRISM_MIGRATE_TASK := ${migrate[0]!.name}`,
  ];
  for (const layer of LAYERS) {
    const own = platform.components.filter((c) => c.layer === layer);
    // Every service of the file (tasks, schedulers, volume-init too): what removing that file's containers names.
    lines.push(`PRISM_${vars[layer]}_ALL := ${Object.keys(composeFile(platform, layer).services).join(' ')}`.trimEnd());
    const shipper = layer === 'observability' && platform.logShipper ? [platform.logShipper.name] : [];
    lines.push(`PRISM_${vars[layer]}_SERVICES := ${[...own.map((c) => c.name), ...shipper].join(' ')}`.trimEnd());
    lines.push(
      `PRISM_${vars[layer]}_TASKS := ${own
        .flatMap(oneShotTasks)
        .map((t) => t.name)
        .join(' ')}`.trimEnd(),
    );
  }
  return `${lines.join('\n')}\n`;
}

/** Config files as Compose mounts them: the model's Compose variant where it has one (Prometheus' static targets). */
function configFileEntries(owner: string, files: readonly ConfigFile[]): [string, string][] {
  return files.map((f) => [`${configHostDir(owner, files, f.mountPath)}/${f.name}`, f.composeContent ?? f.content]);
}

/**
 * Every rendered file by repository path, in a stable order. `platform` is the local (dev)
 * model; `production` only gives Traefik's production static configuration its domain.
 */
export function renderLocal(platform: Platform, production: Platform = platform): Map<string, string> {
  const out = new Map<string, string>();
  for (const layer of LAYERS) out.set(COMPOSE_FILES[layer], HEADER + composeYaml(composeFile(platform, layer)));
  out.set(ENV_EXAMPLE_FILE, envExample());
  out.set(SERVICES_MK_FILE, servicesMk(platform));
  for (const c of platform.components) {
    for (const [path, content] of configFileEntries(c.name, c.configFiles)) out.set(path, content);
    for (const t of oneShotTasks(c))
      for (const [path, content] of configFileEntries(t.name, t.configFiles ?? [])) out.set(path, content);
  }
  for (const [path, content] of traefikFiles(platform, production)) out.set(path, content);
  if (platform.logShipper)
    out.set(logShipperConfigFile(platform.logShipper), logShipperConfig(platform, platform.logShipper));
  checkRendered(out);
  return new Map([...out].sort(([a], [b]) => a.localeCompare(b)));
}

/** The only interpolations are secrets' `.env` variables and the few `.env.example` names; any other is a renderer bug. */
function checkRendered(files: ReadonlyMap<string, string>): void {
  const example = new Set([...envExample().matchAll(/^([A-Z_][A-Z0-9_]*)=/gm)].map((m) => m[1]!));
  for (const layer of LAYERS) {
    const text = files.get(COMPOSE_FILES[layer])!.replaceAll('$$', '');
    for (const m of text.matchAll(INTERPOLATION)) {
      if (!example.has(m[1]!))
        throw new Error(`${COMPOSE_FILES[layer]} interpolates ${m[1]}, which .env.example does not define`);
    }
  }
}
