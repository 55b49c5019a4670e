import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadStack } from '../../infra/config/index.js';
import { DATABASES, type DatabaseId, PG_ROLES, type PgLoginRoleId, pgPasswordVar } from '../../infra/contract/index.js';
import { buildPlatform, component } from '../../infra/model/index.js';
import { migrateDatabase } from '../../services/dbmanager/src/migrations/index.js';
import { type PrivatePostgres, pgBin, privatePostgres } from '../support/private-servers.js';

/**
 * The PostgreSQL roles of the contract (PG_ROLES), set up by the real migration on a real server:
 * each role does what its workload needs and every other attempt is refused by PostgreSQL. The
 * model is held to the same table: each workload logs in as its own role only.
 */
const password = (id: PgLoginRoleId) => `pw-${id}-test`;
const platform = buildPlatform('dev', loadStack('stacks', 'dev').config);

describe('PostgreSQL roles (real server, the migration sets them up)', () => {
  let server: PrivatePostgres;

  const as = async <T>(id: PgLoginRoleId, db: DatabaseId, fn: (c: pg.Client) => Promise<T>): Promise<T> => {
    const c = new pg.Client({
      host: '127.0.0.1',
      port: server.port,
      user: PG_ROLES[id].name,
      password: id.endsWith('_admin') ? server.password : password(id),
      database: DATABASES[db].name,
    });
    await c.connect();
    try {
      return await fn(c);
    } finally {
      await c.end();
    }
  };
  const refused = (id: PgLoginRoleId, db: DatabaseId, sql: string) =>
    expect(
      as(id, db, (c) => c.query(sql)),
      `${PG_ROLES[id].name}: ${sql}`,
    ).rejects.toThrow(/permission denied|must be (owner|superuser|a member)|not have permission|only superuser/);

  beforeAll(async () => {
    server = await privatePostgres();
    for (const db of ['auth', 'ops'] as const) {
      const admin = new pg.Client({ connectionString: server.url() });
      await admin.connect();
      await admin.query(`CREATE DATABASE ${DATABASES[db].name}`);
      await admin.end();
      // Migrated once as the superuser before the roles existed (an existing deployment), then with them.
      if (db === 'auth') await migrateDatabase(db, server.url(DATABASES[db].name));
      await migrateDatabase(db, server.url(DATABASES[db].name), { roles: { db, password } });
    }
  }, 120_000);
  afterAll(async () => {
    await server?.dispose();
  });

  it('the migration runs as the owner role: every table belongs to it, none to the superuser', async () => {
    const owners = await as('auth_admin', 'auth', (c) =>
      c.query<{ o: string }>(`SELECT DISTINCT tableowner AS o FROM pg_tables WHERE schemaname = 'public'`),
    );
    expect(owners.rows.map((r) => r.o)).toEqual([PG_ROLES.auth_owner.name]);
    // Run again (every rollout): nothing to apply, the rights are the same.
    const again = await migrateDatabase('auth', server.url('prism_auth'), { roles: { db: 'auth', password } });
    expect(again.applied).toEqual([]);
  });

  it("auth's role reads and writes its tables, and nothing more", async () => {
    const id = await as('auth_app', 'auth', async (c) => {
      const r = await c.query<{ id: string }>(
        `INSERT INTO users (email, password_hash) VALUES ('role-test@example.com', NULL) RETURNING id::text`,
      );
      await c.query(`UPDATE users SET email_verified = true WHERE id = $1`, [r.rows[0]!.id]);
      await c.query(`INSERT INTO outbox (subject, payload) VALUES ('prism.auth.user.created', '{}')`);
      return r.rows[0]!.id;
    });
    expect(id).toBeTruthy();
    for (const attack of [
      'DROP TABLE users',
      'ALTER TABLE users ADD COLUMN is_admin boolean',
      'CREATE TABLE stolen (x text)',
      'TRUNCATE sessions',
      'SELECT * FROM prism_schema_migrations',
      `COPY users TO PROGRAM 'id'`,
      'CREATE ROLE intruder SUPERUSER',
      `ALTER ROLE prism_auth_app SUPERUSER`,
      `SELECT pg_read_file('/etc/passwd')`,
    ])
      await refused('auth_app', 'auth', attack);
    // The other database: not even a connection.
    await expect(as('auth_app', 'ops', (c) => c.query('SELECT 1'))).rejects.toThrow(/permission denied for database/);
  });

  it("config's role reads and writes the configuration only; the catalogue's role the backups only", async () => {
    await as('ops_config', 'ops', (c) => c.query('SELECT count(*) FROM config_values'));
    await refused('ops_config', 'ops', 'SELECT * FROM backups');
    await refused('ops_config', 'ops', 'DELETE FROM config_history');
    await refused('ops_config', 'ops', 'DROP TABLE config_values');
    await as('ops_catalog', 'ops', (c) => c.query('SELECT count(*) FROM backups'));
    await refused('ops_catalog', 'ops', 'SELECT * FROM config_values');
    await refused('ops_catalog', 'ops', 'CREATE TABLE x (y int)');
    await expect(as('ops_config', 'auth', (c) => c.query('SELECT 1'))).rejects.toThrow(/permission denied/);
  });

  it('the monitor role reads statistics, never table data', async () => {
    const stats = await as('auth_monitor', 'auth', (c) =>
      c.query<{ n: string }>(
        `SELECT count(*)::text AS n FROM pg_stat_activity WHERE query <> '<insufficient privilege>'`,
      ),
    );
    expect(Number(stats.rows[0]!.n)).toBeGreaterThan(0);
    await as('auth_monitor', 'auth', (c) => c.query('SELECT * FROM pg_stat_database'));
    await refused('auth_monitor', 'auth', 'SELECT * FROM public.users');
    await refused('auth_monitor', 'auth', 'SELECT * FROM public.sessions');
    await refused(
      'auth_monitor',
      'auth',
      `INSERT INTO public.users (email, password_hash) VALUES ('m@example.com', NULL)`,
    );
    await refused('auth_monitor', 'auth', `SELECT pg_switch_wal()`);
  });

  it('the backup role streams a base backup and manages its slot, but reads and writes no table', async () => {
    // What the WAL archiver and base backups run (wal-archive.ts, basebackup.ts).
    await as('auth_backup', 'auth', async (c) => {
      await c.query(`SELECT pg_create_physical_replication_slot('prism_test_slot', true)`);
      await c.query('SELECT pg_switch_wal()');
      await c.query(`SELECT pg_logical_emit_message(false, 'prism.wal-archive', '')`);
      await c.query('SELECT system_identifier::text FROM pg_control_system()');
      await c.query('SELECT sum(pg_database_size(oid))::bigint FROM pg_database');
      await c.query(`SELECT pg_drop_replication_slot('prism_test_slot')`);
    });
    const dir = await mkdtemp(join(tmpdir(), 'prism-roles-bb-'));
    try {
      await promisify(execFile)(
        join(pgBin(), 'pg_basebackup'),
        [
          '-h',
          '127.0.0.1',
          '-p',
          String(server.port),
          '-U',
          PG_ROLES.auth_backup.name,
          '-D',
          join(dir, 'b'),
          '-X',
          'none',
          '--checkpoint=fast',
        ],
        { env: { ...process.env, PGPASSWORD: password('auth_backup') }, timeout: 15_000 },
      );
      expect(await readdir(join(dir, 'b'))).toContain('PG_VERSION');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    for (const attack of [
      'SELECT * FROM users',
      `INSERT INTO users (email, password_hash) VALUES ('b@example.com', NULL)`,
      'DELETE FROM sessions',
      'CREATE TABLE x (y int)',
      `COPY (SELECT 1) TO PROGRAM 'id'`,
    ])
      await refused('auth_backup', 'auth', attack);
    // Status of the migrations: the one table it may read.
    await as('auth_backup', 'auth', (c) => c.query('SELECT count(*) FROM prism_schema_migrations'));
  });

  it('each workload of the model logs in as its own role with its own password, and the migration holds them all', () => {
    const userOf = (env: Record<string, unknown>, name: string) => (env[name] as { value?: string } | undefined)?.value;
    const secretOf = (env: Record<string, unknown>, name: string) =>
      (env[name] as { secret?: string } | undefined)?.secret;
    const auth = component(platform, 'auth').env;
    expect([userOf(auth, 'PRISM_AUTH_DB_USER'), secretOf(auth, 'PRISM_AUTH_DB_PASSWORD')]).toEqual([
      PG_ROLES.auth_app.name,
      PG_ROLES.auth_app.password,
    ]);
    const config = component(platform, 'config').env;
    expect(userOf(config, 'PRISM_OPS_DB_USER')).toBe(PG_ROLES.ops_config.name);
    const exporter = component(platform, 'postgres-auth-exporter').env;
    expect([userOf(exporter, 'DATA_SOURCE_USER'), secretOf(exporter, 'DATA_SOURCE_PASS')]).toEqual([
      PG_ROLES.auth_monitor.name,
      PG_ROLES.auth_monitor.password,
    ]);
    const dbm = component(platform, 'dbmanager');
    const pgSecrets = (env: Record<string, unknown>) =>
      Object.values(env)
        .map((v) => (v as { secret?: string }).secret)
        .filter((k): k is string => !!k?.startsWith('postgres-'))
        .sort();
    expect(pgSecrets(dbm.env)).toEqual(
      [PG_ROLES.auth_backup.password, PG_ROLES.ops_backup.password, PG_ROLES.ops_catalog.password].sort(),
    );
    const task = (name: string) => dbm.tasks.find((t) => t.name === name)!.env!;
    // prism_auth's backup jobs: auth's backup role and the catalogue, never an ops password but the catalogue's.
    expect(pgSecrets(task('backup-auth'))).toEqual(
      [PG_ROLES.auth_backup.password, PG_ROLES.ops_catalog.password].sort(),
    );
    expect(pgSecrets(task('wal-ops'))).toEqual([PG_ROLES.ops_backup.password, PG_ROLES.ops_catalog.password].sort());
    expect(new Set(pgSecrets(task('db-migrate'))).size).toBe(
      Object.values(PG_ROLES).filter((r) => 'password' in r).length,
    );
    expect(Object.keys(task('db-migrate'))).toContain(pgPasswordVar('auth_admin'));
  });
});
