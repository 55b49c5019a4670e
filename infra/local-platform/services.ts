import { mkdirSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { DATABASES } from '../contract/index.js';
import { component, type Component } from '../model/index.js';
import { httpScheme, type PlatformContext } from './context.js';
import { httpProbePath } from './data-stores.js';
import { LocalPlatformError, runTask, type Launcher } from './launcher.js';
import { HOST, httpOk } from './probes.js';
import { componentEnv, dirMap, ECHO, localGatewayYaml, localPort } from './render.js';

/** The Prism services and the example upstream, run from source with tsx. */

export type ServiceName = 'gateway' | 'auth' | 'config' | 'dbmanager';

/** What the model says the image runs, from source: `node build/services/x/src/y.js` becomes `services/x/src/y.ts` run with tsx. */
function serviceEntry(c: Component): string[] {
  const entry = c.command ?? c.image.entrypoint;
  if (!entry) throw new LocalPlatformError(`${c.name}: the model gives neither a command nor the image's entrypoint`);
  const file = entry.find((a) => a.startsWith('build/'));
  if (!file) throw new LocalPlatformError(`${c.name}: cannot find the entry file in ${entry.join(' ')}`);
  return [file.replace(/^build\//, '').replace(/\.js$/, '.ts'), ...(c.args ?? [])];
}

/** The environment of a Prism service instance: the model's, with local ports and files. */
export function serviceEnv(
  pc: PlatformContext,
  name: ServiceName,
  instance: string = name,
  task?: string,
): Record<string, string> {
  const model = component(pc.platform, name);
  // A task of the component (db-migrate) runs with its own environment, as its Job does.
  const taskEnv = task ? model.tasks.find((t) => t.name === task)?.env : undefined;
  if (task && !taskEnv) throw new LocalPlatformError(`${name} has no task ${task} with its own environment`);
  const c = taskEnv ? { ...model, env: taskEnv } : model;
  const ctx = pc.render;
  const env: Record<string, string> = { ...pc.nodeEnv, ...componentEnv(ctx, c) };
  for (const p of c.ports) {
    const v =
      p.name === 'http'
        ? 'PRISM_HTTP_PORT'
        : p.name === 'grpc'
          ? 'PRISM_GRPC_PORT'
          : p.name === 'metrics'
            ? 'PRISM_METRICS_PORT'
            : undefined;
    if (v) env[v] = String(localPort(ctx, `${instance}/${p.name}`));
  }
  // Every listener on loopback: the platform is for this machine only.
  env.PRISM_BIND_ADDRESS = HOST;
  if (name === 'auth')
    env.PRISM_PUBLIC_BASE_URL = `${httpScheme(pc.platform, 'gateway')}://${HOST}:${localPort(ctx, 'gateway-1/http')}`;
  // The model writes the databases' host and port as plain values (the component name and its port).
  for (const db of ['auth', 'ops'] as const) {
    const P = db.toUpperCase();
    if (env[`PRISM_${P}_DB_HOST`] === undefined) continue;
    env[`PRISM_${P}_DB_HOST`] = HOST;
    env[`PRISM_${P}_DB_PORT`] = String(localPort(ctx, `${DATABASES[db].component}/postgres`));
  }
  // The component's scratch directories, under this platform's own directory (see dirMap).
  for (const [, local] of dirMap(ctx, c))
    if (local.startsWith(`${pc.layout.run(c.name)}/`)) mkdirSync(local, { recursive: true, mode: 0o711 });
  if (name === 'dbmanager') {
    // The backup tools of the same PostgreSQL the platform runs, and a temporary directory of its own.
    env.PATH = `${pc.prereq.pgBin}${delimiter}${env.PATH}`;
    const tmp = join(pc.layout.run('dbmanager'), 'tmp');
    mkdirSync(tmp, { recursive: true, mode: 0o711 });
    env.TMPDIR = tmp;
  }
  if (name === 'gateway') {
    const dir = pc.layout.config('gateway');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'gateway.yaml'), localGatewayYaml(ctx));
  }
  return { ...env, ...(ctx.extraEnv?.(instance) ?? {}) };
}

/**
 * The model's db-migrate task, run once before the DB manager: it sets up the PostgreSQL roles and
 * applies the migrations with the task's own environment (the only one holding the superusers' passwords).
 */
export async function runDbMigrate(pc: PlatformContext, signal?: AbortSignal): Promise<void> {
  const c = component(pc.platform, 'dbmanager');
  const task = c.tasks.find((t) => t.name === 'db-migrate');
  if (!task) throw new LocalPlatformError('the model has no db-migrate task');
  const [entry] = serviceEntry(c);
  await runTask('db-migrate', process.execPath, ['--import', 'tsx', entry!, ...task.args], {
    env: serviceEnv(pc, 'dbmanager', 'dbmanager', 'db-migrate'),
    cwd: pc.repoRoot,
    log: pc.layout.log('db-migrate'),
    signal,
  });
}

export async function startService(
  pc: PlatformContext,
  launcher: Launcher,
  name: ServiceName,
  instance: string = name,
): Promise<void> {
  const c = component(pc.platform, name);
  const probe = httpProbePath(c);
  await launcher.launch(
    {
      name: instance,
      command: process.execPath,
      args: ['--import', 'tsx', ...serviceEntry(c)],
      env: serviceEnv(pc, name, instance),
      cwd: pc.repoRoot,
      logFile: pc.layout.log(instance),
      stopTimeoutMs: c.terminationGracePeriodSeconds * 1000,
    },
    () => httpOk(`http://${HOST}:${localPort(pc.render, `${instance}/${probe.port}`)}${probe.path}`),
    180_000,
  );
}

/** The example upstream behind the gateway's echo routes. */
export async function startEcho(pc: PlatformContext, launcher: Launcher): Promise<void> {
  const port = localPort(pc.render, `${ECHO}/http`);
  await launcher.launch(
    {
      name: ECHO,
      command: process.execPath,
      args: ['--import', 'tsx', 'infra/local-platform/echo-server.ts', String(port)],
      env: pc.nodeEnv,
      cwd: pc.repoRoot,
      logFile: pc.layout.log(ECHO),
      stopTimeoutMs: 10_000,
    },
    () => httpOk(`http://${HOST}:${port}/`),
  );
}
