import { DATABASES, type DatabaseId } from './commands.js';
import type { SecretKey } from './secrets.js';

/**
 * PostgreSQL roles: one per purpose and database, each with only what it needs. The bootstrap
 * superuser (the image's POSTGRES_USER) is held by its server and by the migration (db-migrate),
 * which creates these roles, sets their passwords and grants their rights after every migration;
 * the migration's DDL itself runs as the database's owner role, not as the superuser.
 * Role names are distinct across the two databases, so both may share one server (the tests do).
 */
export type PgTableRight = 'SELECT' | 'INSERT' | 'UPDATE' | 'DELETE';

export interface PgRole {
  readonly name: string;
  readonly db: DatabaseId;
  /** The catalogue key of its password; none: it cannot log in (the owner). */
  readonly password?: SecretKey;
  /** The workloads (components, tasks) that log in as it, besides the set-up; the checklist holds the manifests to it. */
  readonly holders?: readonly string[];
  readonly superuser?: true;
  /** Streams the server's files and WAL (pg_basebackup, pg_receivewal) and manages replication slots. */
  readonly replication?: true;
  /** Predefined roles it is a member of (`pg_monitor`). */
  readonly memberOf?: readonly string[];
  /** Rights on the database's tables, by table; no other table at all. */
  readonly tables?: Readonly<Record<string, readonly PgTableRight[]>>;
  /** Functions it may execute that PUBLIC may not (signatures as GRANT takes them). */
  readonly functions?: readonly string[];
}

/** The workload that sets up the roles (and so holds every password of this table): the migration task. */
export const PG_SETUP_WORKLOAD = 'db-migrate';

/** The DB manager's backup identities: the service (continuous WAL archiving, backups on request) and its jobs. */
const backupHolders = (db: DatabaseId) => ['dbmanager', `backup-${db}`, `wal-${db}`, `verify-${db}`];

const DML: readonly PgTableRight[] = ['SELECT', 'INSERT', 'UPDATE', 'DELETE'];

/** The migrations' history table (the DB manager's status reads it as the backup role). */
export const PG_MIGRATION_HISTORY = 'prism_schema_migrations';

/** What the backup jobs run on their database's server besides the replication protocol. */
const BACKUP_FUNCTIONS = ['pg_switch_wal()', 'pg_control_system()'] as const;

/** Base backups and WAL archiving of one database; reads no table through SQL and writes none. */
const backupRole = <D extends DatabaseId>(db: D) =>
  ({
    name: `prism_${db}_backup`,
    db,
    password: `postgres-${db}-backup-password`,
    holders: backupHolders(db),
    replication: true,
    // pg_database_size of every database (the backup's size), whatever database it may connect to.
    memberOf: ['pg_read_all_stats'],
    tables: { [PG_MIGRATION_HISTORY]: ['SELECT'] },
    functions: BACKUP_FUNCTIONS,
  }) as const;

/** One database's postgres_exporter: statistics and settings, no table data. */
const monitorRole = <D extends DatabaseId>(db: D) =>
  ({
    name: `prism_${db}_monitor`,
    db,
    password: `postgres-${db}-monitor-password`,
    holders: [`${DATABASES[db].component}-exporter`],
    memberOf: ['pg_monitor'],
  }) as const;

export const PG_ROLES = {
  /** The image's bootstrap superuser: its server, and the migration that sets up the roles below. */
  auth_admin: { name: DATABASES.auth.user, db: 'auth', password: 'postgres-auth-password', superuser: true },
  /** Owns prism_auth's schema; the migrations run as it (SET ROLE). No login. */
  auth_owner: { name: 'prism_auth_owner', db: 'auth' },
  /** The auth service: rows of its own tables, no DDL. */
  auth_app: {
    name: 'prism_auth_app',
    db: 'auth',
    password: 'postgres-auth-app-password',
    holders: ['auth'],
    tables: Object.fromEntries(
      [
        'users',
        'login_throttle',
        'sessions',
        'refresh_tokens',
        'api_keys',
        'oauth_accounts',
        'oauth_states',
        'outbox',
      ].map((t) => [t, DML]),
    ),
  },
  auth_backup: backupRole('auth'),
  auth_monitor: monitorRole('auth'),
  ops_admin: { name: DATABASES.ops.user, db: 'ops', password: 'postgres-ops-password', superuser: true },
  ops_owner: { name: 'prism_ops_owner', db: 'ops' },
  /** The config service: configuration values and their history. */
  ops_config: {
    name: 'prism_ops_config',
    db: 'ops',
    password: 'postgres-ops-config-password',
    holders: ['config'],
    tables: { config_values: DML, config_history: ['SELECT', 'INSERT'] },
  },
  /** The DB manager's backup catalogue (every backup job writes it, whichever database it backs up). */
  ops_catalog: {
    name: 'prism_ops_catalog',
    db: 'ops',
    password: 'postgres-ops-catalog-password',
    holders: ['dbmanager', ...(['auth', 'ops'] as const).flatMap(backupHolders).filter((h) => h !== 'dbmanager')],
    tables: { backups: DML, wal_segments: DML, backup_verifications: DML },
  },
  ops_backup: backupRole('ops'),
  ops_monitor: monitorRole('ops'),
} as const satisfies Record<string, PgRole>;

export type PgRoleId = keyof typeof PG_ROLES;

/** The roles of one database, by purpose. */
export const pgRole = (db: DatabaseId, purpose: 'admin' | 'owner' | 'backup' | 'monitor'): PgRole =>
  PG_ROLES[`${db}_${purpose}`];

/** The variable a role's password is passed in to the DB manager (which knows the role names from here). */
export type PgLoginRoleId = Exclude<PgRoleId, `${string}_owner`>;
export type PgPasswordVar = `PRISM_PG_${Uppercase<PgLoginRoleId>}_PASSWORD`;
export const pgPasswordVar = (id: PgLoginRoleId): PgPasswordVar =>
  `PRISM_PG_${id.toUpperCase()}_PASSWORD` as PgPasswordVar;

/** Roles with a password, that is every role but the owners. */
export const PG_LOGIN_ROLES = (Object.keys(PG_ROLES) as PgRoleId[]).filter(
  (id): id is PgLoginRoleId => (PG_ROLES[id] as PgRole).password !== undefined,
);

const ident = (s: string): string => `"${s.replace(/"/g, '""')}"`;

/**
 * Statements (run as the superuser) that create the database's roles or bring them back to the
 * table: attributes, password, memberships. The superuser's own password is its server's; it is not set here.
 * `literal` quotes a password as a string literal (the driver's escapeLiteral).
 */
export function pgRoleSetupSql(
  db: DatabaseId,
  password: (id: PgLoginRoleId) => string,
  literal: (s: string) => string,
): string[] {
  const out: string[] = [];
  for (const id of Object.keys(PG_ROLES) as PgRoleId[]) {
    const r: PgRole = PG_ROLES[id];
    if (r.db !== db || r.superuser) continue;
    const name = ident(r.name);
    const attrs = [
      r.password ? 'LOGIN' : 'NOLOGIN',
      'NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS',
      r.replication ? 'REPLICATION' : 'NOREPLICATION',
    ].join(' ');
    out.push(
      `DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = ${literal(r.name)}) THEN CREATE ROLE ${name}; END IF; END $$`,
      `ALTER ROLE ${name} WITH ${attrs}${r.password ? ` PASSWORD ${literal(password(id as PgLoginRoleId))}` : ''}`,
      ...(r.memberOf ?? []).map((m) => `GRANT ${ident(m)} TO ${name}`),
    );
  }
  return out;
}

/**
 * Statements (run as the superuser before the migrations) that give the owner role the database,
 * its schema and every table in it, so the migrations can run as the owner.
 */
export function pgOwnershipSql(db: DatabaseId, database: string): string[] {
  const owner = ident(pgRole(db, 'owner').name);
  return [
    `ALTER DATABASE ${ident(database)} OWNER TO ${owner}`,
    `ALTER SCHEMA public OWNER TO ${owner}`,
    `REVOKE ALL ON SCHEMA public FROM PUBLIC`,
    // Only this database's own roles may connect to it (GRANT CONNECT below).
    `REVOKE CONNECT, CREATE, TEMPORARY ON DATABASE ${ident(database)} FROM PUBLIC`,
    // Tables created by the superuser before the roles existed pass to the owner.
    `DO $$ DECLARE t record; BEGIN FOR t IN SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tableowner <> ${`'${pgRole(db, 'owner').name}'`} LOOP EXECUTE format('ALTER TABLE public.%I OWNER TO ${owner}', t.tablename); END LOOP; END $$`,
  ];
}

/**
 * Statements (run as the superuser after the migrations) that give each role exactly its rights:
 * all its table rights are revoked, then the table's own granted; the functions likewise.
 */
export function pgGrantSql(db: DatabaseId, database: string): string[] {
  const out: string[] = [];
  for (const id of Object.keys(PG_ROLES) as PgRoleId[]) {
    const r: PgRole = PG_ROLES[id];
    if (r.db !== db || r.superuser || !r.password) continue;
    const name = ident(r.name);
    out.push(
      `GRANT CONNECT ON DATABASE ${ident(database)} TO ${name}`,
      `REVOKE ALL ON ALL TABLES IN SCHEMA public FROM ${name}`,
      `REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM ${name}`,
      `REVOKE CREATE ON SCHEMA public FROM ${name}`,
    );
    const tables = Object.entries(r.tables ?? {});
    if (tables.length) out.push(`GRANT USAGE ON SCHEMA public TO ${name}`);
    else out.push(`REVOKE USAGE ON SCHEMA public FROM ${name}`);
    for (const [table, rights] of tables) {
      out.push(`GRANT ${rights.join(', ')} ON public.${ident(table)} TO ${name}`);
      // The sequences behind the table's serial and identity columns, for INSERT.
      if (rights.includes('INSERT'))
        out.push(
          `DO $$ DECLARE s record; BEGIN FOR s IN SELECT seq.relname FROM pg_class seq JOIN pg_depend d ON d.objid = seq.oid AND d.deptype IN ('a', 'i') JOIN pg_class tbl ON tbl.oid = d.refobjid WHERE seq.relkind = 'S' AND tbl.relname = ${`'${table}'`} AND tbl.relnamespace = 'public'::regnamespace LOOP EXECUTE format('GRANT USAGE ON SEQUENCE public.%I TO ${name}', s.relname); END LOOP; END $$`,
        );
    }
    for (const fn of r.functions ?? []) out.push(`GRANT EXECUTE ON FUNCTION pg_catalog.${fn} TO ${name}`);
  }
  return out;
}

/** Who may hold each role's password: its holders and the set-up (the superusers are OPERATOR_CREDENTIALS). */
export const PG_CREDENTIAL_HOLDERS: Readonly<Partial<Record<SecretKey, readonly string[]>>> = Object.fromEntries(
  Object.values(PG_ROLES as Record<string, PgRole>)
    .filter((r) => r.password && !r.superuser)
    .map((r) => [r.password!, [...(r.holders ?? []), PG_SETUP_WORKLOAD]]),
);
