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

/** Applies the migrations of `db` to the database at `connectionString` (a libpq URL or pg config). */
export async function migrateDatabase(
  db: DatabaseId,
  connection: string | pg.ClientConfig,
  options: MigrateOptions = {},
): Promise<MigrateResult> {
  const migrations = await loadMigrations(migrationsDir(db));
  const client = new pg.Client(withTls(connection));
  await client.connect();
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
  const client = new pg.Client(withTls(connection));
  await client.connect();
  try {
    return await migrationStatus(client, migrations);
  } finally {
    await client.end();
  }
}
