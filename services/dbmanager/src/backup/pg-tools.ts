import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { DatabaseId } from '#contract';
import { pgClientSsl } from '#runtime';
import { PG_PROGRAMS } from './pg-programs.js';

/** How the DB manager reaches one database (a superuser or a role with REPLICATION). */
export interface DbTarget {
  readonly id: DatabaseId;
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly database: string;
}

/** The `pg` client's settings for a target: TLS as libpq's PGSSLMODE/PGSSLROOTCERT say (none on a Unix socket). */
export function connectionConfig(t: DbTarget) {
  return {
    host: t.host,
    port: t.port,
    user: t.user,
    password: t.password,
    database: t.database,
    ssl: pgClientSsl(t.host),
  };
}

/** libpq's environment: the password never appears on a command line; PGSSLMODE and PGSSLROOTCERT pass through. */
export function libpqEnv(t: DbTarget): NodeJS.ProcessEnv {
  return {
    ...process.env,
    PGHOST: t.host,
    PGPORT: String(t.port),
    PGUSER: t.user,
    PGPASSWORD: t.password,
    PGDATABASE: t.database,
  };
}

export interface FindPgBinOptions {
  /** An explicit directory (PRISM_PG_BIN_DIR): used as it is, once it holds every program. */
  readonly explicit?: string | undefined;
  /** The server's major version (`SHOW server_version_num` / 10000); unknown when the server does not answer. */
  readonly serverMajor?: number | undefined;
  /** Directories searched after the versioned ones (default: PATH). */
  readonly searchPath?: string | undefined;
  /** Where Debian installs each major version's programs (default: /usr/lib/postgresql). */
  readonly root?: string | undefined;
}

const missingPrograms = (dir: string) => PG_PROGRAMS.filter((p) => !existsSync(join(dir, p)));

/** The major version of a bin directory's server program (`postgres (PostgreSQL) 15.13 (Debian ...)` → 15). */
function majorOf(dir: string): number | undefined {
  try {
    const m = /\(PostgreSQL\) (\d+)/.exec(
      execFileSync(join(dir, 'postgres'), ['--version'], { encoding: 'utf8', timeout: 5_000 }),
    );
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The directory of the PostgreSQL programs: the explicit one; else, for the server's major version,
 * Debian's /usr/lib/postgresql/<major>/bin, then a PATH directory whose programs are that version;
 * with the version unknown, the newest /usr/lib/postgresql/<major>/bin, then PATH. A directory
 * must hold every program of {@link PG_PROGRAMS}, which skips Debian's /usr/bin wrappers (no
 * pg_verifybackup, no postgres). The major version must match: a restore starts the restored
 * data directory with this `postgres`, and pg_basebackup refuses newer servers.
 */
export function findPgBin(o: FindPgBinOptions = {}): string {
  if (o.explicit) {
    const missing = missingPrograms(o.explicit);
    if (missing.length)
      throw new Error(
        `PRISM_PG_BIN_DIR=${o.explicit} lacks ${missing.join(', ')}: point it at a PostgreSQL bin directory (e.g. /usr/lib/postgresql/<major>/bin)`,
      );
    return o.explicit;
  }
  const root = o.root ?? '/usr/lib/postgresql';
  const pathDirs = (o.searchPath ?? process.env.PATH ?? '').split(delimiter).filter(Boolean);
  const versioned = existsSync(root)
    ? readdirSync(root)
        .filter((d) => /^\d+$/.test(d))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  const candidates =
    o.serverMajor !== undefined
      ? [
          join(root, String(o.serverMajor), 'bin'),
          ...pathDirs.filter((d) => missingPrograms(d).length === 0 && majorOf(d) === o.serverMajor),
        ]
      : [...versioned.map((v) => join(root, v, 'bin')), ...pathDirs];
  const found = candidates.find((d) => missingPrograms(d).length === 0);
  if (found) return found;
  const which = o.serverMajor !== undefined ? `PostgreSQL ${o.serverMajor} programs` : 'PostgreSQL programs';
  throw new Error(
    `${which} (${PG_PROGRAMS.join(', ')}) were not found in ${root}/<major>/bin or on PATH; install them or set PRISM_PG_BIN_DIR`,
  );
}

/** The server's major version, asked of the server itself (`SHOW server_version_num`: 150013 → 15). */
export async function serverMajor(t: DbTarget): Promise<number> {
  const { default: pg } = await import('pg');
  const c = new pg.Client({ ...connectionConfig(t), connectionTimeoutMillis: 3_000 });
  c.on('error', () => {});
  await c.connect();
  try {
    const r = await c.query<{ server_version_num: string }>('SHOW server_version_num');
    return Math.floor(Number(r.rows[0]!.server_version_num) / 10_000);
  } finally {
    await c.end().catch(() => {});
  }
}

class ToolError extends Error {
  override readonly name = 'ToolError';
}

export interface RunOptions {
  readonly env?: NodeJS.ProcessEnv;
  /** Run as this OS user (PostgreSQL's server refuses root); used only when we are root. */
  readonly runAs?: string;
  readonly onStderr?: (chunk: string) => void;
  readonly signal?: AbortSignal;
}

/** Runs a program to completion; a non-zero exit is an error carrying the end of its stderr. */
export function run(
  cmd: string,
  args: readonly string[],
  options: RunOptions = {},
): Promise<{ stdout: string; stderr: string }> {
  const asUser = options.runAs && process.getuid?.() === 0;
  const [file, argv] = asUser ? ['runuser', ['-u', options.runAs, '--', cmd, ...args]] : [cmd, [...args]];
  return new Promise((resolve, reject) => {
    const child = spawn(file, argv, {
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(options.signal ? { signal: options.signal } : {}),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      const s = d.toString();
      stderr += s;
      if (stderr.length > 64_000) stderr = stderr.slice(-32_000);
      options.onStderr?.(s);
    });
    child.on('error', (e) => reject(new ToolError(`${cmd}: ${e.message}`)));
    child.on('close', (code, sig) => {
      if (code === 0) resolve({ stdout, stderr });
      else
        reject(
          new ToolError(
            `${cmd.split('/').pop()} exited with ${code ?? sig}: ${(stderr.trim() || stdout.trim()).split('\n').slice(-6).join(' | ')}`,
          ),
        );
    });
  });
}

/** Runs a program whose (possibly huge) output is only counted and hashed, never held in memory. */
export function runCounting(
  cmd: string,
  args: readonly string[],
  options: RunOptions = {},
): Promise<{ bytes: number; sha256: string }> {
  const asUser = options.runAs && process.getuid?.() === 0;
  const [file, argv] = asUser ? ['runuser', ['-u', options.runAs, '--', cmd, ...args]] : [cmd, [...args]];
  return new Promise((resolve, reject) => {
    const child = spawn(file, argv, { env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const hash = createHash('sha256');
    let bytes = 0;
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      hash.update(d);
      bytes += d.length;
    });
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-16_000)));
    child.on('error', (e) => reject(new ToolError(`${cmd}: ${e.message}`)));
    child.on('close', (code, sig) => {
      if (code === 0) resolve({ bytes, sha256: hash.digest('hex') });
      else
        reject(
          new ToolError(
            `${cmd.split('/').pop()} exited with ${code ?? sig}: ${stderr.trim().split('\n').slice(-6).join(' | ')}`,
          ),
        );
    });
  });
}
