import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect, createServer } from 'node:net';
import { delimiter, join, resolve } from 'node:path';
import pg from 'pg';
import { loadStack } from '../config/index.js';
import { DATABASES, gatewayConfigSchema, SERVICE_NAMES, type DatabaseId } from '../contract/index.js';
import { parse as parseYaml } from 'yaml';
import { buildPlatform, component, type Component, type Platform } from '../model/index.js';
import { writeFileAtomic } from '../local/files.js';
import { ensureLocalPki, type LocalPki } from '../local/mtls-pki.js';
import { layout, type Layout } from './layout.js';
import { checkPrerequisites, type Prerequisites } from './prerequisites.js';
import { isAlive, startProcess, stopProcess, type ProcessSpec, type RunningProcess, type StopResult } from './processes.js';
import { componentEnv, DATA_COMPONENTS, ECHO, ECHO_ROUTES, HOST, localGatewayYaml, localJaegerYaml, localMinioSetup, localPort, portKeys, type PortMap, type RenderContext } from './render.js';
import { ensureSecrets } from './secrets.js';

/** The local platform runs the dev stack, as Compose does. */
const LOCAL_STACK = 'dev';

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
  /** Extra variables per workload (a TLS step adds PRISM_TLS_* here). */
  readonly extraEnv?: (workload: string) => Readonly<Record<string, string>>;
}

export interface Endpoints {
  readonly environment: string;
  readonly gateways: readonly string[];
  readonly auth: string;
  readonly auth_grpc: string;
  readonly config_grpc: string;
  readonly dbmanager_grpc: string;
  readonly metrics: Readonly<Record<string, string>>;
  readonly echo: string;
  readonly routes: { readonly echo: string; readonly echo_public: string };
  readonly jwt_private_key_file: string;
  readonly jwt_public_key_file: string;
  /** The operator's certificate for the services' gRPC APIs (npm run config, grpcurl), and the CA that issued every certificate. */
  readonly operator_mtls: { readonly identity: string; readonly cert_file: string; readonly key_file: string; readonly ca_file: string };
  readonly rate_limit: { readonly enabled: boolean; readonly requests_per_second: number; readonly burst: number; readonly on_redis_failure: 'open' | 'closed' };
  /** Data stores (addresses only; passwords are in secrets.json). */
  readonly postgres: Readonly<Record<DatabaseId, string>>;
  readonly redis: string;
  readonly nats: string;
  readonly s3: string;
  /** The trace backend's HTTP query API (Jaeger): `${tracing_query}/traces?service=gateway`, `${tracing_query}/traces/<trace id>`. */
  readonly tracing_query: string;
  readonly logs: string;
}

interface State {
  readonly dir: string;
  readonly gateways: number;
  readonly ports: PortMap;
  readonly processes: RunningProcess[];
}

export class LocalPlatformError extends Error {
  override readonly name = 'LocalPlatformError';
}

const asRoot = process.getuid?.() === 0;

function postgresUser(): { uid: number; gid: number } | undefined {
  if (!asRoot) return undefined;
  try {
    return { uid: Number(execFileSync('id', ['-u', 'postgres']).toString().trim()), gid: Number(execFileSync('id', ['-g', 'postgres']).toString().trim()) };
  } catch {
    throw new LocalPlatformError('running as root, PostgreSQL needs a `postgres` user to run as (sudo apt-get install postgresql creates it)');
  }
}

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, HOST, () => {
      const { port } = s.address() as { port: number };
      s.close(() => res(port));
    });
  });
}

function portInUse(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = connect(port, HOST);
    s.once('connect', () => (s.destroy(), res(true)));
    s.once('error', () => res(false));
  });
}

async function allocatePorts(keys: readonly string[], given: Readonly<Record<string, number>>): Promise<PortMap> {
  for (const k of Object.keys(given)) if (!keys.includes(k)) throw new LocalPlatformError(`--port ${k}: no such port; choose from ${keys.join(', ')}`);
  const out: Record<string, number> = {};
  const used = new Set<number>();
  for (const k of keys) {
    let p = given[k];
    if (p !== undefined) {
      if (await portInUse(p)) throw new LocalPlatformError(`--port ${k}=${p}: port ${p} is already in use on ${HOST}`);
    } else {
      do p = await freePort();
      while (used.has(p));
    }
    used.add(p);
    out[k] = p;
  }
  return out;
}

function readState(l: Layout): State | undefined {
  return existsSync(l.state) ? (JSON.parse(readFileSync(l.state, 'utf8')) as State) : undefined;
}

function writeState(l: Layout, s: State): void {
  writeFileAtomic(l.state, `${JSON.stringify(s, null, 2)}\n`, 0o600);
}

function logTail(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

function httpOk(url: string): Promise<boolean> {
  return new Promise((res) => {
    const req = request(url, { timeout: 2_000 }, (r) => {
      r.resume();
      res((r.statusCode ?? 500) < 300);
    });
    req.on('error', () => res(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

function redisPing(port: number, password: string): Promise<boolean> {
  return new Promise((res) => {
    const s = connect(port, HOST);
    let buf = '';
    s.setTimeout(2_000, () => {
      s.destroy();
      res(false);
    });
    s.on('connect', () => s.write(`*2\r\n$4\r\nAUTH\r\n$${Buffer.byteLength(password)}\r\n${password}\r\n*1\r\n$4\r\nPING\r\n`));
    s.on('data', (d) => {
      buf += d.toString();
      if (!buf.includes('+PONG') && !buf.startsWith('-')) return;
      s.destroy();
      res(buf.includes('+PONG'));
    });
    s.on('error', () => res(false));
  });
}

/** Runs a one-shot command to completion (a task); its output is appended to its log file. */
function runTask(name: string, command: string, args: readonly string[], o: { env: Record<string, string>; cwd: string; log: string; user?: { uid: number; gid: number } | undefined }): Promise<void> {
  return new Promise((res, rej) => {
    const out: Buffer[] = [];
    const child = spawn(command, args, { cwd: o.cwd, env: o.env, stdio: ['ignore', 'pipe', 'pipe'], ...(o.user ? { uid: o.user.uid, gid: o.user.gid } : {}) });
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => out.push(d));
    child.once('error', (e) => rej(new LocalPlatformError(`${name}: cannot run ${command}: ${e.message}`)));
    child.once('close', (code) => {
      writeFileSync(o.log, Buffer.concat(out), { flag: 'a', mode: 0o600 });
      if (code === 0) res();
      else rej(new LocalPlatformError(`${name} failed (exit ${code}):\n${Buffer.concat(out).toString().trimEnd().split('\n').slice(-15).join('\n')}`));
    });
  });
}

/** What the model says the image runs, from source: `node build/services/x/src/y.js` becomes `services/x/src/y.ts` run with tsx. */
function serviceEntry(c: Component): string[] {
  const entry = c.command ?? c.image.entrypoint;
  if (!entry) throw new LocalPlatformError(`${c.name}: the model gives neither a command nor the image's entrypoint`);
  const file = entry.find((a) => a.startsWith('build/'));
  if (!file) throw new LocalPlatformError(`${c.name}: cannot find the entry file in ${entry.join(' ')}`);
  return [file.replace(/^build\//, '').replace(/\.js$/, '.ts'), ...(c.args ?? [])];
}

class Runner {
  readonly l: Layout;
  readonly platform: Platform;
  private state!: State;
  private ctx!: RenderContext;
  private prereq!: Prerequisites;
  private pki!: LocalPki;
  private readonly say: (s: string) => void;
  private readonly nodeEnv: Record<string, string>;

  constructor(private readonly o: UpOptions) {
    this.l = layout(resolve(o.dir ?? join(o.repoRoot, '.prism-local')));
    const stack = loadStack(join(o.repoRoot, 'stacks'), LOCAL_STACK);
    this.platform = buildPlatform(stack.name, stack.config);
    this.say = o.progress ?? (() => {});
    // Services get only what a container would: no inherited secrets or PRISM_* from the caller's shell.
    this.nodeEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', LANG: 'C.UTF-8' };
  }

  /** Works on an already running platform (its recorded ports). */
  attach(): void {
    const state = readState(this.l);
    if (!state) throw new LocalPlatformError(`no local platform in ${this.l.root}; start it with npm run local:up`);
    this.state = state;
    this.ctx = { platform: this.platform, ports: state.ports, layout: this.l, secrets: ensureSecrets(this.l), gateways: state.gateways, ...(this.o.extraEnv ? { extraEnv: this.o.extraEnv } : {}) };
    this.prereq = checkPrerequisites();
  }

  private step<T>(what: string, fn: () => Promise<T> | T): Promise<T> {
    const t0 = Date.now();
    this.say(`  ${what} ...`);
    return Promise.resolve(fn()).then((v) => {
      this.say(`  ${what}: done (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
      return v;
    });
  }

  private async start(spec: ProcessSpec): Promise<RunningProcess> {
    const p = await startProcess(spec);
    this.state.processes.push(p);
    writeState(this.l, this.state);
    return p;
  }

  private async waitReady(p: RunningProcess, check: () => Promise<boolean>, timeoutMs = 120_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      if (!isAlive(p)) throw new LocalPlatformError(`${p.name} exited during start-up; the end of ${p.logFile}:\n${logTail(p.logFile)}`);
      if (await check()) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new LocalPlatformError(`${p.name} not ready after ${timeoutMs / 1000} s; the end of ${p.logFile}:\n${logTail(p.logFile)}`);
  }

  /** The model's readiness probe when it is an HTTP one (Prism services, NATS, MinIO). */
  private httpProbe(c: Component, instance: string): () => Promise<boolean> {
    const a = c.readiness.action;
    if (!('http' in a)) throw new LocalPlatformError(`${c.name}: readiness probe is not HTTP`);
    return () => httpOk(`http://${HOST}:${localPort(this.ctx, `${instance}/${a.http.port}`)}${a.http.path}`);
  }

  async up(): Promise<Endpoints> {
    const { l, o } = this;
    const existing = readState(l);
    if (existing?.processes.some(isAlive)) throw new LocalPlatformError(`already running from ${l.root}; see npm run local:status, or stop it with npm run local:down`);
    const gateways = o.gateways ?? 1;
    if (!Number.isInteger(gateways) || gateways < 1 || gateways > 16) throw new LocalPlatformError(`--gateways must be a whole number from 1 to 16, got ${gateways}`);

    this.prereq = await this.step('prerequisites', () => checkPrerequisites());
    if (o.fresh) rmSync(l.root, { recursive: true, force: true });
    mkdirSync(l.root, { recursive: true, mode: 0o700 });
    // PostgreSQL (its own user when we are root) must reach its data directory below this one.
    chmodSync(l.root, 0o711);
    for (const d of ['run', 'config', 'logs']) rmSync(join(l.root, d), { recursive: true, force: true });
    for (const d of ['run', 'config', 'logs', 'data']) mkdirSync(join(l.root, d), { recursive: true, mode: 0o711 });

    const secrets = await this.step('secrets and keys', () => ensureSecrets(l));
    const ports = await allocatePorts(portKeys(this.platform, gateways), o.ports ?? {});
    this.state = { dir: l.root, gateways, ports, processes: [] };
    writeState(l, this.state);
    this.ctx = { platform: this.platform, ports, layout: l, secrets, gateways, ...(o.extraEnv ? { extraEnv: o.extraEnv } : {}) };
    // The model mounts each service's certificate at /etc/prism/mtls; locally a CA of our own issues
    // them (valid for 127.0.0.1 and localhost) and componentEnv points the model's paths at them.
    this.pki = await this.step("certificates (local CA, one per service, the operator's)", () => ensureLocalPki({ dir: l.mtlsDir, workloads: SERVICE_NAMES }));
    if (this.pki.issued.length > 0) this.say(`  issued: ${this.pki.issued.join(', ')}`);

    try {
      await this.step('data stores (PostgreSQL auth and ops, Redis, NATS JetStream, MinIO) and Jaeger', () =>
        allSettled([this.postgres('auth'), this.postgres('ops'), this.redis(), this.nats(), this.minio(), this.jaeger()]),
      );
      await this.step(`MinIO set-up (bucket, least-privilege backup user)`, () => this.minioSetup());
      // The DB manager applies the migrations at start-up (the model's default) and is ready only after
      // them; one process less than a separate migrate task, which costs the same module loading again.
      await this.step('migrations, then the DB manager', () => this.service('dbmanager'));
      await this.step('config, auth, echo upstream', () => allSettled([this.service('config'), this.service('auth'), this.echo()]));
      await this.step(gateways === 1 ? 'gateway' : `${gateways} gateways`, () => allSettled(Array.from({ length: gateways }, (_, i) => this.service('gateway', `gateway-${i + 1}`))));
    } catch (e) {
      this.say('  start-up failed; stopping what was started');
      await stopAll(this.state.processes);
      rmSync(l.state, { force: true });
      throw e;
    }
    const endpoints = this.endpoints();
    writeFileAtomic(l.endpoints, `${JSON.stringify(endpoints, null, 2)}\n`, 0o644);
    return endpoints;
  }

  private async postgres(db: DatabaseId): Promise<void> {
    const c = component(this.platform, DATABASES[db].component);
    const env = componentEnv(this.ctx, c);
    const user = postgresUser();
    const data = this.l.data(c.name);
    const sock = this.l.run(c.name);
    mkdirSync(sock, { recursive: true, mode: 0o700 });
    for (const f of c.configFiles) {
      mkdirSync(this.l.config(c.name), { recursive: true });
      writeFileSync(join(this.l.config(c.name), f.name), f.content, { mode: 0o644 });
    }
    const fresh = !existsSync(join(data, 'PG_VERSION'));
    if (fresh) {
      rmSync(data, { recursive: true, force: true });
      mkdirSync(data, { recursive: true, mode: 0o700 });
      const pw = join(sock, 'pwfile');
      writeFileSync(pw, `${env.POSTGRES_PASSWORD}\n`, { mode: 0o600 });
      if (user) for (const p of [data, sock, pw]) chownSync(p, user.uid, user.gid);
      await runTask(`initdb ${c.name}`, join(this.prereq.pgBin, 'initdb'), ['-D', data, '-U', env.POSTGRES_USER!, `--pwfile=${pw}`, '-A', 'scram-sha-256', '--no-instructions'], {
        env: this.nodeEnv,
        cwd: '/',
        log: this.l.log(c.name),
        user,
      });
      rmSync(pw);
    } else if (user) {
      chownSync(sock, user.uid, user.gid);
    }
    // The model's arguments, with the port and the hba file's path made local.
    const modelPort = c.ports[0]!.port;
    const localP = localPort(this.ctx, `${c.name}/postgres`);
    const args = (c.args ?? []).map((a) => (a === `port=${modelPort}` ? `port=${localP}` : a.replace(/^hba_file=.*\/([^/]+)$/, `hba_file=${this.l.config(c.name)}/$1`)));
    const p = await this.start({
      name: c.name,
      command: join(this.prereq.pgBin, 'postgres'),
      args: ['-D', data, ...args, '-c', `listen_addresses=${HOST}`, '-c', `unix_socket_directories=${sock}`],
      env: { ...this.nodeEnv, PGDATA: data },
      cwd: data,
      logFile: this.l.log(c.name),
      stopSignal: 'SIGINT',
      stopTimeoutMs: c.terminationGracePeriodSeconds * 1000,
      ...(user ? { user } : {}),
    });
    const conn = { host: HOST, port: localP, user: env.POSTGRES_USER!, password: env.POSTGRES_PASSWORD!, database: 'postgres' };
    await this.waitReady(p, async () => {
      const client = new pg.Client({ ...conn, connectionTimeoutMillis: 2_000 });
      try {
        await client.connect();
        const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [env.POSTGRES_DB]);
        if (!rowCount) await client.query(`CREATE DATABASE "${env.POSTGRES_DB!.replace(/"/g, '')}"`);
        return true;
      } catch {
        return false;
      } finally {
        await client.end().catch(() => {});
      }
    });
  }

  /** A config file of the model with the component's data directory (its volume's mount path) made local. */
  private localPaths(c: Component, content: string): string {
    const mount = c.persistence?.mountPath;
    if (!mount) return content;
    const escaped = mount.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    return content.replace(new RegExp(`(?<=[\\s"'])${escaped}(?=[/"'\\s]|$)`, 'gm'), this.l.data(c.name));
  }

  private async redis(): Promise<void> {
    const c = component(this.platform, 'redis');
    const env = componentEnv(this.ctx, c);
    const conf = c.configFiles[0]!;
    mkdirSync(this.l.config('redis'), { recursive: true });
    mkdirSync(this.l.run('redis'), { recursive: true, mode: 0o700 });
    mkdirSync(this.l.data('redis'), { recursive: true, mode: 0o700 });
    const confPath = join(this.l.config('redis'), conf.name);
    writeFileSync(confPath, this.localPaths(c, conf.content));
    // The model passes the password as --requirepass $(REDIS_PASSWORD); locally it goes in a private
    // file instead, so it never shows in the process list. Later lines win over the included file.
    const privateConf = join(this.l.run('redis'), 'redis.local.conf');
    const port = localPort(this.ctx, 'redis/redis');
    writeFileSync(privateConf, [`include ${confPath}`, `port ${port}`, `bind ${HOST}`, `requirepass ${env.REDIS_PASSWORD}`, ''].join('\n'), { mode: 0o600 });
    const p = await this.start({
      name: 'redis',
      command: this.prereq.redisServer,
      args: [privateConf],
      env: this.nodeEnv,
      cwd: this.l.data('redis'),
      logFile: this.l.log('redis'),
      stopTimeoutMs: c.terminationGracePeriodSeconds * 1000,
    });
    await this.waitReady(p, () => redisPing(port, env.REDIS_PASSWORD!));
  }

  private async nats(): Promise<void> {
    const c = component(this.platform, 'nats');
    const conf = c.configFiles[0]!;
    mkdirSync(this.l.config('nats'), { recursive: true });
    mkdirSync(this.l.data('nats'), { recursive: true, mode: 0o700 });
    const confPath = join(this.l.config('nats'), conf.name);
    writeFileSync(confPath, this.localPaths(c, conf.content));
    // Command-line options win over the model's file: local address and ports.
    const p = await this.start({
      name: 'nats',
      command: this.prereq.natsServer,
      args: ['--config', confPath, '-a', HOST, '-p', String(localPort(this.ctx, 'nats/client')), '-m', String(localPort(this.ctx, 'nats/monitor'))],
      env: { ...this.nodeEnv, ...componentEnv(this.ctx, c) },
      cwd: this.l.data('nats'),
      logFile: this.l.log('nats'),
      stopTimeoutMs: c.terminationGracePeriodSeconds * 1000,
    });
    await this.waitReady(p, this.httpProbe(c, 'nats'));
  }

  private async minio(): Promise<void> {
    const c = component(this.platform, 'minio');
    mkdirSync(this.l.data('minio'), { recursive: true, mode: 0o700 });
    mkdirSync(join(this.l.run('minio'), 'certs'), { recursive: true, mode: 0o700 });
    const api = `${HOST}:${localPort(this.ctx, 'minio/api')}`;
    const consolePort = `${HOST}:${localPort(this.ctx, 'minio/console')}`;
    const args = ['server', this.l.data('minio'), '--address', api, '--console-address', consolePort, '--certs-dir', join(this.l.run('minio'), 'certs')];
    const p = await this.start({
      name: 'minio',
      command: this.prereq.minio,
      args,
      env: { ...this.nodeEnv, ...componentEnv(this.ctx, c) },
      cwd: this.l.data('minio'),
      logFile: this.l.log('minio'),
      stopTimeoutMs: c.terminationGracePeriodSeconds * 1000,
    });
    await this.waitReady(p, this.httpProbe(c, 'minio'));
  }

  /** Jaeger v2 with traces in memory: the services export to it (the model's PRISM_OTLP_ENDPOINT, made local). */
  private async jaeger(): Promise<void> {
    const c = component(this.platform, 'jaeger');
    const dir = this.l.config('jaeger');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'config.yaml'), localJaegerYaml(this.ctx));
    mkdirSync(this.l.data('jaeger'), { recursive: true, mode: 0o700 });
    const p = await this.start({
      name: 'jaeger',
      command: this.prereq.jaeger,
      args: ['--config', join(dir, 'config.yaml')],
      env: this.nodeEnv,
      cwd: this.l.data('jaeger'),
      logFile: this.l.log('jaeger'),
      stopTimeoutMs: c.terminationGracePeriodSeconds * 1000,
    });
    await this.waitReady(p, this.httpProbe(c, 'jaeger'));
  }

  private async minioSetup(): Promise<void> {
    const { script, policy, env } = localMinioSetup(this.ctx);
    const dir = this.l.config('minio');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'setup.sh'), script, { mode: 0o755 });
    writeFileSync(join(dir, 'backup-policy.json'), policy);
    const mcDir = join(this.l.run('minio'), 'mc');
    mkdirSync(mcDir, { recursive: true, mode: 0o700 });
    const path = `${join(this.prereq.mc, '..')}${delimiter}${this.nodeEnv.PATH}`;
    await runTask('minio-setup', 'sh', [join(dir, 'setup.sh')], { env: { ...this.nodeEnv, PATH: path, ...env, MC_CONFIG_DIR: mcDir }, cwd: dir, log: this.l.log('minio-setup') });
  }

  /** The environment of a Prism service instance: the model's, with local ports and files. */
  serviceEnv(name: 'gateway' | 'auth' | 'config' | 'dbmanager', instance: string = name): Record<string, string> {
    const c = component(this.platform, name);
    const env: Record<string, string> = { ...this.nodeEnv, ...componentEnv(this.ctx, c) };
    for (const p of c.ports) {
      const v = p.name === 'http' ? 'PRISM_HTTP_PORT' : p.name === 'grpc' ? 'PRISM_GRPC_PORT' : p.name === 'metrics' ? 'PRISM_METRICS_PORT' : undefined;
      if (v) env[v] = String(localPort(this.ctx, `${instance}/${p.name}`));
    }
    if (name === 'auth') env.PRISM_PUBLIC_BASE_URL = `${this.httpScheme('gateway')}://${HOST}:${localPort(this.ctx, 'gateway-1/http')}`;
    // The model writes the databases' host and port as plain values (the component name and its port).
    for (const db of ['auth', 'ops'] as const) {
      const P = db.toUpperCase();
      if (env[`PRISM_${P}_DB_HOST`] === undefined) continue;
      env[`PRISM_${P}_DB_HOST`] = HOST;
      env[`PRISM_${P}_DB_PORT`] = String(localPort(this.ctx, `${DATABASES[db].component}/postgres`));
    }
    if (name === 'dbmanager') {
      // The backup tools of the same PostgreSQL the platform runs, and scratch space of its own.
      env.PATH = `${this.prereq.pgBin}${delimiter}${env.PATH}`;
      const scratch = join(this.l.run('dbmanager'), 'tmp');
      mkdirSync(scratch, { recursive: true, mode: 0o711 });
      env.TMPDIR = scratch;
    }
    if (name === 'gateway') {
      const dir = this.l.config('gateway');
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'gateway.yaml'), localGatewayYaml(this.ctx));
    }
    return { ...env, ...(this.ctx.extraEnv?.(instance) ?? {}) };
  }

  private async service(name: 'gateway' | 'auth' | 'config' | 'dbmanager', instance: string = name): Promise<void> {
    const c = component(this.platform, name);
    const env = this.serviceEnv(name, instance);
    const p = await this.start({
      name: instance,
      command: process.execPath,
      args: ['--import', 'tsx', ...serviceEntry(c)],
      env,
      cwd: this.o.repoRoot,
      logFile: this.l.log(instance),
      stopTimeoutMs: c.terminationGracePeriodSeconds * 1000,
    });
    await this.waitReady(p, this.httpProbe(c, instance), 180_000);
  }

  private async echo(): Promise<void> {
    const port = localPort(this.ctx, `${ECHO}/http`);
    const p = await this.start({
      name: ECHO,
      command: process.execPath,
      args: ['--import', 'tsx', 'infra/local-platform/echo-server.ts', String(port)],
      env: this.nodeEnv,
      cwd: this.o.repoRoot,
      logFile: this.l.log(ECHO),
      stopTimeoutMs: 10_000,
    });
    await this.waitReady(p, () => httpOk(`http://${HOST}:${port}/`));
  }

  /** A component's HTTP port speaks TLS when the model switches it on (the local CA's certificates name 127.0.0.1). */
  private httpScheme(name: string): 'http' | 'https' {
    const tls = component(this.platform, name as Component['name']).env.PRISM_TLS_ENABLED;
    return tls && 'value' in tls && tls.value === 'true' ? 'https' : 'http';
  }

  private endpoints(): Endpoints {
    const url = (k: string) => `http://${HOST}:${localPort(this.ctx, k)}`;
    const web = (instance: string, name: string) => `${this.httpScheme(name)}://${HOST}:${localPort(this.ctx, `${instance}/http`)}`;
    const addr = (k: string) => `${HOST}:${localPort(this.ctx, k)}`;
    const gws = Array.from({ length: this.ctx.gateways }, (_, i) => `gateway-${i + 1}`);
    const metrics: Record<string, string> = {};
    for (const s of ['auth', 'config', 'dbmanager', ...gws]) metrics[s] = `${url(`${s}/metrics`)}/metrics`;
    const { rate_limit } = gatewayConfigSchema.parse(parseYaml(localGatewayYaml(this.ctx)));
    return {
      environment: this.platform.environment,
      gateways: gws.map((g) => web(g, 'gateway')),
      auth: web('auth', 'auth'),
      auth_grpc: addr('auth/grpc'),
      config_grpc: addr('config/grpc'),
      dbmanager_grpc: addr('dbmanager/grpc'),
      metrics,
      echo: url(`${ECHO}/http`),
      routes: { echo: ECHO_ROUTES.protected, echo_public: ECHO_ROUTES.public },
      jwt_private_key_file: this.l.privateKey,
      jwt_public_key_file: this.l.publicKey,
      operator_mtls: { identity: this.pki.operator.identity, cert_file: this.pki.operator.cert, key_file: this.pki.operator.key, ca_file: this.pki.operator.ca },
      rate_limit,
      postgres: { auth: addr('postgres-auth/postgres'), ops: addr('postgres-ops/postgres') },
      redis: addr('redis/redis'),
      nats: `nats://${addr('nats/client')}`,
      s3: url('minio/api'),
      tracing_query: `${url('jaeger/ui')}/api`,
      logs: this.l.logsDir,
    };
  }
}

/** Like Promise.all, but waits for every step to settle first, so nothing starts after a failure is handled. */
async function allSettled(steps: readonly Promise<unknown>[]): Promise<void> {
  const results = await Promise.allSettled(steps);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

/** Stops in reverse start order: gateways first, data stores last. */
async function stopAll(processes: readonly RunningProcess[]): Promise<StopResult[]> {
  const results: StopResult[] = [];
  const order = [...processes].reverse();
  // Same start wave → stop together: the gateways, then the services, then the data stores.
  const wave = (p: RunningProcess) => (p.name.startsWith('gateway') ? 0 : (DATA_COMPONENTS as readonly string[]).includes(p.name) ? 2 : 1);
  for (const w of [0, 1, 2]) results.push(...(await Promise.all(order.filter((p) => wave(p) === w).map(stopProcess))));
  return results;
}

export async function up(o: UpOptions): Promise<Endpoints> {
  return new Runner(o).up();
}

/** The environment a Prism service of a running platform has (for its CLI, e.g. the DB manager's backups). */
export function serviceEnvironment(o: UpOptions, name: 'gateway' | 'auth' | 'config' | 'dbmanager'): Record<string, string> {
  const r = new Runner(o);
  r.attach();
  return r.serviceEnv(name);
}

export async function down(dir: string): Promise<StopResult[]> {
  const l = layout(resolve(dir));
  const state = readState(l);
  if (!state) return [];
  const results = await stopAll(state.processes);
  rmSync(l.state, { force: true });
  return results;
}

export interface StatusLine {
  readonly name: string;
  readonly pid: number;
  readonly running: boolean;
  readonly log: string;
}

export function status(dir: string): { lines: StatusLine[]; endpoints?: Endpoints } {
  const l = layout(resolve(dir));
  const state = readState(l);
  if (!state) return { lines: [] };
  const lines = state.processes.map((p) => ({ name: p.name, pid: p.pid, running: isAlive(p), log: p.logFile }));
  const endpoints = existsSync(l.endpoints) ? (JSON.parse(readFileSync(l.endpoints, 'utf8')) as Endpoints) : undefined;
  return { lines, ...(endpoints ? { endpoints } : {}) };
}

export { layout };
