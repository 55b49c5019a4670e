import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadStack } from '../config/index.js';
import { writeFileAtomic } from '../local/files.js';
import { freePort } from '../local/free-port.js';
import { LOCAL_PKI_WORKLOADS, ensureLocalPki, type LocalPki } from '../local/mtls-pki.js';
import { buildPlatform } from '../model/index.js';
import { attachContext, baseEnv, LOCAL_STACK, type PlatformContext, type PlatformState } from './context.js';
import {
  runMinioSetup,
  startModelJaeger,
  startModelMinio,
  startModelNats,
  startModelPostgres,
  startModelRedis,
} from './data-stores.js';
import { endpointsOf, type Endpoints } from './endpoints.js';
import {
  allSettled,
  anyAlive,
  Launcher,
  LocalPlatformError,
  readState,
  stopAll,
  throwIfInterrupted,
  type PortMap,
} from './launcher.js';
import { layout } from './layout.js';
import { checkPrerequisites } from './prerequisites.js';
import { tcpOpen } from './probes.js';
import { isAlive, stopProcess, type RunningProcess, type StopResult } from './processes.js';
import { DATA_COMPONENTS, HOST, portKeys } from './render.js';
import { ensureSecrets } from './secrets.js';
import { runDbMigrate, serviceEnv, startEcho, startService, type ServiceName } from './services.js';
import { requestRestart, startSupervisor } from './supervisor.js';

/**
 * The whole platform as processes on 127.0.0.1 (npm run local:up): the data stores, then the DB
 * manager (it migrates), then config, auth and the example upstream, then the gateways; `down` stops
 * them in reverse. Component start-up is in data-stores.ts and services.ts, processes in launcher.ts.
 */

export interface UpOptions {
  /** The checkout (stacks/, services/, node_modules/). */
  readonly repoRoot: string;
  /** State directory; `.prism-local` of the checkout by default. */
  readonly dir?: string;
  /** @default 1 */
  readonly gateways?: number;
  /** Delete the data first. */
  readonly fresh?: boolean;
  /** Ports to use instead of free ones, by `component/port` key (see {@link portKeys}). */
  readonly ports?: Readonly<Record<string, number>>;
  /** Progress lines. @default nothing */
  readonly progress?: (line: string) => void;
  /** Extra variables per workload (a TLS step adds PRISM_TLS_* here; not given to processes the supervisor restarts). */
  readonly extraEnv?: (workload: string) => Readonly<Record<string, string>>;
  /** Interrupts the start-up (Ctrl-C): what was started is stopped, the state removed. */
  readonly signal?: AbortSignal;
}

export { LocalPlatformError, layout, type Endpoints };

async function allocatePorts(keys: readonly string[], given: Readonly<Record<string, number>>): Promise<PortMap> {
  for (const k of Object.keys(given))
    if (!keys.includes(k)) throw new LocalPlatformError(`--port ${k}: no such port; choose from ${keys.join(', ')}`);
  const out: Record<string, number> = {};
  const chosen = new Set(Object.values(given));
  for (const k of keys) {
    let p = given[k];
    if (p !== undefined) {
      if (await tcpOpen(p)) throw new LocalPlatformError(`--port ${k}=${p}: port ${p} is already in use on ${HOST}`);
    } else {
      do p = await freePort();
      while (chosen.has(p));
    }
    out[k] = p;
  }
  return out;
}

/** Same start wave → stop together: the gateways, then the services, then the data stores. */
const stopWave = (p: RunningProcess) =>
  p.name.startsWith('gateway') ? 0 : (DATA_COMPONENTS as readonly string[]).includes(p.name) ? 2 : 1;

function loadPlatform(o: UpOptions) {
  const stack = loadStack(join(o.repoRoot, 'stacks'), LOCAL_STACK);
  return buildPlatform(stack.name, stack.config);
}

function step<T>(say: (s: string) => void, what: string, fn: () => Promise<T> | T, signal?: AbortSignal): Promise<T> {
  throwIfInterrupted(signal);
  const t0 = Date.now();
  say(`  ${what} ...`);
  return Promise.resolve(fn()).then((v) => {
    say(`  ${what}: done (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    return v;
  });
}

export async function up(o: UpOptions): Promise<Endpoints> {
  const l = layout(resolve(o.dir ?? join(o.repoRoot, '.prism-local')));
  const platform = loadPlatform(o);
  const say = o.progress ?? (() => {});
  const previous = readState<PlatformState>(l.state);
  if (anyAlive(previous))
    throw new LocalPlatformError(
      `already running from ${l.root}; see npm run local:status, or stop it with npm run local:down`,
    );
  // A supervisor left from a run whose processes all died would act on this run's state.
  if (previous?.supervisor) await stopProcess(previous.supervisor);
  rmSync(l.endpoints, { force: true });
  const gateways = o.gateways ?? 1;
  if (!Number.isInteger(gateways) || gateways < 1 || gateways > 16)
    throw new LocalPlatformError(`--gateways must be a whole number from 1 to 16, got ${gateways}`);

  const { signal } = o;
  const prereq = await step(say, 'prerequisites', () => checkPrerequisites(), signal);
  if (o.fresh) rmSync(l.root, { recursive: true, force: true });
  mkdirSync(l.root, { recursive: true, mode: 0o700 });
  // PostgreSQL (its own user when we are root) must reach its data directory below this one.
  chmodSync(l.root, 0o711);
  for (const d of ['run', 'config', 'logs']) rmSync(join(l.root, d), { recursive: true, force: true });
  for (const d of ['run', 'config', 'logs', 'data']) mkdirSync(join(l.root, d), { recursive: true, mode: 0o711 });

  const secrets = await step(say, 'secrets and keys', () => ensureSecrets(l));
  const ports = await allocatePorts(portKeys(platform, gateways), o.ports ?? {});
  const launcher = new Launcher<PlatformState>(l.state, { dir: l.root, gateways, ports, processes: [] }, signal);
  const render = { platform, ports, layout: l, secrets, gateways, ...(o.extraEnv ? { extraEnv: o.extraEnv } : {}) };
  const pc: PlatformContext = { repoRoot: o.repoRoot, platform, layout: l, render, prereq, nodeEnv: baseEnv() };
  let pki: LocalPki;
  try {
    // The model mounts each service's certificate at /etc/prism/mtls; locally a CA of our own issues
    // them (valid for 127.0.0.1 and localhost) and componentEnv points the model's paths at them.
    pki = await step(
      say,
      "certificates (local CA, one per service, NATS and PostgreSQL server, the operator's)",
      () => ensureLocalPki({ dir: l.mtlsDir, workloads: LOCAL_PKI_WORKLOADS }),
      signal,
    );
    if (pki.issued.length > 0) say(`  issued: ${pki.issued.join(', ')}`);

    await step(
      say,
      'data stores (PostgreSQL auth and ops, Redis, NATS JetStream, MinIO) and Jaeger',
      () =>
        allSettled([
          startModelPostgres(pc, launcher, 'auth'),
          startModelPostgres(pc, launcher, 'ops'),
          startModelRedis(pc, launcher),
          startModelNats(pc, launcher),
          startModelMinio(pc, launcher),
          startModelJaeger(pc, launcher),
        ]),
      signal,
    );
    await step(say, `MinIO set-up (bucket, least-privilege backup user)`, () => runMinioSetup(pc, signal), signal);
    // The model's db-migrate task (roles, migrations, rights), then the DB manager, which does not migrate.
    await step(say, 'migrations and PostgreSQL roles (db-migrate)', () => runDbMigrate(pc, signal), signal);
    await step(say, 'the DB manager', () => startService(pc, launcher, 'dbmanager'), signal);
    await step(
      say,
      'config, auth, echo upstream',
      () =>
        allSettled([startService(pc, launcher, 'config'), startService(pc, launcher, 'auth'), startEcho(pc, launcher)]),
      signal,
    );
    await step(
      say,
      gateways === 1 ? 'gateway' : `${gateways} gateways`,
      () =>
        allSettled(
          Array.from({ length: gateways }, (_, i) => startService(pc, launcher, 'gateway', `gateway-${i + 1}`)),
        ),
      signal,
    );
    throwIfInterrupted(signal);
    await startSupervisor(o.repoRoot, l, launcher.state);
    launcher.save();
  } catch (e) {
    say(signal?.aborted ? '  interrupted; stopping what was started' : '  start-up failed; stopping what was started');
    const stopped = await stopAll(launcher.state.processes, stopWave);
    if (launcher.state.supervisor) stopped.push(await stopProcess(launcher.state.supervisor));
    for (const r of stopped)
      if (r.outcome !== 'not running') say(`  ${r.name}: ${r.outcome} (${(r.ms / 1000).toFixed(1)} s)`);
    rmSync(l.state, { force: true });
    throw e;
  }
  const endpoints = endpointsOf(pc, pki);
  writeFileAtomic(l.endpoints, `${JSON.stringify(endpoints, null, 2)}\n`, 0o644);
  return endpoints;
}

/** The environment a Prism service of a running platform has (for its CLI, e.g. the DB manager's backups). */
export function serviceEnvironment(o: UpOptions, name: ServiceName): Record<string, string> {
  const l = layout(resolve(o.dir ?? join(o.repoRoot, '.prism-local')));
  const state = readState<PlatformState>(l.state);
  if (!state) throw new LocalPlatformError(`no local platform in ${l.root}; start it with npm run local:up`);
  return serviceEnv(attachContext(o.repoRoot, l, state), name);
}

export async function down(dir: string): Promise<StopResult[]> {
  const l = layout(resolve(dir));
  // The supervisor first, so it restarts nothing that is being stopped; then the processes as it left them.
  const supervisor = readState<PlatformState>(l.state)?.supervisor;
  const stopped = supervisor ? await stopProcess(supervisor) : undefined;
  const state = readState<PlatformState>(l.state);
  if (!state) return [];
  const results = await stopAll(state.processes, stopWave);
  rmSync(l.state, { force: true });
  rmSync(l.endpoints, { force: true });
  return stopped ? [...results, stopped] : results;
}

export interface StatusLine {
  readonly name: string;
  readonly pid: number;
  readonly running: boolean;
  readonly restarts: number;
  readonly log: string;
}

export function status(dir: string): { lines: StatusLine[]; endpoints?: Endpoints } {
  const l = layout(resolve(dir));
  const state = readState<PlatformState>(l.state);
  if (!state) return { lines: [] };
  const line = (p: RunningProcess) => ({
    name: p.name,
    pid: p.pid,
    running: isAlive(p),
    restarts: state.restarts?.[p.name] ?? 0,
    log: p.logFile,
  });
  const lines = [...state.processes.map(line), ...(state.supervisor ? [line(state.supervisor)] : [])];
  const endpoints = existsSync(l.endpoints) ? (JSON.parse(readFileSync(l.endpoints, 'utf8')) as Endpoints) : undefined;
  return { lines, ...(endpoints ? { endpoints } : {}) };
}

/** Restarts one process through the platform's supervisor; resolves with the time it took. */
export function restart(dir: string, name: string): Promise<number> {
  return requestRestart(layout(resolve(dir)), name);
}
