import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseDotenv } from '../../infra/local/index.js';
import { tempCheckout } from '../local/support.js';

/**
 * The compose files loaded by compose-go, the library `docker compose config` is built on
 * (no Docker engine or Compose plugin on this machine; Debian ships only the old v1). The
 * checker in compose-check/ is built once from the Go module proxy and cached.
 */

const SOURCE = resolve('test/compose/compose-check');
let checker = '';

beforeAll(() => {
  const hash = createHash('sha256');
  for (const f of ['go.mod', 'go.sum', 'main.go']) hash.update(readFileSync(join(SOURCE, f)));
  const dir = resolve('node_modules/.cache/prism-compose-check');
  checker = join(dir, hash.digest('hex').slice(0, 16));
  if (existsSync(checker)) return;
  mkdirSync(dir, { recursive: true });
  execFileSync('go', ['build', '-buildvcs=false', '-o', checker, '.'], {
    cwd: SOURCE,
    stdio: 'pipe',
    timeout: 280_000,
  });
}, 300_000);

const DIR = 'deploy/docker-compose';
const CORE = `${DIR}/docker-compose.yml`;
const INFRA = `${DIR}/docker-compose.infra.yml`;
// As the Makefile loads them: docker-compose.yml's services wait for the infrastructure's.
const FILES = {
  infra: [INFRA],
  core: [CORE, INFRA],
  observability: [`${DIR}/docker-compose.observability.yml`],
  traefik: [CORE, INFRA, 'deploy/traefik/docker-compose.traefik.yml'],
  all: [
    `${DIR}/docker-compose.yml`,
    `${DIR}/docker-compose.infra.yml`,
    `${DIR}/docker-compose.observability.yml`,
    'deploy/traefik/docker-compose.traefik.yml',
  ],
};

function load(cwd: string, files: readonly string[]): { status: number | null; stderr: string; project: any } {
  const args = ['-project-dir', DIR, '-env-file', `${DIR}/.env`, ...files.flatMap((f) => ['-f', f])];
  const r = spawnSync(checker, args, { cwd, encoding: 'utf8' });
  return { status: r.status, stderr: r.stderr, project: r.status === 0 ? JSON.parse(r.stdout) : undefined };
}

/** A checkout with .env and keys made by the real dev-setup steps, and the certificates of make local-certs. */
function readyCheckout(): string {
  const dir = tempCheckout();
  const r = spawnSync('bash', ['scripts/dev-setup.sh', '--local-only'], { cwd: dir, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  // The mesh certificates, as make docker-up generates them before starting the services.
  const c = spawnSync('node_modules/.bin/tsx', ['infra/cli/local.ts', 'certs'], { cwd: dir, encoding: 'utf8' });
  if (c.status !== 0) throw new Error(c.stderr);
  return dir;
}

describe('compose files as Docker Compose loads them (compose-go)', () => {
  const dir = readyCheckout();
  const env = parseDotenv(readFileSync(join(dir, `${DIR}/.env`), 'utf8'));
  const editEnv = (fn: (text: string) => string) => {
    const copy = tempCheckout();
    for (const f of [`${DIR}/.env`, 'keys/private.pem', 'keys/public.pem'])
      writeFileSync(join(copy, f), readFileSync(join(dir, f)));
    cpSync(join(dir, '.secrets/mtls'), join(copy, '.secrets/mtls'), { recursive: true });
    writeFileSync(join(copy, `${DIR}/.env`), fn(readFileSync(join(dir, `${DIR}/.env`), 'utf8')));
    return copy;
  };

  it.each(Object.entries(FILES))('loads %s with the generated .env', (_, files) => {
    const r = load(dir, files);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.project.name).toBe('prism');
  });

  it('hands the .env secrets to the containers and passes container-side $VAR through', () => {
    const { project } = load(dir, FILES.all);
    expect(project.services.gateway.environment.PRISM_REDIS_PASSWORD).toBe(env.get('REDIS_GATEWAY_PASSWORD'));
    expect(project.services.redis.command).toContain(`>${env.get('REDIS_GATEWAY_PASSWORD')}`);
    expect(project.services.redis.command).toContain(`>${env.get('REDIS_PASSWORD')}`);
    expect(project.services.redis.healthcheck.test.at(-1)).toContain('"$REDIS_EXPORTER_PASSWORD"');
    expect(project.services.auth.environment.PRISM_GOOGLE_CLIENT_ID).toBe('');
    expect(project.services.grafana.environment.GF_SECURITY_ADMIN_PASSWORD).toBe(env.get('GRAFANA_ADMIN_PASSWORD'));
  });

  it('resolves config mounts, the keys directory and the build context from deploy/docker-compose', () => {
    const { project } = load(dir, FILES.all);
    const redisConf = project.services.redis.volumes.find((v: any) => v.target === '/etc/redis');
    expect(redisConf).toMatchObject({ type: 'bind', source: join(dir, 'deploy/redis'), read_only: true });
    const keys = project.services['core-volume-init'].volumes.find((v: any) => v.target === '/init/keys');
    expect(keys).toMatchObject({ type: 'bind', source: join(dir, 'keys'), read_only: true });
    expect(project.services.auth.volumes.find((v: any) => v.target === '/etc/prism/keys')).toMatchObject({
      type: 'volume',
      source: 'auth-secret-files',
      read_only: true,
    });
    expect(project.services.gateway.build.context).toBe(dir);
    const traefikStatic = project.services.edge.volumes.find((v: any) => v.target === '/etc/traefik/traefik.yml');
    expect(traefikStatic.source).toBe(join(dir, 'deploy/traefik/traefik.dev.yml'));
  });

  it('switches Traefik to the production static configuration from .env', () => {
    const copy = editEnv((t) =>
      t.replace('TRAEFIK_STATIC_CONFIG=traefik.dev.yml', 'TRAEFIK_STATIC_CONFIG=traefik.yml'),
    );
    const { project } = load(copy, FILES.traefik);
    expect(project.services.edge.volumes.find((v: any) => v.target === '/etc/traefik/traefik.yml').source).toBe(
      join(copy, 'deploy/traefik/traefik.yml'),
    );
  });

  it("mounts the engine socket .env names into the log shipper (Docker's when the variable is gone)", () => {
    const shipperSocket = (copy: string) =>
      load(copy, FILES.observability).project.services.alloy.volumes.find(
        (v: any) => v.target === '/var/run/docker.sock',
      );
    const rootless = editEnv((t) =>
      t.replace('DOCKER_SOCKET=/var/run/docker.sock', 'DOCKER_SOCKET=/run/user/1000/docker.sock'),
    );
    expect(shipperSocket(rootless)).toMatchObject({
      type: 'bind',
      source: '/run/user/1000/docker.sock',
      read_only: true,
    });
    const older = editEnv((t) => t.replace(/^DOCKER_SOCKET=.*\n/m, ''));
    expect(shipperSocket(older)).toMatchObject({ type: 'bind', source: '/var/run/docker.sock', read_only: true });
  });

  it('refuses to start without a generated password, saying what to run', () => {
    const copy = editEnv((t) => t.replace(/^REDIS_GATEWAY_PASSWORD=.*\n/m, ''));
    const r = load(copy, FILES.core);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('REDIS_GATEWAY_PASSWORD is not set: run make dev-setup');
    const empty = load(
      editEnv((t) => t.replace(/^REDIS_PASSWORD=.*$/m, 'REDIS_PASSWORD=')),
      FILES.infra,
    );
    expect(empty.status).toBe(1);
  });

  it('accepts an empty OAuth credential but not a missing one', () => {
    const r = load(
      editEnv((t) => t.replace(/^GITHUB_CLIENT_SECRET=.*\n/m, '')),
      FILES.core,
    );
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('GITHUB_CLIENT_SECRET must be defined in .env (it may be empty)');
  });

  it('refuses a missing bind-mount source instead of letting Docker create an empty directory', () => {
    const copy = editEnv((t) => t);
    rmSync(join(copy, 'deploy/redis'), { recursive: true });
    const r = load(copy, FILES.infra);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`service redis: bind mount source ${join(copy, 'deploy/redis')} does not exist`);
  });

  it('makes db-migrate wait for both databases to be healthy across the files; docker-compose.yml alone is refused', () => {
    for (const files of [FILES.core, FILES.all]) {
      const { project } = load(dir, files);
      expect(project.services['db-migrate'].depends_on).toMatchObject({
        'postgres-auth': { condition: 'service_healthy' },
        'postgres-ops': { condition: 'service_healthy' },
      });
      // And the services wait for their stores (one `up` of every file on a fresh project).
      expect(project.services.auth.depends_on).toMatchObject({ redis: { condition: 'service_healthy' } });
    }
    const alone = load(dir, [CORE]);
    expect(alone.status).toBe(1);
    // compose-go reports whichever missing dependency its map iteration meets first: any of the infrastructure's.
    const missing = /depends on undefined service "([^"]+)"/.exec(alone.stderr)?.[1];
    expect(Object.keys(load(dir, FILES.infra).project.services)).toContain(missing);
  });

  it('every one-shot service is waited for by a long-running one, so `up --wait` of the files succeeds', () => {
    // Compose's --wait fails on a container that exits, even with 0, unless a service waits for it to complete
    // (through the Compose lane: "container minio-setup exited (0)" after one `up --wait` of every file).
    for (const files of [FILES.core, FILES.traefik, FILES.all]) {
      const services = load(dir, files).project.services as Record<
        string,
        { restart?: string; depends_on?: Record<string, { condition: string }> }
      >;
      const oneShots = Object.keys(services).filter((n) => services[n]!.restart === 'no');
      expect(oneShots).toEqual(expect.arrayContaining(['db-migrate', 'consul-setup', 'minio-setup']));
      for (const task of oneShots) {
        const waiters = Object.keys(services).filter(
          (n) =>
            services[n]!.restart !== 'no' &&
            services[n]!.depends_on?.[task]?.condition === 'service_completed_successfully',
        );
        expect(waiters, `${files.join(' ')}: ${task}`).not.toEqual([]);
      }
    }
    // The DB manager uses the bucket and its user; a service registering in Consul uses its token.
    const core = load(dir, FILES.core).project.services;
    expect(core.dbmanager.depends_on).toMatchObject({
      'minio-setup': { condition: 'service_completed_successfully' },
      'consul-setup': { condition: 'service_completed_successfully' },
    });
  });

  it('every make target that loads docker-compose.yml loads the infrastructure with it (make -n)', () => {
    const targets = ['docker-migrate', 'docker-up', 'docker-down', 'docker-build', 'docker-full-up', 'docker-clean'];
    const r = spawnSync('make', ['-n', ...targets], { cwd: dir, encoding: 'utf8' });
    expect(r.stderr).toBe('');
    const commands = r.stdout.split('\n').filter((l) => l.startsWith('docker compose ') && l.includes(CORE));
    expect(commands.length).toBeGreaterThanOrEqual(targets.length);
    for (const command of commands) {
      const words = command.split(/\s+/);
      const files = words.flatMap((w, i) => (words[i - 1] === '-f' ? [w] : []));
      expect(files, command).toContain(INFRA);
      const { status, stderr, project } = load(dir, files);
      expect(stderr, command).toBe('');
      expect(status).toBe(0);
      if (command.includes(' run ')) {
        // make docker-migrate: `run` starts the databases and waits for them before the migration.
        expect(command).toMatch(/ run --rm .*db-migrate$/);
        expect(Object.keys(project.services['db-migrate'].depends_on)).toEqual(
          expect.arrayContaining(['postgres-auth', 'postgres-ops']),
        );
      }
      // docker-down removes the core file's containers only, by name, not the infrastructure's.
      if (command.includes(' rm ')) expect(command).not.toMatch(/\bpostgres-auth\b|\bconsul\b/);
    }
  });

  it('needs docker-compose.yml before the Traefik overlay (the guide command order)', () => {
    const r = load(dir, ['deploy/traefik/docker-compose.traefik.yml']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/depends on undefined service/);
  });
});
