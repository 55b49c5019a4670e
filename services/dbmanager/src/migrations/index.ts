import { fileURLToPath } from 'node:url';
import pg from 'pg';
import type { DatabaseId } from '#contract';
import { pgClientSsl } from '#runtime';
import {
  type MigrateOptions,
  type MigrateResult,
  type MigrationStatus,
  loadMigrations,
  migrate,
  migrationStatus,
} from './runner.js';

export * from './runner.js';

/**
 * The migrations of Prism's databases, as a library: the DB manager runs them at start-up and on
 * request; the auth and config services' tests apply the same files to their test databases.
 */

/** `services/dbmanager/migrations/<db>` (the image copies the folder beside the compiled code). */
export function migrationsDir(db: DatabaseId): string {
  return fileURLToPath(new URL(`../../migrations/${db}/`, import.meta.url));
}

/** TLS as libpq's PGSSLMODE/PGSSLROOTCERT say, unless the caller chose; none on a Unix socket (libpq's rule). */
function withTls(connection: string | pg.ClientConfig): pg.ClientConfig {
  const config = typeof connection === 'string' ? { connectionString: connection } : connection;
  if (config.ssl !== undefined) return config;
  return { ...config, ssl: pgClientSsl(config.host) };
}

/**
 * How long a migration waits for its database to accept connections. Compose and Kubernetes start them together:
 * Pulumi creates the migration Job before PostgreSQL's StatefulSets are ready, and a Job that fails fast exhausts its
 * backoffLimit before the database is up (seen in the real-pods lane, one run in five). The Job's retries come on top.
 */
export const DATABASE_WAIT_MS = 180_000;

/** Failures that mean "not up yet", not "wrong": refused, a Service name not in DNS yet, starting, restarting, reset. */
const NOT_YET = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  '57P03',
  '57P01',
]);
// pg's own words for a connection closed during start-up, and for its connect timeout (which counts the DNS lookup:
// Compose's resolver has taken over 10 s under load, failing a migration the first version of this wait ran).
const notYet = (e: Error & { code?: string }) =>
  NOT_YET.has(e.code ?? '') ||
  /^(Connection terminated (unexpectedly|due to connection timeout)|timeout expired)$/.test(e.message);

/**
 * A connected client; with `waitMs`, retries while the server is not up yet (a wrong password, a refused TLS
 * certificate or a missing database fail at once: waiting cannot mend them).
 */
async function connect(
  connection: string | pg.ClientConfig,
  wait: { waitMs?: number; log?: (line: string) => void } = {},
): Promise<pg.Client> {
  const config = withTls(connection);
  if (!wait.waitMs) {
    const client = new pg.Client(config);
    await client.connect();
    return client;
  }
  const until = Date.now() + wait.waitMs;
  for (let attempt = 1; ; attempt++) {
    // A bounded connect: a dropped SYN (a pod not yet routable) would otherwise hang for the kernel's minutes. At most
    // 30 s a try, and never past the wait's end (0 would mean no timeout to pg: at least 1 s).
    const timeout = Math.max(1_000, Math.min(30_000, until - Date.now()));
    const client = new pg.Client({ connectionTimeoutMillis: timeout, ...config });
    const where = `PostgreSQL at ${client.host}:${client.port}`; // as pg resolved them, from a URL too
    try {
      await client.connect();
      return client;
    } catch (e) {
      const err = e as Error & { code?: string };
      if (!notYet(err)) throw err;
      const left = until - Date.now();
      if (left <= 0)
        throw new Error(`${where} did not accept connections within ${wait.waitMs / 1000} s: ${err.message}`, {
          cause: e,
        });
      wait.log?.(
        `${where} does not accept connections yet (${err.code ?? err.message}); retrying for ${Math.ceil(left / 1000)} s more`,
      );
      await new Promise((r) => setTimeout(r, Math.min(5000, 500 * attempt, left)));
    }
  }
}

/**
 * Applies the migrations of `db` to the database at `connection` (a libpq URL or pg config); with `waitMs`, first waits
 * that long at most for the server to accept connections.
 */
export async function migrateDatabase(
  db: DatabaseId,
  connection: string | pg.ClientConfig,
  options: MigrateOptions & { readonly waitMs?: number } = {},
): Promise<MigrateResult> {
  const migrations = await loadMigrations(migrationsDir(db));
  const client = await connect(connection, options);
  try {
    return await migrate(client, migrations, options);
  } finally {
    await client.end();
  }
}

export async function databaseMigrationStatus(
  db: DatabaseId,
  connection: string | pg.ClientConfig,
): Promise<MigrationStatus[]> {
  const migrations = await loadMigrations(migrationsDir(db));
  const client = await connect(connection);
  try {
    return await migrationStatus(client, migrations);
  } finally {
    await client.end();
  }
}
