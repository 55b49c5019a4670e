import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { DATABASES, MTLS_FILES, REDIS_USERS, type DatabaseId } from '../contract/index.js';
import {
  PG_TLS_DIR,
  PG_TLS_KEY_COPY,
  component,
  redisPasswordVar,
  redisUserLines,
  type Component,
} from '../model/index.js';
import type { PlatformContext } from './context.js';
import { LocalPlatformError, runTask, type Launcher } from './launcher.js';
import { componentEnv, localJaegerYaml, localMinioSetup, localPort } from './render.js';
import { HOST, httpOk } from './probes.js';
import { startMinio, startNats, startPostgres, startRedis } from './servers.js';

/** The platform's data stores, each with the model's settings: only addresses and paths are made local. */

export async function startModelPostgres(pc: PlatformContext, launcher: Launcher, db: DatabaseId): Promise<void> {
  const c = component(pc.platform, DATABASES[db].component);
  const env = componentEnv(pc.render, c);
  const { layout: l } = pc;
  for (const f of c.configFiles) {
    mkdirSync(l.config(c.name), { recursive: true });
    writeFileSync(join(l.config(c.name), f.name), f.content, { mode: 0o644 });
  }
  // The model's arguments, with the port and the hba file's path made local; its TLS files are private copies
  // of the local CA's certificate (the model's start wrapper copies the key the same way).
  const modelPort = c.ports[0]!.port;
  const port = localPort(pc.render, `${c.name}/postgres`);
  const tls = { cert: join(l.run(c.name), MTLS_FILES.cert), key: join(l.run(c.name), MTLS_FILES.key) };
  const args = (c.args ?? []).map((a) =>
    a === `port=${modelPort}`
      ? `port=${port}`
      : a === `ssl_cert_file=${PG_TLS_DIR}/${MTLS_FILES.cert}`
        ? `ssl_cert_file=${tls.cert}`
        : a === `ssl_key_file=${PG_TLS_KEY_COPY}`
          ? `ssl_key_file=${tls.key}`
          : a.replace(/^hba_file=.*\/([^/]+)$/, `hba_file=${l.config(c.name)}/$1`),
  );
  const issued = l.mtls(c.name);
  await startPostgres(launcher, {
    name: c.name,
    pgBin: pc.prereq.pgBin,
    data: l.data(c.name),
    socketDir: l.run(c.name),
    port,
    superuser: env.POSTGRES_USER!,
    password: env.POSTGRES_PASSWORD!,
    database: env.POSTGRES_DB!,
    args,
    env: pc.nodeEnv,
    logFile: l.log(c.name),
    stopSignal: 'SIGINT',
    stopTimeoutMs: c.terminationGracePeriodSeconds * 1000,
    privateFiles: [
      { from: join(issued, MTLS_FILES.cert), to: tls.cert },
      { from: join(issued, MTLS_FILES.key), to: tls.key },
    ],
    // The probe verifies the server as every client does (verify-full, the local CA, 127.0.0.1).
    ssl: { ca: readFileSync(join(issued, MTLS_FILES.ca), 'utf8'), rejectUnauthorized: true },
  });
}

/** A config file of the model with the component's data directory (its volume's mount path) made local. */
function localPaths(pc: PlatformContext, c: Component, content: string): string {
  const mount = c.persistence?.mountPath;
  if (!mount) return content;
  const escaped = mount.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return content.replace(new RegExp(`(?<=[\\s"'])${escaped}(?=[/"'\\s]|$)`, 'gm'), pc.layout.data(c.name));
}

/** The model's config file, made local, written to the component's config directory; returns its path. */
function writeModelConfig(pc: PlatformContext, c: Component, adapt: (content: string) => string = (t) => t): string {
  const conf = c.configFiles[0]!;
  mkdirSync(pc.layout.config(c.name), { recursive: true });
  const path = join(pc.layout.config(c.name), conf.name);
  writeFileSync(path, adapt(localPaths(pc, c, conf.content)));
  return path;
}

export async function startModelRedis(pc: PlatformContext, launcher: Launcher): Promise<void> {
  const c = component(pc.platform, 'redis');
  // The model passes the ACL users with their passwords as arguments; locally they go in the private config
  // file, so no password shows in the process list. The readiness probe logs in as the exporter (PING only).
  const env = componentEnv(pc.render, c);
  await startRedis(launcher, {
    name: 'redis',
    redisServer: pc.prereq.redisServer,
    port: localPort(pc.render, 'redis/redis'),
    acl: redisUserLines((u) => env[redisPasswordVar(u)]!),
    user: REDIS_USERS.exporter.name,
    password: env[redisPasswordVar(REDIS_USERS.exporter)]!,
    include: writeModelConfig(pc, c),
    runDir: pc.layout.run('redis'),
    dataDir: pc.layout.data('redis'),
    env: pc.nodeEnv,
    logFile: pc.layout.log('redis'),
    stopTimeoutMs: c.terminationGracePeriodSeconds * 1000,
  });
}

/** The path of the model's HTTP readiness probe (NATS, MinIO and the Prism services have one). */
export function httpProbePath(c: Component): { port: string; path: string } {
  const a = c.readiness.action;
  if (!('http' in a)) throw new LocalPlatformError(`${c.name}: readiness probe is not HTTP`);
  return a.http;
}

export async function startModelNats(pc: PlatformContext, launcher: Launcher): Promise<void> {
  const c = component(pc.platform, 'nats');
  const probe = httpProbePath(c);
  await startNats(launcher, {
    name: 'nats',
    natsServer: pc.prereq.natsServer,
    clientPort: localPort(pc.render, 'nats/client'),
    monitorPort: localPort(pc.render, `nats/${probe.port}`),
    // The server's certificate from the local CA, where the model mounts it.
    args: [
      '--config',
      writeModelConfig(pc, c, (text) => text.replaceAll(`"${c.identity!.mountPath}/`, `"${pc.layout.mtls('nats')}/`)),
    ],
    dataDir: pc.layout.data('nats'),
    readyPath: probe.path,
    env: { ...pc.nodeEnv, ...componentEnv(pc.render, c) },
    logFile: pc.layout.log('nats'),
    stopTimeoutMs: c.terminationGracePeriodSeconds * 1000,
  });
}

export async function startModelMinio(pc: PlatformContext, launcher: Launcher): Promise<void> {
  const c = component(pc.platform, 'minio');
  const probe = httpProbePath(c);
  await startMinio(launcher, {
    name: 'minio',
    minio: pc.prereq.minio,
    dataDir: pc.layout.data('minio'),
    certsDir: join(pc.layout.run('minio'), 'certs'),
    apiPort: localPort(pc.render, `minio/${probe.port}`),
    consolePort: localPort(pc.render, 'minio/console'),
    readyPath: probe.path,
    env: { ...pc.nodeEnv, ...componentEnv(pc.render, c) },
    logFile: pc.layout.log('minio'),
    stopTimeoutMs: c.terminationGracePeriodSeconds * 1000,
  });
}

/** Jaeger v2 with traces in memory: the services export to it (the model's PRISM_OTLP_ENDPOINT, made local). */
export async function startModelJaeger(pc: PlatformContext, launcher: Launcher): Promise<void> {
  const c = component(pc.platform, 'jaeger');
  const probe = httpProbePath(c);
  const dir = pc.layout.config('jaeger');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.yaml'), localJaegerYaml(pc.render));
  mkdirSync(pc.layout.data('jaeger'), { recursive: true, mode: 0o700 });
  await launcher.launch(
    {
      name: 'jaeger',
      command: pc.prereq.jaeger,
      args: ['--config', join(dir, 'config.yaml')],
      env: pc.nodeEnv,
      cwd: pc.layout.data('jaeger'),
      logFile: pc.layout.log('jaeger'),
      stopTimeoutMs: c.terminationGracePeriodSeconds * 1000,
    },
    () => httpOk(`http://${HOST}:${localPort(pc.render, `jaeger/${probe.port}`)}${probe.path}`),
  );
}

/** The model's MinIO set-up task (bucket, least-privilege backup and metrics users) against the local MinIO. */
export async function runMinioSetup(pc: PlatformContext, signal?: AbortSignal): Promise<void> {
  const { script, policies, env } = localMinioSetup(pc.render);
  const dir = pc.layout.config('minio');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'setup.sh'), script, { mode: 0o755 });
  for (const p of policies) writeFileSync(join(dir, p.name), p.content);
  const mcDir = join(pc.layout.run('minio'), 'mc');
  mkdirSync(mcDir, { recursive: true, mode: 0o700 });
  const path = `${join(pc.prereq.mc, '..')}${delimiter}${pc.nodeEnv.PATH}`;
  await runTask('minio-setup', 'sh', [join(dir, 'setup.sh')], {
    env: { ...pc.nodeEnv, PATH: path, ...env, MC_CONFIG_DIR: mcDir },
    cwd: dir,
    log: pc.layout.log('minio-setup'),
    signal,
  });
}
