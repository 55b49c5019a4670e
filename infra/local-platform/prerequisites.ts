import { existsSync, readdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { OBSERVABILITY_IMAGES } from '../model/index.js';

/**
 * The programs the local platform runs. A missing one stops `local:up` at once with one line
 * naming it and the command that installs it (scripts/install-prerequisites.sh installs them all).
 */

export const INSTALL_SCRIPT = 'scripts/install-prerequisites.sh';

export class PrerequisiteError extends Error {
  override readonly name = 'PrerequisiteError';
}

export interface Prerequisites {
  /** Directory of initdb, postgres, pg_isready (and the backup tools, same major version). */
  readonly pgBin: string;
  readonly redisServer: string;
  readonly natsServer: string;
  readonly minio: string;
  readonly mc: string;
  /** Jaeger v2 (scripts/control-plane-tools.sh jaeger builds it into the tools cache). */
  readonly jaeger: string;
}

/** The Jaeger v2 binary: on PATH, or where scripts/control-plane-tools.sh caches the model's pinned release. */
export function findJaeger(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const cached = join(
    env.PRISM_TOOLS_CACHE ?? '/var/cache/prism-tools',
    `jaeger-v${OBSERVABILITY_IMAGES.jaeger.tag}`,
    'bin',
    'jaeger',
  );
  return which('jaeger', env.PATH) ?? (existsSync(cached) ? cached : undefined);
}

function which(cmd: string, path = process.env.PATH ?? ''): string | undefined {
  for (const dir of path.split(delimiter)) {
    if (dir && existsSync(join(dir, cmd))) return join(dir, cmd);
  }
  return undefined;
}

/**
 * PostgreSQL's real bin directory: `PRISM_PG_BIN` when set, else the newest Debian
 * `/usr/lib/postgresql/<major>/bin`, else a directory on PATH holding both initdb and postgres
 * (Debian's /usr/bin has wrappers for the client programs only).
 */
export function findPostgresBin(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const has = (dir: string) =>
    ['initdb', 'postgres', 'pg_isready', 'pg_basebackup'].every((p) => existsSync(join(dir, p)));
  if (env.PRISM_PG_BIN) return has(env.PRISM_PG_BIN) ? env.PRISM_PG_BIN : undefined;
  const root = '/usr/lib/postgresql';
  const majors = existsSync(root)
    ? readdirSync(root)
        .filter((d) => /^\d+$/.test(d))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  for (const m of majors) if (has(join(root, m, 'bin'))) return join(root, m, 'bin');
  for (const dir of (env.PATH ?? '').split(delimiter)) if (dir && has(dir)) return dir;
  return undefined;
}

const missing = (what: string, install: string) =>
  new PrerequisiteError(
    `missing prerequisite: ${what}; install it with \`${install}\`${install.includes(INSTALL_SCRIPT) ? '' : ` (or everything: sudo bash ${INSTALL_SCRIPT})`}`,
  );

/** Finds every program or throws for the first one missing. */
export function checkPrerequisites(env: NodeJS.ProcessEnv = process.env): Prerequisites {
  const pgBin = findPostgresBin(env);
  if (!pgBin)
    throw missing(
      'PostgreSQL server programs (initdb, postgres; set PRISM_PG_BIN to their directory)',
      'sudo apt-get install postgresql',
    );
  const redisServer = which('redis-server', env.PATH);
  if (!redisServer) throw missing('redis-server', 'sudo apt-get install redis-server');
  const natsServer = which('nats-server', env.PATH);
  if (!natsServer) throw missing('nats-server', 'sudo apt-get install nats-server');
  const minio = which('minio', env.PATH);
  if (!minio) throw missing('minio', `sudo bash ${INSTALL_SCRIPT}`);
  const mc = which('mc', env.PATH);
  if (!mc) throw missing('mc (the MinIO client)', `sudo bash ${INSTALL_SCRIPT}`);
  const jaeger = findJaeger(env);
  if (!jaeger) throw missing('jaeger (Jaeger v2, the trace backend)', 'bash scripts/control-plane-tools.sh jaeger');
  return { pgBin, redisServer, natsServer, minio, mc, jaeger };
}
