import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { GENERATED, localSecretManifest, parseDotenv } from '../../infra/local/index.js';
import { SECRET_KEYS } from '../../infra/contract/index.js';
import type { ManifestObject } from '../../infra/manifest/index.js';
import { openApiErrors } from '../support/k8s-schema.js';
import { find, synth } from '../support/synth.js';
import { mode, tempCheckout } from './support.js';

const ENV = 'deploy/docker-compose/.env';

/** A PATH holding only these programs (symlinks to the real ones): what a machine without Docker has. */
function pathWith(programs: readonly string[]): string {
  const bin = join(tempCheckout(), '.bin');
  mkdirSync(bin);
  for (const p of programs) {
    const real = execFileSync('sh', ['-c', `command -v ${p}`], { encoding: 'utf8' }).trim();
    symlinkSync(real, join(bin, p));
  }
  return bin;
}
const BASIC = ['bash', 'sh', 'dirname', 'sort', 'head', 'cat', 'env', 'make', 'grep', 'awk'];

function run(cwd: string, cmd: string, args: string[], env: NodeJS.ProcessEnv = {}) {
  return spawnSync(cmd, args, {
    cwd,
    encoding: 'utf8',
    env: { HOME: process.env.HOME, PATH: process.env.PATH, ...env },
  });
}

describe('make dev-setup, the parts that run without Docker', () => {
  it('lists every missing prerequisite with what to install, before creating anything', () => {
    const dir = tempCheckout();
    const r = run(dir, 'bash', ['scripts/dev-setup.sh'], { PATH: pathWith(BASIC) });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('Missing prerequisites:');
    expect(r.stderr).toMatch(/- node: Node\.js 24 or later .*https:\/\/nodejs\.org/);
    expect(r.stderr).toMatch(/- docker: install Docker Engine or Docker Desktop/);
    expect(existsSync(join(dir, ENV))).toBe(false);
    expect(existsSync(join(dir, 'keys/private.pem'))).toBe(false);
  });

  it('names Docker alone when Node.js is there', () => {
    const dir = tempCheckout();
    const r = run(dir, 'bash', ['scripts/dev-setup.sh'], { PATH: pathWith([...BASIC, 'node', 'npm']) });
    expect(r.status).toBe(1);
    expect(r.stderr).not.toContain('- node');
    expect(r.stderr).toContain('- docker: install Docker Engine');
  });

  it('creates .env (0600) and the key pair (0600/0644) with --local-only, and is idempotent', () => {
    const dir = tempCheckout();
    const first = run(dir, 'bash', ['scripts/dev-setup.sh', '--local-only']);
    expect(first.stderr).toBe('');
    expect(first.status).toBe(0);
    expect(first.stdout).toContain('created deploy/docker-compose/.env');
    expect(mode(statSync(join(dir, ENV)).mode)).toBe('0600');
    expect(mode(statSync(join(dir, 'keys/private.pem')).mode)).toBe('0600');
    expect(mode(statSync(join(dir, 'keys/public.pem')).mode)).toBe('0644');
    const snapshot = () => [ENV, 'keys/private.pem', 'keys/public.pem'].map((f) => readFileSync(join(dir, f), 'utf8'));
    const before = snapshot();
    const second = run(dir, 'bash', ['scripts/dev-setup.sh', '--local-only']);
    expect(second.status).toBe(0);
    expect(second.stdout).toContain('exists: values kept');
    expect(second.stdout).toContain('kept');
    expect(snapshot()).toEqual(before);
  });

  it('make generate-keys never overwrites; FORCE=1 does', () => {
    const dir = tempCheckout();
    expect(run(dir, 'make', ['--no-print-directory', 'generate-keys']).status).toBe(0);
    const key = readFileSync(join(dir, 'keys/private.pem'), 'utf8');
    const again = run(dir, 'make', ['--no-print-directory', 'generate-keys']);
    expect(again.stdout).toContain('exist and match: kept');
    expect(readFileSync(join(dir, 'keys/private.pem'), 'utf8')).toBe(key);
    expect(run(dir, 'make', ['--no-print-directory', 'generate-keys', 'FORCE=1']).status).toBe(0);
    expect(readFileSync(join(dir, 'keys/private.pem'), 'utf8')).not.toBe(key);
    expect(mode(statSync(join(dir, 'keys/private.pem')).mode)).toBe('0600');
  });

  it('accepts the guide flow cp .env.example .env: empty passwords are generated, nothing else changes', () => {
    const dir = tempCheckout();
    const example = readFileSync(join(dir, 'deploy/docker-compose/.env.example'), 'utf8');
    writeFileSync(join(dir, ENV), example.replace('GITHUB_CLIENT_ID=', 'GITHUB_CLIENT_ID=abc'));
    const r = run(dir, 'bash', ['scripts/dev-setup.sh', '--local-only']);
    expect(r.status).toBe(0);
    const env = parseDotenv(readFileSync(join(dir, ENV), 'utf8'));
    for (const k of GENERATED)
      expect(env.get(k), k).toMatch(
        /^(?:[A-Za-z0-9_-]{43}|[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12})$/,
      );
    expect(env.get('GITHUB_CLIENT_ID')).toBe('abc');
    expect(mode(statSync(join(dir, ENV)).mode)).toBe('0600');
  });
});

describe('npm run local-secrets', () => {
  // The dev Namespace as synthesized, rendered once outside the timed tests.
  let synthesizedNamespace: ManifestObject;
  beforeAll(() => {
    synthesizedNamespace = find(synth('dev').objects, 'Namespace', 'prism');
  }, 60_000);

  it('writes prism-secrets for a local cluster from .env and keys/: 0600, valid, OAuth only when given', async () => {
    const dir = tempCheckout();
    expect(run(dir, 'bash', ['scripts/dev-setup.sh', '--local-only']).status).toBe(0);
    const r = run(dir, 'node_modules/.bin/tsx', ['infra/cli/local.ts', 'secrets']);
    expect(r.status).toBe(0);
    const file = join(dir, '.secrets/prism-secrets.yaml');
    expect(mode(statSync(file).mode)).toBe('0600');
    expect(mode(statSync(join(dir, '.secrets')).mode)).toBe('0700');
    // The Namespace first, exactly as synthesized, so `kubectl apply -f` works on an empty cluster.
    const [namespace, secret, ...rest] = parseAllDocuments(readFileSync(file, 'utf8')).map((d) => d.toJS()) as [
      ManifestObject,
      ManifestObject & { data: Record<string, string> },
    ];
    expect(rest).toEqual([]);
    expect(namespace).toEqual(synthesizedNamespace);
    expect(await openApiErrors(namespace)).toEqual([]);
    expect(await openApiErrors(secret)).toEqual([]);
    expect(secret.metadata).toMatchObject({ name: 'prism-secrets', namespace: 'prism' });
    const env = parseDotenv(readFileSync(join(dir, ENV), 'utf8'));
    const decoded = (k: string) => Buffer.from(secret.data[k]!, 'base64').toString('utf8');
    for (const s of SECRET_KEYS) {
      if (s.source === 'password') expect(decoded(s.key), s.key).toBe(env.get(s.dotenv));
      if (s.source === 'provided') expect(secret.data[s.key], s.key).toBeUndefined();
    }
    expect(decoded('jwt-private-key')).toBe(readFileSync(join(dir, 'keys/private.pem'), 'utf8'));
    expect(decoded('jwt-public-key')).toBe(readFileSync(join(dir, 'keys/public.pem'), 'utf8'));

    writeFileSync(
      join(dir, ENV),
      readFileSync(join(dir, ENV), 'utf8').replace('GOOGLE_CLIENT_ID=', 'GOOGLE_CLIENT_ID=google-id'),
    );
    expect(run(dir, 'node_modules/.bin/tsx', ['infra/cli/local.ts', 'secrets']).status).toBe(0);
    const again = parseAllDocuments(readFileSync(file, 'utf8'))[1]!.toJS() as { data: Record<string, string> };
    expect(Buffer.from(again.data['google-client-id']!, 'base64').toString()).toBe('google-id');
  });

  it('fills a password left empty (a comment is no value) rather than writing a Secret without it', () => {
    const dir = tempCheckout();
    expect(run(dir, 'bash', ['scripts/dev-setup.sh', '--local-only']).status).toBe(0);
    writeFileSync(
      join(dir, ENV),
      readFileSync(join(dir, ENV), 'utf8').replace(/^REDIS_PASSWORD=.*$/m, 'REDIS_PASSWORD= # later'),
    );
    const r = run(dir, 'node_modules/.bin/tsx', ['infra/cli/local.ts', 'secrets']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('generated the empty REDIS_PASSWORD');
    const secret = parseAllDocuments(readFileSync(join(dir, '.secrets/prism-secrets.yaml'), 'utf8'))[1]!.toJS() as {
      data: Record<string, string>;
    };
    const env = parseDotenv(readFileSync(join(dir, ENV), 'utf8'));
    expect(Buffer.from(secret.data['redis-password']!, 'base64').toString()).toBe(env.get('REDIS_PASSWORD'));
    expect(env.get('REDIS_PASSWORD')).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('refuses to build the Secret from a .env without a generated password, naming it', () => {
    // Every PostgreSQL role's password set, Redis's missing.
    const dotenv = SECRET_KEYS.filter((k) => k.key.startsWith('postgres-'))
      .map((k) => `${k.dotenv}=a\n`)
      .join('');
    expect(() => localSecretManifest({ dotenv, envPath: ENV, readFile: () => 'pem' })).toThrow(
      /deploy\/docker-compose\/.env: REDIS_PASSWORD is empty or missing/,
    );
  });
});

describe('no secret value outside the git-ignored files', () => {
  it('after set-up, render and local-secrets, no generated value is in any file git would commit', () => {
    const dir = tempCheckout();
    expect(run(dir, 'bash', ['scripts/dev-setup.sh', '--local-only']).status).toBe(0);
    expect(run(dir, 'node_modules/.bin/tsx', ['infra/cli/local.ts', 'secrets']).status).toBe(0);
    expect(run(dir, 'node_modules/.bin/tsx', ['infra/cli/render-local.ts']).status).toBe(0);
    execFileSync('git', ['init', '-q'], { cwd: dir });
    const env = parseDotenv(readFileSync(join(dir, ENV), 'utf8'));
    const values = [...GENERATED].map((k) => env.get(k)!);
    // A line from the middle of each key's base64 body.
    const pemLines = ['keys/private.pem', 'keys/public.pem'].map(
      (f) => readFileSync(join(dir, f), 'utf8').split('\n')[3]!,
    );
    const needles = [...values, ...pemLines, ...values.map((v) => Buffer.from(v).toString('base64'))];
    const candidates = execFileSync('git', ['ls-files', '-co', '--exclude-standard'], { cwd: dir, encoding: 'utf8' })
      .split('\n')
      .filter(Boolean);
    expect(candidates).toContain('deploy/docker-compose/docker-compose.yml');
    for (const f of [ENV, 'keys/private.pem', 'keys/public.pem', '.secrets/prism-secrets.yaml'])
      expect(candidates).not.toContain(f);
    const leaks: string[] = [];
    for (const f of candidates) {
      if (f.startsWith('node_modules')) continue;
      const text = readFileSync(join(dir, f), 'utf8');
      for (const n of needles) if (text.includes(n)) leaks.push(f);
    }
    expect(leaks).toEqual([]);
    // Positive control: the ignored files do hold them.
    expect(readFileSync(join(dir, '.secrets/prism-secrets.yaml'), 'utf8')).toContain(
      Buffer.from(values[0]!).toString('base64'),
    );
  });
});

describe('Makefile', () => {
  const GUIDE_TARGETS = [
    'dev-setup',
    'generate-keys',
    'docker-infra-up',
    'docker-infra-down',
    'docker-obs-up',
    'docker-obs-down',
    'docker-up',
    'docker-down',
    'docker-full-up',
    'docker-full-down',
    'docker-logs',
    'docker-clean',
    'backup-all',
    'backup-auth',
    'backup-ops',
    'backup-list',
  ];
  const dry = (...args: string[]) => run('.', 'make', ['--no-print-directory', '-n', ...args]);

  it('has every target the guide names', () => {
    const help = run('.', 'make', ['--no-print-directory', 'help']).stdout;
    for (const t of GUIDE_TARGETS) expect(help, t).toMatch(new RegExp(`^  ${t} `, 'm'));
  });

  it('drives compose with the guide files, one project, and the model service lists', () => {
    const up = dry('docker-up').stdout;
    expect(up).toContain(
      'docker compose --project-name prism --project-directory deploy/docker-compose --env-file deploy/docker-compose/.env -f deploy/docker-compose/docker-compose.infra.yml up -d --wait',
    );
    expect(up).toMatch(
      /-f deploy\/docker-compose\/docker-compose\.yml -f deploy\/docker-compose\/docker-compose\.infra\.yml up -d --build --wait --wait-timeout 300 gateway auth config dbmanager/,
    );
    expect(up).toContain('run --rm $task');
    expect(dry('docker-logs', 'service=gateway').stdout).toMatch(
      /-f deploy\/traefik\/docker-compose\.traefik\.yml logs -f gateway/,
    );
    expect(dry('docker-clean').stdout).toContain('down --volumes --remove-orphans');
    expect(dry('docker-migrate').stdout).toContain('run --rm --build db-migrate');
  });

  it('`make` lists every target under its group, the local platform included', () => {
    const help = run('.', 'make', ['--no-print-directory']);
    expect(help.status).toBe(0);
    const groups = [...help.stdout.matchAll(/^(\S.*):$/gm)].map((m) => m[1]!.split(/[ :]/)[0]);
    expect(groups).toEqual(['help', 'set-up', 'the', 'Docker', 'backups']);
    const local = help.stdout.slice(help.stdout.indexOf('the local platform'), help.stdout.indexOf('Docker Compose:'));
    for (const t of ['local-up', 'local-status', 'local-logs', 'local-down'])
      expect(local, t).toMatch(new RegExp(`^  ${t} `, 'm'));
    // Every target with a description in the Makefile is listed.
    const described = [...readFileSync('Makefile', 'utf8').matchAll(/^([a-z-]+):.*## /gm)].map((m) => m[1]!);
    for (const t of described) expect(help.stdout, t).toMatch(new RegExp(`^  ${t} `, 'm'));
    expect(dry('local-up', 'ARGS=--gateways 2').stdout).toContain('npm run --silent local:up -- --gateways 2');
  });

  it('make dev-setup without Docker points to the local platform', () => {
    const dir = tempCheckout();
    const r = run(dir, 'bash', ['scripts/dev-setup.sh'], { PATH: pathWith([...BASIC, 'node', 'npm']) });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(
      'Without Docker, the whole platform runs as local processes: make local-up (npm run local:up',
    );
    expect(r.stderr).toContain('PRISM_BACKUP_MODE=local');
  });

  it('backups pick Compose only when a Docker engine answers, not merely when the Compose plugin exists', () => {
    // The real docker CLI with a Compose plugin that answers `docker compose version`, and no engine behind it.
    const docker = spawnSync('sh', ['-c', 'command -v docker'], { encoding: 'utf8' }).stdout.trim();
    if (!docker) return; // a machine without the docker CLI takes the local path anyway
    const dir = tempCheckout();
    const plugins = join(dir, '.docker/cli-plugins');
    mkdirSync(plugins, { recursive: true });
    writeFileSync(
      join(plugins, 'docker-compose'),
      '#!/bin/sh\ncase "$1" in docker-cli-plugin-metadata) echo \'{"SchemaVersion":"0.1.0","Vendor":"test","Version":"v2.30.0"}\' ;; *) echo "Docker Compose version v2.30.0" ;; esac\n',
      { mode: 0o755 },
    );
    const env = {
      DOCKER_CONFIG: join(dir, '.docker'),
      DOCKER_HOST: 'unix:///nonexistent/docker.sock',
      PRISM_LOCAL_DIR: join(dir, 'no-platform'),
    };
    expect(run(dir, 'docker', ['compose', 'version'], env).status).toBe(0);
    expect(run(dir, 'docker', ['info'], env).status).not.toBe(0);
    const r = run(dir, 'bash', ['deploy/backup/backup.sh', 'list'], env);
    expect(r.stderr).toContain('dbmanager-cli: PRISM_BACKUP_MODE=local (not set; no Docker engine answers)');
    expect(r.stderr).toContain(
      `dbmanager-cli: no local platform in ${join(dir, 'no-platform')} (start it: npm run local:up)`,
    );
    expect(r.stderr).not.toMatch(/docker compose|Cannot connect to the Docker daemon/i);
    expect(r.status).toBe(1);
  });

  it('calls the backup scripts as the guide documents them', () => {
    expect(dry('backup-all').stdout.trim().split('\n')).toEqual([
      './deploy/backup/backup.sh auth full',
      './deploy/backup/backup.sh ops full',
    ]);
    expect(dry('backup-list').stdout.trim()).toBe('./deploy/backup/backup.sh list');
  });
});
