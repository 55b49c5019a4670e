#!/usr/bin/env node
// The application directory of one service's image: the npm packages it needs at run time (the bare
// imports of its compiled code, closed over the dependencies of those packages as installed) and the
// file it starts. Plain JavaScript so the image build (services/Dockerfile) runs it with node alone.
//   node scripts/service-deps.mjs prune <app dir> <code dir>   delete every package <code dir> does not reach, and
//                                                             the kept ones' type declarations and source maps without sources
//   node scripts/service-deps.mjs list <app dir> <code dir>    print the packages it reaches
//   node scripts/service-deps.mjs entry <app dir> <service>    make <app dir>/package.json start the service:
//                                                             main is the contract's SERVICE_ENTRY file, and the
//                                                             "imports" subpaths (#contract, ...) name build/ files
// Why a regex scan and not a file tracer (@vercel/nft), measured 2026-12-06 on the compiled services: nft keeps
// fewer packages (gateway 62 against 76, auth 107/121, config 61/77, dbmanager 90/124: the regex closure also
// keeps declared dependencies no code loads, such as the yargs tree of @grpc/proto-loader's CLI and
// @opentelemetry/sdk-logs), but it takes 12-25 s per service against milliseconds, needs the devDependencies
// (so it would run in the Dockerfile's build stage and hand a list to the app stage), and a package reached
// only through a require it cannot follow is dropped silently and fails at run time, which only the image test
// (buildah) would show. The few MB saved do not pay for that yet; switch with the image test as the gate.
import { existsSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';

const BUILTIN = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));
const IMPORT =
  /(?:\bimport\s*(?:[^'"()]*?\sfrom\s*)?|\bexport\s+[^'"()]*?\sfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*)['"]([^'"]+)['"]/g;

/** `@scope/name/sub` and `name/sub` to the package name; undefined for relative, `#` subpath and built-in specifiers. */
export function packageOf(specifier) {
  if (
    specifier.startsWith('.') ||
    specifier.startsWith('/') ||
    specifier.startsWith('#') ||
    BUILTIN.has(specifier) ||
    specifier.startsWith('node:')
  )
    return undefined;
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

function* files(dir, ext) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* files(p, ext);
    else if (ext.some((x) => e.name.endsWith(x))) yield p;
  }
}

/** The packages the code under `codeDir` imports by name. */
export function importedPackages(codeDir) {
  const found = new Set();
  for (const f of files(codeDir, ['.js', '.mjs', '.cjs'])) {
    for (const m of readFileSync(f, 'utf8').matchAll(IMPORT)) {
      const pkg = packageOf(m[1]);
      if (pkg) found.add(pkg);
    }
  }
  return found;
}

/** Every installed package directory under `nodeModules` (nested ones too), by path. */
export function installedPackages(nodeModules) {
  const out = [];
  if (!existsSync(nodeModules)) return out;
  for (const e of readdirSync(nodeModules, { withFileTypes: true })) {
    if (!e.isDirectory() || e.name.startsWith('.')) continue;
    const dirs = e.name.startsWith('@')
      ? readdirSync(join(nodeModules, e.name)).map((n) => join(nodeModules, e.name, n))
      : [join(nodeModules, e.name)];
    for (const d of dirs) {
      if (!existsSync(join(d, 'package.json'))) continue;
      out.push(d);
      out.push(...installedPackages(join(d, 'node_modules')));
    }
  }
  return out;
}

/** Node's lookup: `name` from inside `fromDir`, walking up the node_modules folders to `root`. */
function resolvePackage(name, fromDir, root) {
  for (let dir = fromDir; ;) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dir === root || relative(root, dir).startsWith('..')) return undefined;
    const up = join(dir, '..');
    dir = up.endsWith('node_modules') ? join(up, '..') : up;
  }
}

/**
 * The package directories the code reaches: its imports resolved from `appDir`, then each package's
 * dependencies and optional and peer dependencies resolved from the package itself.
 */
export function reachedPackages(appDir, codeDir) {
  const reached = new Set();
  const missing = [];
  const queue = [...importedPackages(codeDir)].map((name) => ({ name, from: appDir, optional: false }));
  while (queue.length) {
    const { name, from, optional } = queue.shift();
    const dir = resolvePackage(name, from, appDir);
    if (!dir) {
      if (!optional) missing.push(name);
      continue;
    }
    if (reached.has(dir)) continue;
    reached.add(dir);
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    for (const d of Object.keys(pkg.dependencies ?? {})) queue.push({ name: d, from: dir, optional: false });
    for (const d of [...Object.keys(pkg.optionalDependencies ?? {}), ...Object.keys(pkg.peerDependencies ?? {})])
      queue.push({ name: d, from: dir, optional: true });
  }
  return { reached, missing };
}

/** A source map that does not carry the sources it maps (useless without them, which no image has). */
export function mapWithoutSources(file) {
  try {
    const map = JSON.parse(readFileSync(file, 'utf8'));
    return (
      !Array.isArray(map.sourcesContent) || map.sourcesContent.length === 0 || map.sourcesContent.some((c) => c == null)
    );
  } catch {
    return true;
  }
}

/**
 * Files of the kept packages that nothing runs: type declarations, and source maps without their sources
 * (node runs without --enable-source-maps, and the sources they name are not published). Returns the bytes removed.
 */
export function trimPackages(nodeModules) {
  let bytes = 0;
  if (!existsSync(nodeModules)) return bytes;
  for (const f of files(nodeModules, ['.d.ts', '.d.mts', '.d.cts', '.map'])) {
    if (f.endsWith('.map') && !mapWithoutSources(f)) continue;
    bytes += statSync(f).size;
    rmSync(f);
  }
  return bytes;
}

/** Installed packages the code does not reach. */
export function unreachedPackages(appDir, codeDir) {
  const { reached } = reachedPackages(appDir, codeDir);
  return installedPackages(join(appDir, 'node_modules')).filter((d) => !reached.has(d));
}

/**
 * The package.json of a service's image: ESM, and `main` the file the contract's SERVICE_ENTRY runs (read
 * from the compiled contract under `appDir`), so `node <appDir>` starts the service. Nothing else of the
 * repository's package.json (scripts, dependency lists) goes into the image; its "imports" subpaths do,
 * naming the compiled files (see compiledImports).
 */
export async function entryPackageJson(appDir, service) {
  const { SERVICE_ENTRY } = await import(pathToFileURL(join(appDir, 'build/infra/contract/commands.js')).href);
  const entry = SERVICE_ENTRY[service];
  if (!entry) throw new Error(`${service}: not a service of the contract (${Object.keys(SERVICE_ENTRY).join(', ')})`);
  const [program, file, ...rest] = entry;
  if (program !== 'node' || !file || rest.length)
    throw new Error(`${service}: SERVICE_ENTRY ${JSON.stringify(entry)} is not node <file>`);
  if (!existsSync(join(appDir, file))) throw new Error(`${service}: the entry file ${file} is not in ${appDir}`);
  const { name, version, imports } = JSON.parse(readFileSync(join(appDir, 'package.json'), 'utf8'));
  return {
    name: `${name}-${service}`,
    version,
    private: true,
    type: 'module',
    main: file,
    ...(imports ? { imports: compiledImports(imports) } : {}),
  };
}

/**
 * The repository's package.json "imports" (`#contract` -> `./infra/contract/index.ts`) for the compiled tree:
 * the same subpaths, each naming the JavaScript tsc wrote under build/ (`./build/infra/contract/index.js`).
 */
function compiledImports(imports) {
  const compiled = (target) => target.replace(/^\.\//, './build/').replace(/\.ts$/, '.js');
  return Object.fromEntries(Object.entries(imports).map(([key, target]) => [key, compiled(target)]));
}

async function main([command, appDir, codeDir]) {
  if (command === 'entry' && appDir && codeDir) {
    const pkg = await entryPackageJson(appDir, codeDir);
    writeFileSync(join(appDir, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
    process.stdout.write(`main ${pkg.main}\n`);
    return;
  }
  if (!['prune', 'list'].includes(command) || !appDir || !codeDir) {
    process.stderr.write('usage: service-deps.mjs <prune|list> <app dir> <code dir> | entry <app dir> <service>\n');
    process.exit(2);
  }
  const { reached, missing } = reachedPackages(appDir, codeDir);
  if (missing.length) {
    process.stderr.write(`imported but not installed: ${missing.join(', ')}\n`);
    process.exit(1);
  }
  if (command === 'list') {
    for (const d of [...reached].sort()) process.stdout.write(`${relative(appDir, d)}\n`);
    return;
  }
  // Outermost first: a removed package takes its nested node_modules with it.
  const drop = unreachedPackages(appDir, codeDir);
  for (const d of drop.sort((a, b) => a.length - b.length))
    if (existsSync(d)) rmSync(d, { recursive: true, force: true });
  // Empty scope folders left behind.
  const nm = join(appDir, 'node_modules');
  for (const e of existsSync(nm) ? readdirSync(nm) : [])
    if (e.startsWith('@') && statSync(join(nm, e)).isDirectory() && readdirSync(join(nm, e)).length === 0)
      rmSync(join(nm, e), { recursive: true });
  const trimmed = trimPackages(nm);
  process.stdout.write(
    `kept ${reached.size} packages, removed ${drop.length}; ${(trimmed / 1e6).toFixed(1)} MB of type declarations and source maps without sources\n`,
  );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main(process.argv.slice(2)).catch((e) => {
    process.stderr.write(`${e.message}\n`);
    process.exit(1);
  });
}
