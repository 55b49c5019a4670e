import { basename, join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import {
  BACKUP_BUCKET,
  gatewayConfigSchema,
  type GatewayConfigInput,
  MINIO_BACKUP_USER,
  MINIO_METRICS_USER,
} from '../contract/index.js';
import {
  component,
  type Component,
  type ComponentName,
  type ComponentRef,
  type EnvValue,
  type Platform,
  jaegerYaml,
  minioSetupScript,
  toYaml,
} from '../model/index.js';
import type { Layout } from './layout.js';
import type { PortMap } from './launcher.js';
import { HOST } from './probes.js';
import type { LocalSecrets } from './secrets.js';

/**
 * The fourth renderer: the dev stack's model as processes on 127.0.0.1. Everything comes from the
 * model (env names and values, config files, arguments, probes, tasks); only addresses and paths
 * change: a port becomes a free local one, a mount path a directory under the state directory, a
 * secret reference the locally generated value.
 */

/**
 * Components the local platform runs besides the services: the data stores and the trace backend (Jaeger v2,
 * so tracing is on locally as in the model). Consul and the rest of the observability stack are left out.
 */
export const DATA_COMPONENTS = [
  'postgres-auth',
  'postgres-ops',
  'redis',
  'nats',
  'minio',
  'jaeger',
] as const satisfies readonly ComponentName[];
const SERVICE_ORDER = ['config', 'auth', 'dbmanager', 'gateway'] as const;
export const ECHO = 'echo';

/** The example upstream's routes in the local gateway.yaml: one behind authentication, one public. */
export const ECHO_ROUTES = { protected: '/api/echo', public: '/api/echo-public' } as const;

/** The port names the local platform allocates, in a stable order. */
export function portKeys(platform: Platform, gateways: number): string[] {
  const keys: string[] = [];
  for (const name of DATA_COMPONENTS) {
    for (const p of component(platform, name).ports) if (p.name !== 'cluster') keys.push(`${name}/${p.name}`);
  }
  for (const name of SERVICE_ORDER) {
    const c = component(platform, name);
    const instances = name === 'gateway' ? Array.from({ length: gateways }, (_, i) => `gateway-${i + 1}`) : [name];
    for (const inst of instances) for (const p of c.ports) keys.push(`${inst}/${p.name}`);
  }
  keys.push(`${ECHO}/http`);
  return keys;
}

class RenderError extends Error {
  override readonly name = 'RenderError';
}

export interface RenderContext {
  readonly platform: Platform;
  readonly ports: PortMap;
  readonly layout: Layout;
  readonly secrets: LocalSecrets;
  readonly gateways: number;
  /** Extra variables per workload (the TLS step adds PRISM_TLS_* here). */
  readonly extraEnv?: (workload: string) => Readonly<Record<string, string>>;
}

export { HOST } from './probes.js';

/**
 * nats-server's command line on the local platform: options win over the model's file, so the client
 * port and the monitoring port (plain HTTP, which lists every connection) listen on 127.0.0.1 only.
 */
export function localNatsArgs(confPath: string, clientPort: number, monitorPort: number): string[] {
  return ['--config', confPath, '-a', HOST, '-p', String(clientPort), '-m', String(monitorPort)];
}

export function localPort(ctx: RenderContext, key: string): number {
  const p = ctx.ports[key];
  if (p === undefined) throw new RenderError(`no local port allocated for ${key}`);
  return p;
}

/** A model reference as a local address. References to components not run locally are undefined. */
function resolveLocalRef(ctx: RenderContext, r: ComponentRef): string | undefined {
  // The one auth, config, dbmanager; gateways are never referenced by others.
  const key = `${r.component}/${r.port}`;
  if (ctx.ports[key] === undefined) return undefined;
  const hostPort = `${HOST}:${ctx.ports[key]}`;
  return r.scheme ? `${r.scheme}://${hostPort}${r.path ?? ''}` : hostPort;
}

/** Mount paths of a component's files → their local paths. */
function fileMap(ctx: RenderContext, c: Component): Map<string, string> {
  const m = new Map<string, string>();
  for (const f of c.configFiles) m.set(`${f.mountPath}/${f.name}`, `${ctx.layout.config(c.name)}/${f.name}`);
  for (const item of c.secretFiles?.items ?? []) {
    const local =
      item.secret === 'jwt-private-key'
        ? ctx.layout.privateKey
        : item.secret === 'jwt-public-key'
          ? ctx.layout.publicKey
          : undefined;
    if (!local) throw new RenderError(`${c.name}: no local file for secret ${item.secret}`);
    m.set(`${c.secretFiles!.mountPath}/${item.file}`, local);
  }
  return m;
}

/**
 * Mounted directories of a component → local ones: its mutual-TLS certificate (the local CA issued it
 * under the same file names), and its writable scratch directories (emptyDirs in Kubernetes), which
 * become directories of this platform's own (`run/<component>/<name>`): two platforms on one machine
 * never share one (the DB manager's WAL spool lives in its scratch directory).
 */
export function dirMap(ctx: RenderContext, c: Component): [string, string][] {
  const scratch = c.writablePaths
    .filter((w) => w.path !== '/tmp')
    .map((w): [string, string] => [w.path, join(ctx.layout.run(c.name), basename(w.path))]);
  return [...(c.identity ? [[c.identity.mountPath, ctx.layout.mtls(c.name)] as [string, string]] : []), ...scratch];
}

/** A value of the model with a mounted file's path made local; any variable naming a file of a mapped directory follows. */
function localFilePath(ctx: RenderContext, c: Component, value: string): string {
  const file = fileMap(ctx, c).get(value);
  if (file) return file;
  for (const [mount, local] of dirMap(ctx, c)) {
    if (value === mount) return local;
    if (value.startsWith(`${mount}/`)) return `${local}${value.slice(mount.length)}`;
  }
  return value;
}

/**
 * A component's environment from the model: values as they are (file paths mapped), secrets from
 * the local store, references as local addresses. An optional variable whose reference or secret
 * has no local counterpart is left out (Consul registration, tracing, OAuth); a required one is an error.
 */
export function componentEnv(ctx: RenderContext, c: Component): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, v] of Object.entries<EnvValue>(c.env)) {
    let out: string | undefined;
    if ('value' in v) out = localFilePath(ctx, c, v.value);
    else if ('secret' in v) out = ctx.secrets[v.secret];
    else if ('ref' in v) out = resolveLocalRef(ctx, v.ref);
    else if ('field' in v) out = `${c.name}-local`;
    if (out !== undefined) env[name] = out;
  }
  return env;
}

/** Jaeger's configuration for the local platform: the model's pipeline on local ports, traces kept in memory. */
export function localJaegerYaml(ctx: RenderContext): string {
  const p = (name: string) => localPort(ctx, `jaeger/${name}`);
  return jaegerYaml({
    host: HOST,
    ports: {
      query: p('ui'),
      otlpGrpc: p('otlp-grpc'),
      otlpHttp: p('otlp-http'),
      health: p('health'),
      metrics: p('metrics'),
    },
    storage: { memory: { maxTraces: 10_000 } },
  });
}

/** The local gateway.yaml: the model's, with the auth origin local and the example upstream's two routes added. */
export function localGatewayYaml(ctx: RenderContext): string {
  const gw = component(ctx.platform, 'gateway');
  const file = gw.configFiles.find((f) => f.name === 'gateway.yaml');
  if (!file) throw new RenderError('the model has no gateway.yaml');
  const doc = parseYaml(file.content) as GatewayConfigInput;
  const authHttp = component(ctx.platform, 'auth').ports.find((p) => p.name === 'http')!;
  // Plain HTTP or TLS (the certificates are valid for 127.0.0.1): only the address changes.
  const modelAuth = new RegExp(`^(https?)://auth:${authHttp.port}(?=/|$)`);
  const swap = (u: string) =>
    u.replace(modelAuth, (_, scheme: string) => `${scheme}://${HOST}:${localPort(ctx, 'auth/http')}`);
  const echo = `http://${HOST}:${localPort(ctx, `${ECHO}/http`)}`;
  // The echo upstream is plain HTTP: its routes take the model's route settings but not its CA file or identity.
  const { ca_file: _caFile, server_identity: _identity, ...template } = doc.routes[0]!;
  const routes = [
    ...doc.routes.map((r) => ({
      ...r,
      upstream: swap(r.upstream),
      ...(r.ca_file ? { ca_file: localFilePath(ctx, gw, r.ca_file) } : {}),
    })),
    { ...template, prefix: ECHO_ROUTES.protected, upstream: echo, rewrite: '/', auth_required: true, retries: 0 },
    { ...template, prefix: ECHO_ROUTES.public, upstream: echo, rewrite: '/', auth_required: false, retries: 0 },
  ];
  const auth = {
    ...doc.auth,
    ...(doc.auth.jwks_url ? { jwks_url: swap(doc.auth.jwks_url) } : {}),
    ...(doc.auth.jwks_ca_file ? { jwks_ca_file: localFilePath(ctx, gw, doc.auth.jwks_ca_file) } : {}),
  };
  const local: GatewayConfigInput = { ...doc, auth, routes };
  return toYaml(gatewayConfigSchema.parse(local));
}

/** The MinIO set-up task's script, with the local endpoint, and its policy files (written beside it). */
export function localMinioSetup(ctx: RenderContext): {
  script: string;
  policies: readonly { name: string; content: string }[];
  env: Record<string, string>;
} {
  const minio = component(ctx.platform, 'minio');
  const task = minio.tasks.find((t) => t.name === 'minio-setup');
  if (!task) throw new RenderError('the model has no minio-setup task');
  const file = (name: string) => task.configFiles?.find((f) => f.name === name);
  const backup = file('backup-policy.json');
  const metrics = file('metrics-policy.json');
  if (!backup || !metrics || !file('setup.sh'))
    throw new RenderError('the minio-setup task lacks its script or a policy');
  const env: Record<string, string> = {};
  for (const [name, v] of Object.entries(task.env ?? {})) {
    if ('value' in v) env[name] = v.value;
    else if ('secret' in v && ctx.secrets[v.secret]) env[name] = ctx.secrets[v.secret]!;
  }
  const dir = ctx.layout.config('minio');
  const script = minioSetupScript({
    endpoint: `http://${HOST}:${localPort(ctx, 'minio/api')}`,
    bucket: BACKUP_BUCKET,
    backupUser: MINIO_BACKUP_USER,
    policyFile: `${dir}/${backup.name}`,
    metricsUser: MINIO_METRICS_USER,
    metricsPolicyFile: `${dir}/${metrics.name}`,
  });
  return { script, policies: [backup, metrics].map((f) => ({ name: f.name, content: f.content })), env };
}
