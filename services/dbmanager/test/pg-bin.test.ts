import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENV } from '#contract';
import { parseEnv } from '../../runtime/src/index.js';
import { PG_PROGRAMS } from '../src/backup/pg-programs.js';
import { findPgBin, libpqEnv, run, runCounting, serverMajor } from '../src/backup/pg-tools.js';
import { DbManagerContext } from '../src/settings.js';
import { testPgUrl } from './pg-support.js';

/** The shared test server as a DB manager target. */
function target() {
  const u = new URL(testPgUrl());
  return {
    id: 'ops' as const,
    host: u.hostname,
    port: Number(u.port),
    user: decodeURIComponent(u.username),
    password: decodeURIComponent(u.password),
    database: 'postgres',
  };
}

const versionOf = (dir: string) =>
  Number(/\(PostgreSQL\) (\d+)/.exec(execFileSync(join(dir, 'postgres'), ['--version'], { encoding: 'utf8' }))![1]);

/** A directory with every program, whose `postgres --version` says `major` (the others are empty scripts). */
async function fakeBin(parent: string, major: number): Promise<string> {
  const dir = join(parent, `fake-${major}`);
  await mkdir(dir, { recursive: true });
  for (const p of PG_PROGRAMS) {
    await writeFile(
      join(dir, p),
      p === 'postgres' ? `#!/bin/sh\necho "postgres (PostgreSQL) ${major}.1"\n` : '#!/bin/sh\nexit 0\n',
    );
    await chmod(join(dir, p), 0o755);
  }
  return dir;
}

describe('the PostgreSQL bin directory (PRISM_PG_BIN_DIR, else found for the server version)', () => {
  let work: string;
  let major: number;
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'prism-pgbin-'));
    major = await serverMajor(target());
  });
  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('asks the server for its major version (SHOW server_version_num)', async () => {
    const { default: pg } = await import('pg');
    const c = new pg.Client({ connectionString: testPgUrl() });
    await c.connect();
    const { version } = (await c.query<{ version: string }>('SELECT version()')).rows[0]!;
    await c.end();
    expect(major).toBe(Number(/^PostgreSQL (\d+)\./.exec(version)![1]));
  });

  it("skips Debian's /usr/bin wrappers ahead on PATH and takes /usr/lib/postgresql/<server major>/bin", () => {
    const dir = findPgBin({ serverMajor: major, searchPath: `/usr/bin:/bin:${process.env.PATH}` });
    expect(dir).not.toBe('/usr/bin');
    for (const p of PG_PROGRAMS) expect(existsSync(join(dir, p)), p).toBe(true);
    expect(versionOf(dir)).toBe(major);
  });

  it('through the context: the database target decides the version', async () => {
    const env = parseEnv('dbmanager', dbmanagerEnv());
    const ctx = new DbManagerContext(env);
    try {
      const dir = await ctx.pgBin('ops');
      expect(versionOf(dir)).toBe(major);
    } finally {
      await ctx.close();
    }
  });

  it('a complete PATH directory of another major version is skipped; none of the right version is a clear error', async () => {
    const other = await fakeBin(work, major + 1);
    const emptyRoot = join(work, 'no-versions');
    await mkdir(emptyRoot, { recursive: true });
    expect(() => findPgBin({ serverMajor: major, searchPath: `/usr/bin:${other}`, root: emptyRoot })).toThrowError(
      new RegExp(
        `^PostgreSQL ${major} programs \\(pg_basebackup, .*postgres\\) were not found in ${emptyRoot}/<major>/bin or on PATH; install them or set PRISM_PG_BIN_DIR$`,
      ),
    );
    // The right version on PATH is taken.
    const right = await fakeBin(work, major);
    expect(findPgBin({ serverMajor: major, searchPath: `/usr/bin:${other}:${right}`, root: emptyRoot })).toBe(right);
    // The version unknown (server down): the newest versioned directory, then complete PATH directories.
    expect(findPgBin({ searchPath: `/usr/bin:${other}`, root: emptyRoot })).toBe(other);
  });

  // What an image carries is a directory of exactly these programs (services/Dockerfile copies PG_PROGRAMS):
  // one of them must not need a program left out. pg_verifybackup runs pg_waldump from its own directory.
  it('a directory of exactly PG_PROGRAMS takes, verifies and dumps; without pg_waldump pg_verifybackup fails, without pg_dump pg_dumpall', async () => {
    const source = findPgBin({ serverMajor: major });
    const only = async (name: string, programs: readonly string[]) => {
      const dir = join(work, name);
      await mkdir(dir, { recursive: true });
      for (const p of programs) await copyFile(join(source, p), join(dir, p)).then(() => chmod(join(dir, p), 0o755));
      return dir;
    };
    const bin = await only('exact', PG_PROGRAMS);
    expect(findPgBin({ explicit: bin, serverMajor: major })).toBe(bin);
    const backup = join(work, 'backup');
    const env = libpqEnv(target());
    await run(join(bin, 'pg_basebackup'), ['-D', backup, '-Fp', '-X', 'stream', '-c', 'fast'], { env });
    const verified = await run(join(bin, 'pg_verifybackup'), [backup]);
    expect(verified.stdout).toMatch(/backup successfully verified/);
    // A restore's check reads every row with pg_dumpall, which runs pg_dump.
    const dump = await runCounting(join(bin, 'pg_dumpall'), [], { env });
    expect(dump.bytes).toBeGreaterThan(0);
    const noDump = await only(
      'no-pg-dump',
      PG_PROGRAMS.filter((p) => p !== 'pg_dump'),
    );
    await expect(runCounting(join(noDump, 'pg_dumpall'), [], { env })).rejects.toThrowError(
      /"pg_dump" is needed by pg_dumpall/,
    );
    // The defect this guards against: the list without pg_waldump, as the images had it.
    const lacking = await only(
      'no-waldump',
      PG_PROGRAMS.filter((p) => p !== 'pg_waldump'),
    );
    await expect(run(join(lacking, 'pg_verifybackup'), [backup])).rejects.toThrowError(
      /"pg_waldump" is needed by pg_verifybackup/,
    );
  });

  it("PRISM_PG_BIN_DIR's description (docs/service-environment.md) names exactly the programs", () => {
    const named = /\(([a-z_, ]+)\)/.exec(ENV.PRISM_PG_BIN_DIR.description)![1]!.split(', ');
    expect(named).toEqual([...PG_PROGRAMS]);
  });

  it('an explicit directory is used as it is, and one lacking programs is refused at start, naming them', async () => {
    const right = await fakeBin(work, 7);
    expect(findPgBin({ explicit: right, serverMajor: major })).toBe(right);
    expect(
      () => new DbManagerContext(parseEnv('dbmanager', dbmanagerEnv({ PRISM_PG_BIN_DIR: '/usr/bin' }))),
    ).toThrowError(
      /^PRISM_PG_BIN_DIR=\/usr\/bin lacks (pg_\w+, )*pg_verifybackup, .*postgres: point it at a PostgreSQL bin directory/,
    );
    expect(() => parseEnv('dbmanager', dbmanagerEnv({ PRISM_PG_BIN_DIR: 'relative/bin' }))).toThrowError(
      /PRISM_PG_BIN_DIR is invalid: expected an absolute file path/,
    );
  });
});

function dbmanagerEnv(extra: Record<string, string> = {}): Record<string, string> {
  const t = target();
  const db = (p: string) => ({
    [`PRISM_${p}_DB_HOST`]: t.host,
    [`PRISM_${p}_DB_PORT`]: String(t.port),
    [`PRISM_${p}_DB_NAME`]: 'postgres',
    [`PRISM_${p}_DB_USER`]: t.user,
    [`PRISM_${p}_DB_PASSWORD`]: t.password,
  });
  return {
    PRISM_ENVIRONMENT: 'test',
    PRISM_NATS_URL: 'nats://127.0.0.1:1',
    ...db('AUTH'),
    ...db('OPS'),
    PRISM_S3_ENDPOINT: 'http://127.0.0.1:1',
    PRISM_S3_BUCKET: 'unused',
    PRISM_S3_ACCESS_KEY: 'unused',
    PRISM_S3_SECRET_KEY: 'unused',
    ...extra,
  };
}
