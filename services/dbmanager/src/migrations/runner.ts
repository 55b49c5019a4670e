import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type pg from 'pg';
import { PG_MIGRATION_HISTORY } from '#contract';
import { type RoleSetup, grantRights, prepareRoles } from './roles.js';

/**
 * A plain-SQL migration runner. Files are named `NNN_description.sql` and applied in order,
 * each in its own transaction, under a session advisory lock. The history table keeps a
 * SHA-256 of every applied file: an edited applied file stops the run before anything is done.
 * A failed file is rolled back and recorded as failed, so the next run (and `status`) reports it.
 */

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
  readonly checksum: string;
}

type MigrationState = 'applied' | 'pending' | 'failed' | 'changed' | 'missing-file';

export interface MigrationStatus {
  readonly version: number;
  readonly name: string;
  readonly state: MigrationState;
  readonly appliedAt?: Date;
  readonly error?: string;
}

export interface MigrateResult {
  readonly applied: readonly string[];
  /** Migrations that had failed in an earlier run and were retried now. */
  readonly retried: readonly string[];
  readonly alreadyApplied: number;
}

export interface MigrateOptions {
  /** How long to wait for another runner's lock before failing. @default 60 s */
  readonly lockTimeoutMs?: number;
  /** Progress lines ("applying 002_x.sql"). @default silent */
  readonly log?: (line: string) => void;
  /** Set up the database's roles around the migrations (the client is the superuser); none: plain migrations. */
  readonly roles?: RoleSetup;
}

class MigrationError extends Error {
  override readonly name = 'MigrationError';
}

const FILE_NAME = /^(\d{3,})_([a-z0-9_]+)\.sql$/;
export const HISTORY_TABLE = PG_MIGRATION_HISTORY;
/** Advisory lock key: the first 8 bytes of sha256("prism.schema_migrations"), as a signed bigint. */
const LOCK_KEY = createHash('sha256').update('prism.schema_migrations').digest().readBigInt64BE(0).toString();

function checksumOf(sql: string): string {
  return createHash('sha256').update(sql).digest('hex');
}

/** Reads `NNN_name.sql` files; any other `.sql` name, or two files with one number, is an error. */
export async function loadMigrations(dir: string): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.sql')).sort();
  const seen = new Map<number, string>();
  const out: Migration[] = [];
  for (const file of files) {
    const m = FILE_NAME.exec(file);
    if (!m)
      throw new MigrationError(
        `${join(dir, file)}: a migration file is named NNN_description.sql (digits, then lower-case words), got "${file}"`,
      );
    const version = Number(m[1]);
    const other = seen.get(version);
    if (other) throw new MigrationError(`${dir}: ${other} and ${file} share the version number ${version}`);
    seen.set(version, file);
    const sql = await readFile(join(dir, file), 'utf8');
    out.push({ version, name: file, sql, checksum: checksumOf(sql) });
  }
  return out;
}

interface HistoryRow {
  version: number;
  name: string;
  checksum: string;
  status: 'applied' | 'failed';
  applied_at: Date | null;
  error: string | null;
}

const CREATE_HISTORY = `
CREATE TABLE IF NOT EXISTS ${HISTORY_TABLE} (
  version     integer PRIMARY KEY,
  name        text NOT NULL,
  checksum    text NOT NULL,
  status      text NOT NULL CHECK (status IN ('applied', 'failed')),
  applied_at  timestamptz,
  failed_at   timestamptz,
  duration_ms integer,
  attempts    integer NOT NULL DEFAULT 1,
  error       text
)`;

async function readHistory(client: pg.ClientBase): Promise<Map<number, HistoryRow>> {
  const exists = await client.query<{ t: string | null }>('SELECT to_regclass($1) AS t', [HISTORY_TABLE]);
  if (!exists.rows[0]?.t) return new Map();
  const { rows } = await client.query<HistoryRow>(
    `SELECT version, name, checksum, status, applied_at, error FROM ${HISTORY_TABLE} ORDER BY version`,
  );
  return new Map(rows.map((r) => [r.version, r]));
}

function statusOf(migrations: readonly Migration[], history: Map<number, HistoryRow>): MigrationStatus[] {
  const out: MigrationStatus[] = migrations.map((m) => {
    const h = history.get(m.version);
    if (!h) return { version: m.version, name: m.name, state: 'pending' };
    if (h.status === 'failed')
      return { version: m.version, name: m.name, state: 'failed', ...(h.error ? { error: h.error } : {}) };
    if (h.checksum !== m.checksum)
      return {
        version: m.version,
        name: m.name,
        state: 'changed',
        ...(h.applied_at ? { appliedAt: h.applied_at } : {}),
      };
    return { version: m.version, name: m.name, state: 'applied', ...(h.applied_at ? { appliedAt: h.applied_at } : {}) };
  });
  for (const h of history.values()) {
    if (h.status === 'applied' && !migrations.some((m) => m.version === h.version)) {
      out.push({
        version: h.version,
        name: h.name,
        state: 'missing-file',
        ...(h.applied_at ? { appliedAt: h.applied_at } : {}),
      });
    }
  }
  return out.sort((a, b) => a.version - b.version);
}

/** The state of every migration, read without taking the lock or changing anything. */
export async function migrationStatus(
  client: pg.ClientBase,
  migrations: readonly Migration[],
): Promise<MigrationStatus[]> {
  return statusOf(migrations, await readHistory(client));
}

/** Refuses a run whose applied history no longer matches the files. */
function checkHistory(migrations: readonly Migration[], history: Map<number, HistoryRow>, database: string): void {
  for (const s of statusOf(migrations, history)) {
    const h = history.get(s.version);
    if (s.state === 'changed' && h) {
      const m = migrations.find((x) => x.version === s.version)!;
      throw new MigrationError(
        `${database}: migration ${s.name} was applied on ${h.applied_at?.toISOString()} with checksum ${h.checksum.slice(0, 12)}, ` +
          `but the file now has checksum ${m.checksum.slice(0, 12)}. An applied migration must not be edited: ` +
          `restore the file and put the change in a new migration.`,
      );
    }
    if (s.state === 'missing-file') {
      throw new MigrationError(
        `${database}: migration ${s.name} is applied but its file is missing; this runner is older than the database or the file was removed.`,
      );
    }
  }
}

async function acquireLock(
  client: pg.ClientBase,
  database: string,
  timeoutMs: number,
  log: (l: string) => void,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let told = false;
  for (;;) {
    const { rows } = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS ok', [LOCK_KEY]);
    if (rows[0]?.ok) return;
    const holder = await client.query<{ pid: number }>(
      `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND ((classid::bigint << 32) | objid::bigint) = $1::bigint`,
      [LOCK_KEY],
    );
    const pid = holder.rows[0]?.pid;
    if (Date.now() >= deadline) {
      throw new MigrationError(
        `${database}: another migration runner${pid ? ` (backend pid ${pid})` : ''} has held the migration lock for more than ${Math.round(timeoutMs / 1000)} s; nothing was applied. Retry when it has finished.`,
      );
    }
    if (!told)
      log(`${database}: another migration runner${pid ? ` (backend pid ${pid})` : ''} holds the lock; waiting`);
    told = true;
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * Applies every pending migration. The client must be a dedicated connection (the advisory
 * lock belongs to its session); it is left open for the caller to release.
 */
export async function migrate(
  client: pg.ClientBase,
  migrations: readonly Migration[],
  options: MigrateOptions = {},
): Promise<MigrateResult> {
  const log = options.log ?? (() => {});
  const database = (await client.query<{ db: string }>('SELECT current_database() AS db')).rows[0]!.db;
  await acquireLock(client, database, options.lockTimeoutMs ?? 60_000, log);
  try {
    if (options.roles) await prepareRoles(client, database, options.roles);
    await client.query(CREATE_HISTORY);
    const history = await readHistory(client);
    checkHistory(migrations, history, database);
    for (const h of history.values()) {
      if (h.status === 'failed')
        log(`${database}: migration ${h.name} failed in an earlier run (${h.error ?? 'no message'}); retrying it`);
    }
    const applied: string[] = [];
    const retried: string[] = [];
    for (const m of migrations) {
      const previous = history.get(m.version);
      if (previous?.status === 'applied') continue;
      log(`${database}: applying ${m.name}`);
      const started = Date.now();
      try {
        await client.query('BEGIN');
        await client.query(m.sql);
        await client.query(
          `INSERT INTO ${HISTORY_TABLE} (version, name, checksum, status, applied_at, duration_ms, attempts, error)
           VALUES ($1, $2, $3, 'applied', now(), $4, 1, NULL)
           ON CONFLICT (version) DO UPDATE SET name = EXCLUDED.name, checksum = EXCLUDED.checksum, status = 'applied',
             applied_at = now(), duration_ms = EXCLUDED.duration_ms, attempts = ${HISTORY_TABLE}.attempts + 1, error = NULL`,
          [m.version, m.name, m.checksum, Date.now() - started],
        );
        await client.query('COMMIT');
      } catch (e) {
        await client.query('ROLLBACK').catch(() => {});
        const pgErr = e as { message: string; position?: string };
        const message = `${pgErr.message}${pgErr.position ? ` (at character ${pgErr.position})` : ''}`;
        await client.query(
          `INSERT INTO ${HISTORY_TABLE} (version, name, checksum, status, failed_at, attempts, error)
           VALUES ($1, $2, $3, 'failed', now(), 1, $4)
           ON CONFLICT (version) DO UPDATE SET checksum = EXCLUDED.checksum, status = 'failed', failed_at = now(),
             attempts = ${HISTORY_TABLE}.attempts + 1, error = EXCLUDED.error`,
          [m.version, m.name, m.checksum, message],
        );
        throw new MigrationError(
          `${database}: migration ${m.name} failed and was rolled back: ${message}. ${applied.length} earlier migration(s) of this run stay applied; the later ones were not run.`,
        );
      }
      applied.push(m.name);
      if (previous?.status === 'failed') retried.push(m.name);
      log(`${database}: applied ${m.name} in ${Date.now() - started} ms`);
    }
    if (options.roles) await grantRights(client, database, options.roles);
    return { applied, retried, alreadyApplied: [...history.values()].filter((h) => h.status === 'applied').length };
  } finally {
    if (options.roles) await client.query('RESET ROLE').catch(() => {});
    await client.query('SELECT pg_advisory_unlock($1::bigint)', [LOCK_KEY]).catch(() => {});
  }
}
