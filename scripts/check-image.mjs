#!/usr/bin/env node
// Checks what a built service image carries, on its root filesystem (`podman image mount <image>`, or a
// directory from `podman export`): only the service and what it needs. scripts/image-test.sh runs it on
// the four images it builds.
//   node scripts/check-image.mjs <service> <root filesystem> [image config JSON] [--run '<engine run ...>' <image>]
// Exit 1 with one line per finding; 0 when the image is clean. The config JSON (`podman image inspect`'s
// object, `buildah inspect --type image`, or the OCI config) adds the checks of what the image declares.
// For the DB manager, every program of its code's PG_PROGRAMS must be in the image; with --run, each is also
// run (`--version`) in a container of the image, so a program whose libraries are missing is found.
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { mapWithoutSources, unreachedPackages } from './service-deps.mjs';

/** The tini version services/Dockerfile pins (its `ARG TINI_VERSION=` default). */
export function pinnedTini(dockerfile = new URL('../services/Dockerfile', import.meta.url)) {
  const m = /^ARG TINI_VERSION=(\S+)$/m.exec(readFileSync(dockerfile, 'utf8'));
  if (!m) throw new Error('services/Dockerfile pins no TINI_VERSION');
  return m[1];
}

/** What every service image runs: tini, then node on the application directory (its package.json main). */
export const IMAGE_ENTRYPOINT = ['/usr/bin/tini', '--', 'node', '/app'];

/** Package managers and headers the Node image brings and no service runs. */
const TOOLS = [
  'usr/local/bin/npm',
  'usr/local/bin/npx',
  'usr/local/bin/corepack',
  'usr/local/bin/yarn',
  'usr/local/bin/yarnpkg',
  'usr/local/lib/node_modules/npm',
  'usr/local/lib/node_modules/corepack',
  'usr/local/include/node',
];

function* walk(dir) {
  if (!existsSync(dir)) return;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* walk(p);
    else yield p;
  }
}

/** The version of a Debian package from dpkg's status file, or undefined when not installed. */
function dpkgVersion(root, name) {
  const status = join(root, 'var/lib/dpkg/status');
  if (!existsSync(status)) return undefined;
  for (const block of readFileSync(status, 'utf8').split('\n\n')) {
    if (new RegExp(`^Package: ${name}$`, 'm').test(block) && /^Status: install ok installed$/m.test(block))
      return /^Version: (.+)$/m.exec(block)?.[1];
  }
  return undefined;
}

/**
 * The findings on an image's root filesystem `root` (and its config, when given). `o.entry` is the file the
 * contract says the service runs (SERVICE_ENTRY, `build/...`): /app/package.json must start it.
 */
export function checkImage(service, root, config, o) {
  const found = [];
  for (const t of TOOLS)
    if (existsSync(join(root, t))) found.push(`${t}: a package manager or build file the service does not run`);
  for (const dir of ['usr/local/include', 'usr/include']) {
    const headers = [...walk(join(root, dir))].filter((f) => f.endsWith('.h'));
    if (headers.length) found.push(`${dir}: ${headers.length} C header(s)`);
  }
  if (existsSync(join(root, 'opt')))
    for (const e of readdirSync(join(root, 'opt'))) if (e.startsWith('yarn')) found.push(`opt/${e}: yarn`);
  const app = join(root, 'app');
  const build = join(app, 'build');
  if (!existsSync(join(build, 'services', service)))
    found.push(`app/build/services/${service}: the service's code is missing`);
  for (const other of existsSync(join(build, 'services')) ? readdirSync(join(build, 'services')) : []) {
    if (other !== service && other !== 'runtime') found.push(`app/build/services/${other}: another service's code`);
  }
  // A source map is only useful with the sources it names: the service's and its packages'.
  for (const f of walk(app))
    if (f.endsWith('.map') && mapWithoutSources(f))
      found.push(`${f.slice(root.length + 1)}: a source map without its sources`);
  if (existsSync(join(app, 'node_modules'))) {
    for (const d of unreachedPackages(app, build))
      found.push(`${d.slice(root.length + 1)}: a package ${service}'s code does not use`);
  }
  const pkgFile = join(app, 'package.json');
  const main = existsSync(pkgFile) ? JSON.parse(readFileSync(pkgFile, 'utf8')).main : undefined;
  if (main !== o.entry)
    found.push(`app/package.json: main ${JSON.stringify(main)}, the contract's entry is ${o.entry}`);
  else if (!existsSync(join(app, main))) found.push(`app/${main}: the entry file is missing`);
  if (existsSync(join(root, 'app/package-lock.json')))
    found.push('app/package-lock.json: the lock file of the whole repository');
  const tini = dpkgVersion(root, 'tini');
  if (tini === undefined) found.push('tini: not installed');
  else if (tini !== o.tiniVersion) found.push(`tini: version ${tini}, pinned ${o.tiniVersion}`);
  if (config) {
    const c = config.config ?? config.Config ?? config.OCIv1?.config ?? {};
    const entry = c.Entrypoint ?? c.entrypoint ?? [];
    if (JSON.stringify(entry) !== JSON.stringify(IMAGE_ENTRYPOINT))
      found.push(`entrypoint ${JSON.stringify(entry)}: not ${JSON.stringify(IMAGE_ENTRYPOINT)}`);
    const cmd = c.Cmd ?? c.cmd ?? [];
    if (JSON.stringify(cmd) !== JSON.stringify(o.cmd ?? []))
      found.push(`CMD ${JSON.stringify(cmd)}: expected ${JSON.stringify(o.cmd ?? [])}`);
    const user = c.User ?? c.user;
    if (user !== '10001:10001') found.push(`USER ${JSON.stringify(user)}: not 10001:10001`);
    const volumes = Object.keys(c.Volumes ?? c.volumes ?? {});
    if (volumes.length) found.push(`VOLUME ${volumes.join(' ')}: an anonymous volume at every start`);
    const stop = c.StopSignal ?? c.stopSignal;
    if (stop && stop !== 'SIGTERM') found.push(`STOPSIGNAL ${stop}: the service drains on SIGTERM`);
    for (const e of c.Env ?? c.env ?? [])
      if (/^PGDATA=/.test(e)) found.push(`ENV ${e}: inherited from the postgres image`);
    if ('5432/tcp' in (c.ExposedPorts ?? c.exposedPorts ?? {}))
      found.push('EXPOSE 5432: inherited from the postgres image');
  }
  return found;
}

/** The image's PostgreSQL bin directories (/usr/lib/postgresql/<major>/bin), relative to the root. */
function pgBinDirs(root) {
  const base = join(root, 'usr/lib/postgresql');
  if (!existsSync(base)) return [];
  return readdirSync(base)
    .filter((d) => /^\d+$/.test(d) && existsSync(join(base, d, 'bin')))
    .map((d) => `usr/lib/postgresql/${d}/bin`);
}

/** The findings on the DB manager's PostgreSQL programs: one bin directory holding every one, executable. */
export function checkPgPrograms(root, programs) {
  const dirs = pgBinDirs(root);
  if (dirs.length !== 1) return [`usr/lib/postgresql: ${dirs.length} bin directories, expected one: ${dirs.join(' ')}`];
  const found = [];
  for (const p of programs) {
    const f = join(root, dirs[0], p);
    try {
      accessSync(f, constants.X_OK);
    } catch {
      found.push(`${dirs[0]}/${p}: ${existsSync(f) ? 'not executable' : 'missing'} (the DB manager runs it)`);
    }
  }
  return found;
}

/**
 * Runs each program with --version in a container of the image (`run` is the engine's command up to the image,
 * e.g. ['podman', '--runtime', 'runc', 'run', '--rm', '--read-only']): the findings of those that do not run.
 */
function runPgPrograms(run, image, binDir, programs) {
  const found = [];
  for (const p of programs) {
    const r = spawnSync(run[0], [...run.slice(1), '--entrypoint', `/${binDir}/${p}`, image, '--version'], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    const out = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim();
    if (r.status !== 0 || !/\(PostgreSQL\) \d+/.test(out))
      found.push(
        `/${binDir}/${p} --version in the image: exit ${r.status ?? r.signal}: ${out.split('\n').slice(-2).join(' | ')}`,
      );
  }
  return found;
}

/** Bytes of regular files under the root (what the image's layers hold, before compression). */
export function treeBytes(root) {
  let n = 0;
  for (const f of walk(root)) {
    const s = statSync(f, { throwIfNoEntry: false });
    if (s?.isFile()) n += s.size;
  }
  return n;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const at = args.indexOf('--run');
  const [run, image] = at < 0 ? [] : [args[at + 1]?.split(/\s+/).filter(Boolean), args[at + 2]];
  const [service, root, configFile] = at < 0 ? args : args.slice(0, at);
  if (!service || !root || (at >= 0 && (!run?.length || !image))) {
    process.stderr.write(
      "usage: check-image.mjs <service> <root filesystem> [image config JSON] [--run '<engine run ...>' <image>]\n",
    );
    process.exit(2);
  }
  // The repository's contract: the file the service runs and the DB manager's default command; its code's programs.
  await import('../infra/cli/ts-loader.mjs');
  const { SERVICE_ENTRY, DBMANAGER_CLI } = await import('../infra/contract/index.ts');
  if (!SERVICE_ENTRY[service]) {
    process.stderr.write(`check-image: ${service} is not a service of the contract\n`);
    process.exit(2);
  }
  const o = {
    tiniVersion: pinnedTini(),
    entry: SERVICE_ENTRY[service][1],
    cmd: service === 'dbmanager' ? [...DBMANAGER_CLI.serve] : [],
  };
  const found = checkImage(service, root, configFile ? JSON.parse(readFileSync(configFile, 'utf8')) : undefined, o);
  if (service === 'dbmanager') {
    const { PG_PROGRAMS } = await import('../services/dbmanager/src/backup/pg-programs.ts');
    const pg = checkPgPrograms(root, PG_PROGRAMS);
    found.push(...pg);
    if (run && !pg.length) {
      found.push(...runPgPrograms(run, image, pgBinDirs(root)[0], PG_PROGRAMS));
      if (!found.length) process.stdout.write(`dbmanager: ${PG_PROGRAMS.join(', ')} run in ${image}\n`);
    }
  }
  for (const f of found) process.stdout.write(`${f}\n`);
  process.stdout.write(`${service}: ${found.length} finding(s), ${(treeBytes(root) / 1e6).toFixed(1)} MB of files\n`);
  process.exit(found.length ? 1 : 0);
}
