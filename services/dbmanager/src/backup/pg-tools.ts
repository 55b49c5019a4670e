import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { DatabaseId } from '../../../../infra/contract/index.js';

/** How the DB manager reaches one database (a superuser or a role with REPLICATION). */
export interface DbTarget {
  readonly id: DatabaseId;
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly database: string;
}

export function connectionConfig(t: DbTarget) {
  return { host: t.host, port: t.port, user: t.user, password: t.password, database: t.database };
}

/** libpq's environment: the password never appears on a command line. */
export function libpqEnv(t: DbTarget): NodeJS.ProcessEnv {
  return { ...process.env, PGHOST: t.host, PGPORT: String(t.port), PGUSER: t.user, PGPASSWORD: t.password, PGDATABASE: t.database };
}

/**
 * The directory of the PostgreSQL programs: the one given, else the one holding pg_basebackup on
 * PATH, else the newest /usr/lib/postgresql/<major>/bin. The client major version must be at least
 * the server's (pg_basebackup refuses newer servers).
 */
export function findPgBin(preferred?: string): string {
  if (preferred) return preferred;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && existsSync(join(dir, 'pg_basebackup'))) return dir;
  }
  const root = '/usr/lib/postgresql';
  const majors = existsSync(root) ? readdirSync(root).filter((d) => /^\d+$/.test(d)).sort((a, b) => Number(b) - Number(a)) : [];
  if (majors[0]) return join(root, majors[0], 'bin');
  throw new Error('PostgreSQL client programs (pg_basebackup, pg_receivewal, pg_verifybackup, postgres) were not found on PATH or in /usr/lib/postgresql');
}

export class ToolError extends Error {
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
export function run(cmd: string, args: readonly string[], options: RunOptions = {}): Promise<{ stdout: string; stderr: string }> {
  const asUser = options.runAs && process.getuid?.() === 0;
  const [file, argv] = asUser ? ['runuser', ['-u', options.runAs!, '--', cmd, ...args]] : [cmd, [...args]];
  return new Promise((resolve, reject) => {
    const child = spawn(file, argv, { env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'], ...(options.signal ? { signal: options.signal } : {}) });
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
      else reject(new ToolError(`${cmd.split('/').pop()} exited with ${code ?? sig}: ${(stderr.trim() || stdout.trim()).split('\n').slice(-6).join(' | ')}`));
    });
  });
}

/** Runs a program whose (possibly huge) output is only counted and hashed, never held in memory. */
export function runCounting(cmd: string, args: readonly string[], options: RunOptions = {}): Promise<{ bytes: number; sha256: string }> {
  const asUser = options.runAs && process.getuid?.() === 0;
  const [file, argv] = asUser ? ['runuser', ['-u', options.runAs!, '--', cmd, ...args]] : [cmd, [...args]];
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
      else reject(new ToolError(`${cmd.split('/').pop()} exited with ${code ?? sig}: ${stderr.trim().split('\n').slice(-6).join(' | ')}`));
    });
  });
}
