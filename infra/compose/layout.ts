import { posix } from 'node:path';
import type { ConfigFile, Layer } from '../model/index.js';

/**
 * Where the local set-up lives (the guide's paths). Paths are relative to the repository root;
 * paths inside compose files are relative to the project directory, `deploy/docker-compose`,
 * which Compose uses for every `-f` file (including the Traefik overlay).
 */
export const PROJECT_NAME = 'prism';
const COMPOSE_DIR = 'deploy/docker-compose';
export const TRAEFIK_DIR = 'deploy/traefik';
export const ENV_FILE = `${COMPOSE_DIR}/.env`;
export const ENV_EXAMPLE_FILE = `${COMPOSE_DIR}/.env.example`;
/** Make variables derived from the model (service lists per file), included by the Makefile. */
export const SERVICES_MK_FILE = `${COMPOSE_DIR}/services.mk`;

/** One compose file per layer of the model. */
export const COMPOSE_FILES: Readonly<Record<Layer, string>> = {
  core: `${COMPOSE_DIR}/docker-compose.yml`,
  data: `${COMPOSE_DIR}/docker-compose.infra.yml`,
  observability: `${COMPOSE_DIR}/docker-compose.observability.yml`,
  edge: `${TRAEFIK_DIR}/docker-compose.traefik.yml`,
};

/** A repository path as seen from the compose project directory. */
export function fromProjectDir(repoPath: string): string {
  return posix.relative(COMPOSE_DIR, repoPath);
}

/**
 * Host directory of a component's (or task's) config files: `deploy/<owner>/` plus each file's
 * mount directory below the owner's common mount root (`/etc/grafana/dashboards` ->
 * `deploy/grafana/dashboards`).
 */
export function configHostDir(owner: string, files: readonly ConfigFile[], mountPath: string): string {
  const root = commonDir(files.map((f) => f.mountPath));
  const rest = posix.relative(root, mountPath);
  return posix.join('deploy', owner, rest);
}

function commonDir(dirs: readonly string[]): string {
  const split = dirs.map((d) => d.split('/').filter(Boolean));
  const first = split[0] ?? [];
  let n = first.length;
  for (const parts of split) {
    let i = 0;
    while (i < n && parts[i] === first[i]) i++;
    n = i;
  }
  return `/${first.slice(0, n).join('/')}`;
}
