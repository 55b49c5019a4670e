import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SERVICE_ENTRY } from '../../infra/contract/index.js';
import { IMAGE_ENTRYPOINT, checkImage as check, checkPgPrograms, pinnedTini } from '../../scripts/check-image.mjs';
import { PG_PROGRAMS } from '#services/dbmanager/src/backup/pg-programs';
import { entryPackageJson, reachedPackages } from '../../scripts/service-deps.mjs';

/** A root filesystem laid out as an image's: files by path. */
function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'prism-image-'));
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), content);
  }
  return root;
}
const pkg = (name: string, deps: Record<string, string> = {}, extra: object = {}) =>
  JSON.stringify({ name, version: '1.0.0', dependencies: deps, ...extra });
const TINI = pinnedTini();
const ENTRY = SERVICE_ENTRY.gateway[1]!;
const checkImage = (service: string, root: string, config?: unknown, cmd?: string[]) =>
  check(service, root, config, { tiniVersion: TINI, entry: ENTRY, cmd });
const dpkg = (tini?: string) =>
  `Package: libc6\nStatus: install ok installed\nVersion: 2.36-9\n${tini ? `\nPackage: tini\nStatus: install ok installed\nVersion: ${tini}\n` : ''}`;

// What the gateway's image holds when it is right: its code, the shared runtime, the packages they reach.
const clean = {
  'var/lib/dpkg/status': dpkg(TINI),
  'usr/local/bin/node': 'ELF',
  'app/package.json': JSON.stringify({ type: 'module', main: ENTRY }),
  'app/build/services/gateway/src/main.js': `import Fastify from 'fastify';\nimport { x } from '../../runtime/src/index.js';\nimport { y } from '#contract';\nconst later = await import('undici');`,
  'app/build/services/runtime/src/index.js': `import pino from 'pino';\nexport const x = 1;`,
  'app/node_modules/fastify/package.json': pkg('fastify', { avvio: '^9' }),
  'app/node_modules/avvio/package.json': pkg('avvio'),
  // A nested copy in another version, reached through its parent.
  'app/node_modules/pino/package.json': pkg(
    'pino',
    { 'sonic-boom': '^4' },
    { optionalDependencies: { 'not-installed': '1' } },
  ),
  'app/node_modules/pino/node_modules/sonic-boom/package.json': pkg('sonic-boom'),
  'app/node_modules/undici/package.json': pkg('undici'),
};

describe('the image check (an image root filesystem, as buildah mount or podman export gives it)', () => {
  it('passes an image that carries only its service', () => {
    expect(checkImage('gateway', tree(clean))).toEqual([]);
  });

  it('finds npm, npx, corepack, yarn, C headers, another service, unused packages, maps without sources and an unpinned tini', () => {
    const root = tree({
      ...clean,
      'var/lib/dpkg/status': dpkg('0.19.0-1'),
      'usr/local/bin/npm': '',
      'usr/local/bin/npx': '',
      'usr/local/bin/corepack': '',
      'usr/local/lib/node_modules/npm/package.json': pkg('npm'),
      'usr/local/include/node/v8.h': '',
      'opt/yarn-v1.22.22/bin/yarn': '',
      'app/build/services/auth/src/main.js': `import pg from 'pg';`,
      'app/build/services/gateway/src/main.js.map': JSON.stringify({
        version: 3,
        sources: ['../../../../services/gateway/src/main.ts'],
        mappings: '',
      }),
      'app/node_modules/@aws-sdk/client-s3/package.json': pkg('@aws-sdk/client-s3'),
      'app/node_modules/@node-rs/argon2/package.json': pkg('@node-rs/argon2'),
    });
    const found = checkImage('gateway', root).join('\n');
    for (const f of [
      'usr/local/bin/npm',
      'usr/local/bin/npx',
      'usr/local/bin/corepack',
      'usr/local/lib/node_modules/npm',
      'usr/local/include/node',
    ])
      expect(found).toContain(`${f}: a package manager`);
    expect(found).toContain('usr/local/include: 1 C header(s)');
    expect(found).toContain('opt/yarn-v1.22.22: yarn');
    expect(found).toContain("app/build/services/auth: another service's code");
    expect(found).toContain('app/build/services/gateway/src/main.js.map: a source map without its sources');
    expect(found).toContain("app/node_modules/@aws-sdk/client-s3: a package gateway's code does not use");
    expect(found).toContain("app/node_modules/@node-rs/argon2: a package gateway's code does not use");
    expect(found).toContain(`tini: version 0.19.0-1, pinned ${TINI}`);
    // pg is imported by the auth code that should not be there, and not installed: not a package finding.
    expect(found).not.toContain('fastify');
  });

  it("finds a package.json that starts another file than the contract's entry, an entry file that is missing, the repository's lock file", () => {
    expect(
      checkImage(
        'gateway',
        tree({
          ...clean,
          'app/package.json': JSON.stringify({ type: 'module', main: 'build/services/auth/src/main.js' }),
        }),
      ),
    ).toEqual([`app/package.json: main "build/services/auth/src/main.js", the contract's entry is ${ENTRY}`]);
    const noMain = { ...clean } as Record<string, string>;
    delete noMain['app/build/services/gateway/src/main.js'];
    expect(
      checkImage(
        'gateway',
        tree({ ...noMain, 'app/build/services/gateway/src/other.js': clean['app/build/services/gateway/src/main.js'] }),
      ),
    ).toEqual([`app/${ENTRY}: the entry file is missing`]);
    expect(checkImage('gateway', tree({ ...clean, 'app/package-lock.json': '{}' }))).toEqual([
      'app/package-lock.json: the lock file of the whole repository',
    ]);
  });

  it('finds what a postgres base image leaves in the config: VOLUME, STOPSIGNAL SIGINT, EXPOSE 5432, PGDATA, another entrypoint', () => {
    const config = {
      config: {
        Entrypoint: ['docker-entrypoint.sh'],
        Volumes: { '/var/lib/postgresql/data': {} },
        StopSignal: 'SIGINT',
        ExposedPorts: { '5432/tcp': {}, '50053/tcp': {} },
        Env: ['PATH=/usr/bin', 'PGDATA=/var/lib/postgresql/data'],
      },
    };
    const found = checkImage('gateway', tree(clean), config).join('\n');
    expect(found).toContain(`entrypoint ["docker-entrypoint.sh"]: not ${JSON.stringify(IMAGE_ENTRYPOINT)}`);
    expect(found).toContain('VOLUME /var/lib/postgresql/data');
    expect(found).toContain('STOPSIGNAL SIGINT');
    expect(found).toContain('EXPOSE 5432');
    expect(found).toContain('ENV PGDATA=/var/lib/postgresql/data');
    const good = { Entrypoint: IMAGE_ENTRYPOINT, User: '10001:10001', Env: ['NODE_ENV=production'] };
    // podman image inspect's object (Config), as scripts/image-test.sh passes it.
    expect(checkImage('gateway', tree(clean), { Config: good })).toEqual([]);
    expect(
      checkImage(
        'dbmanager',
        tree({ ...clean, 'app/build/services/dbmanager/src/cli.js': '' }),
        { Config: { ...good, Cmd: ['serve'] } },
        ['serve'],
      ),
    ).toContain("app/build/services/gateway: another service's code");
    expect(checkImage('gateway', tree(clean), { Config: { ...good, Cmd: ['node', 'x.js'], User: 'root' } })).toEqual([
      'CMD ["node","x.js"]: expected []',
      'USER "root": not 10001:10001',
    ]);
    expect(checkImage('gateway', tree(clean), { Config: { ...good, Entrypoint: ['/usr/bin/tini', '--'] } })).toEqual([
      `entrypoint ["/usr/bin/tini","--"]: not ${JSON.stringify(IMAGE_ENTRYPOINT)}`,
    ]);
  });

  it("finds a PostgreSQL program of the DB manager's list missing or not executable (the images lacked pg_waldump)", () => {
    const bin = 'usr/lib/postgresql/16/bin';
    const programs = (names: readonly string[]) => {
      const root = tree(Object.fromEntries(names.map((p) => [`${bin}/${p}`, 'ELF'])));
      for (const p of names) execFileSync('chmod', ['0755', join(root, bin, p)]);
      return root;
    };
    expect(checkPgPrograms(programs(PG_PROGRAMS), PG_PROGRAMS)).toEqual([]);
    // The six programs the image carried: pg_verifybackup, which runs pg_waldump, is there, pg_waldump is not.
    const six = programs(PG_PROGRAMS.filter((p) => p !== 'pg_waldump'));
    expect(checkPgPrograms(six, PG_PROGRAMS)).toEqual([`${bin}/pg_waldump: missing (the DB manager runs it)`]);
    const root = programs(PG_PROGRAMS);
    execFileSync('chmod', ['0644', join(root, bin, 'postgres')]);
    expect(checkPgPrograms(root, PG_PROGRAMS)).toEqual([`${bin}/postgres: not executable (the DB manager runs it)`]);
    expect(checkPgPrograms(tree(clean), PG_PROGRAMS)).toEqual([
      'usr/lib/postgresql: 0 bin directories, expected one: ',
    ]);
  });

  it('the prune step of the image build keeps exactly what the code reaches', () => {
    const withSources = JSON.stringify({
      version: 3,
      sources: ['../src/index.ts'],
      sourcesContent: ['export {}'],
      mappings: '',
    });
    const root = tree({
      ...clean,
      'app/node_modules/pg/package.json': pkg('pg', { 'pg-types': '1' }),
      'app/node_modules/pg-types/package.json': pkg('pg-types'),
      'app/node_modules/fastify/fastify.d.ts': 'x'.repeat(1_000_000),
      'app/node_modules/undici/index.js.map': JSON.stringify({
        version: 3,
        sources: ['../src/index.ts'],
        mappings: '',
      }),
      'app/node_modules/pino/pino.js.map': withSources,
    });
    const app = join(root, 'app');
    expect(checkImage('gateway', root)).toContain(
      'app/node_modules/undici/index.js.map: a source map without its sources',
    );
    const out = execFileSync(process.execPath, ['scripts/service-deps.mjs', 'prune', app, join(app, 'build')], {
      encoding: 'utf8',
    });
    expect(out).toBe('kept 5 packages, removed 2; 1.0 MB of type declarations and source maps without sources\n');
    expect(existsSync(join(app, 'node_modules/pg'))).toBe(false);
    expect(existsSync(join(app, 'node_modules/pino/node_modules/sonic-boom/package.json'))).toBe(true);
    expect(existsSync(join(app, 'node_modules/fastify/fastify.d.ts'))).toBe(false);
    expect(existsSync(join(app, 'node_modules/undici/index.js.map'))).toBe(false);
    expect(existsSync(join(app, 'node_modules/pino/pino.js.map'))).toBe(true);
    expect(checkImage('gateway', root)).toEqual([]);
  });

  it("writes the image's package.json: main is the contract's entry file, taken from the compiled contract", async () => {
    const contract = `export const SERVICE_ENTRY = ${JSON.stringify(SERVICE_ENTRY)};`;
    const root = tree({
      ...clean,
      'app/package.json': JSON.stringify({
        name: 'prism',
        version: '0.1.0',
        scripts: { test: 'x' },
        dependencies: { pg: '1' },
      }),
      'app/build/infra/contract/commands.js': contract,
    });
    expect(await entryPackageJson(join(root, 'app'), 'gateway')).toEqual({
      name: 'prism-gateway',
      version: '0.1.0',
      private: true,
      type: 'module',
      main: ENTRY,
    });
    // The repository's "imports" subpaths name the compiled files in the image.
    const repo = JSON.parse(readFileSync('package.json', 'utf8')) as { imports: Record<string, string> };
    writeFileSync(
      join(root, 'app/package.json'),
      JSON.stringify({ name: 'prism', version: '0.1.0', imports: repo.imports }),
    );
    const withImports = await entryPackageJson(join(root, 'app'), 'gateway');
    expect(withImports.imports?.['#contract']).toBe('./build/infra/contract/index.js');
    expect(withImports.imports?.['#runtime/proto/*']).toBe('./build/services/runtime/src/proto/*.js');
    await expect(entryPackageJson(join(root, 'app'), 'auth')).rejects.toThrow(
      `auth: the entry file ${SERVICE_ENTRY.auth[1]} is not in`,
    );
    await expect(entryPackageJson(join(root, 'app'), 'nope')).rejects.toThrow(
      'nope: not a service of the contract (gateway, auth, config, dbmanager)',
    );
    execFileSync(process.execPath, ['scripts/service-deps.mjs', 'entry', join(root, 'app'), 'gateway']);
    expect(checkImage('gateway', root)).toEqual([]);
  });

  it('refuses to prune when the code imports a package that is not installed', () => {
    const root = tree({ ...clean, 'app/build/services/gateway/src/extra.js': `const { Redis } = require('ioredis');` });
    expect(reachedPackages(join(root, 'app'), join(root, 'app/build')).missing).toEqual(['ioredis']);
    expect(() =>
      execFileSync(
        process.execPath,
        ['scripts/service-deps.mjs', 'prune', join(root, 'app'), join(root, 'app/build')],
        { stdio: 'pipe' },
      ),
    ).toThrow(/imported but not installed: ioredis/);
  });
  it("the command line loads on Node's type stripping, as the image test runs it: an empty root gives findings, exit 1", () => {
    // The DB manager's check imports its code's program list; before, that pulled in the service runtime, whose
    // parameter properties type stripping refuses (ERR_UNSUPPORTED_TYPESCRIPT_SYNTAX; CI's image test failed so).
    const root = mkdtempSync(join(tmpdir(), 'prism-check-cli-'));
    let out = '';
    try {
      execFileSync(process.execPath, ['scripts/check-image.mjs', 'dbmanager', root], { stdio: 'pipe' });
    } catch (e) {
      const err = e as { status: number; stdout: Buffer; stderr: Buffer };
      expect(err.stderr.toString()).not.toMatch(/SyntaxError|ERR_/);
      expect(err.status).toBe(1);
      out = err.stdout.toString() + err.stderr.toString();
    }
    expect(out).toMatch(/usr\/lib\/postgresql: 0 bin directories/);
  });
});
