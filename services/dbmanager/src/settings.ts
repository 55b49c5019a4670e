import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { DATABASES, type DatabaseId, PG_LOGIN_ROLES, PG_ROLES, type PgLoginRoleId, pgPasswordVar } from '#contract';
import { EnvError, type ServiceEnv, pgClientSsl } from '../../runtime/src/index.js';
import type { EngineContext } from './backup/basebackup.js';
import { BackupCatalog } from './backup/catalog.js';
import { type DbTarget, findPgBin, serverMajor } from './backup/pg-tools.js';
import type { Reporter } from './backup/progress.js';
import { WalArchiver } from './backup/wal-archive.js';
import { MirroredStore } from './storage/mirrored-store.js';
import { type BackupStore, ObjectStore, type StorageConfig } from './storage/object-store.js';

/** The scratch volume of the deployments (see the model's dbmanager writable paths), else /tmp. */
function defaultScratchDir(): string {
  return existsSync('/var/lib/prism/scratch') ? '/var/lib/prism/scratch' : join(tmpdir(), 'prism-scratch');
}

/**
 * A database as one of the DB manager's roles sees it (PG_ROLES): `backup` for backups and WAL
 * archiving, `admin` (the superuser) for the migration. The role names come from the contract,
 * the passwords from PRISM_PG_<ROLE>_PASSWORD; a job without its role's password fails at connecting.
 */
export function dbTarget(env: ServiceEnv, id: DatabaseId, purpose: 'backup' | 'admin' = 'backup'): DbTarget {
  const e = env as unknown as Record<string, string | number | undefined>;
  const P = id.toUpperCase();
  const role: PgLoginRoleId = `${id}_${purpose}`;
  return {
    id,
    host: String(e[`PRISM_${P}_DB_HOST`]),
    port: Number(e[`PRISM_${P}_DB_PORT`]),
    user: PG_ROLES[role].name,
    password: String(e[pgPasswordVar(role)] ?? ''),
    database: String(e[`PRISM_${P}_DB_NAME`] ?? DATABASES[id].name),
  };
}

/** The passwords the migration gives a database's roles; every one must be set. */
export function rolePasswords(env: ServiceEnv, db: DatabaseId): (id: PgLoginRoleId) => string {
  const e = env as unknown as Record<string, string | undefined>;
  const missing = PG_LOGIN_ROLES.filter((id) => PG_ROLES[id].db === db && !e[pgPasswordVar(id)]).map(pgPasswordVar);
  if (missing.length)
    throw new EnvError(`the migration of ${DATABASES[db].name} sets up its roles and needs ${missing.join(', ')}`);
  return (id) => e[pgPasswordVar(id)]!;
}

/** Which store a restore or listing reads: in-cluster (the default) or off-site (the cluster's store is lost). */
export type StoreSource = 'in-cluster' | 'offsite';

const OFFSITE_VARS = [
  'PRISM_OFFSITE_S3_ENDPOINT',
  'PRISM_OFFSITE_S3_BUCKET',
  'PRISM_OFFSITE_S3_ACCESS_KEY',
  'PRISM_OFFSITE_S3_SECRET_KEY',
] as const;

/** The off-site store's settings: all of its variables, or none (then there is no off-site copy). */
function offsiteConfig(env: ServiceEnv): StorageConfig | undefined {
  const e = env as unknown as Record<string, string | undefined>;
  const set = OFFSITE_VARS.filter((v) => e[v] !== undefined && e[v] !== '');
  if (set.length === 0) return undefined;
  if (set.length < OFFSITE_VARS.length) {
    throw new EnvError(
      `an off-site backup store needs ${OFFSITE_VARS.join(', ')}; missing: ${OFFSITE_VARS.filter((v) => !set.includes(v)).join(', ')}`,
    );
  }
  return {
    endpoint: e.PRISM_OFFSITE_S3_ENDPOINT!,
    region: e.PRISM_OFFSITE_S3_REGION || 'us-east-1',
    bucket: e.PRISM_OFFSITE_S3_BUCKET!,
    accessKeyId: e.PRISM_OFFSITE_S3_ACCESS_KEY!,
    secretAccessKey: e.PRISM_OFFSITE_S3_SECRET_KEY!,
  };
}

/** Everything the backup engine needs, built from the validated environment. */
export class DbManagerContext {
  readonly targets: Record<DatabaseId, DbTarget>;
  readonly opsPool: pg.Pool;
  /** Where backups and WAL are written: the in-cluster store, mirrored off-site when configured. */
  readonly store: BackupStore;
  readonly inCluster: ObjectStore;
  readonly offsite: ObjectStore | undefined;
  readonly catalog: BackupCatalog;
  readonly scratchDir: string;
  readonly retentionDays: number;
  private readonly explicitPgBin: string | undefined;
  private readonly pgBins = new Map<DatabaseId, Promise<string>>();

  constructor(
    readonly env: ServiceEnv,
    o: { scratchDir?: string; pgBin?: string } = {},
  ) {
    this.targets = { auth: dbTarget(env, 'auth'), ops: dbTarget(env, 'ops') };
    const ops = this.targets.ops;
    // The backup catalogue, as its own role (rows of the catalogue's tables, nothing else).
    this.opsPool = new pg.Pool({
      host: ops.host,
      port: ops.port,
      user: String(env.PRISM_OPS_DB_USER),
      password: String(env.PRISM_OPS_DB_PASSWORD),
      database: ops.database,
      ssl: pgClientSsl(ops.host),
      max: 4,
    });
    this.opsPool.on('error', () => {}); // idle-client errors surface on the next query
    this.inCluster = new ObjectStore({
      endpoint: String(env.PRISM_S3_ENDPOINT),
      region: String(env.PRISM_S3_REGION ?? 'us-east-1'),
      bucket: String(env.PRISM_S3_BUCKET),
      accessKeyId: String(env.PRISM_S3_ACCESS_KEY),
      secretAccessKey: String(env.PRISM_S3_SECRET_KEY),
    });
    const off = offsiteConfig(env);
    this.offsite = off ? new ObjectStore(off) : undefined;
    this.store = this.offsite ? new MirroredStore(this.inCluster, this.offsite) : this.inCluster;
    this.catalog = new BackupCatalog(this.opsPool);
    this.explicitPgBin = o.pgBin ?? env.PRISM_PG_BIN_DIR;
    if (this.explicitPgBin) findPgBin({ explicit: this.explicitPgBin }); // a wrong setting fails at start
    this.scratchDir = o.scratchDir ?? env.PRISM_DBMANAGER_SCRATCH_DIR ?? defaultScratchDir();
    this.retentionDays = Number(env.PRISM_BACKUP_RETENTION_DAYS ?? 14);
  }

  /**
   * The PostgreSQL bin directory for a database: the explicit setting, else the one matching the
   * server's major version (asked once; a server that does not answer leaves the version unknown,
   * as when restoring after losing it).
   */
  pgBin(db: DatabaseId): Promise<string> {
    let p = this.pgBins.get(db);
    if (!p) {
      p = (async () => {
        if (this.explicitPgBin) return findPgBin({ explicit: this.explicitPgBin });
        const major = await serverMajor(this.targets[db]).catch(() => undefined);
        return findPgBin({ serverMajor: major });
      })();
      // Not remembered when unknown, so a server that comes up later is asked again.
      p.catch(() => this.pgBins.delete(db));
      this.pgBins.set(db, p);
    }
    return p;
  }

  /** One store to read from (`--from`), or the store backups are written to. */
  storeFor(from: StoreSource | undefined): BackupStore {
    if (from === 'in-cluster') return this.inCluster;
    if (from === 'offsite') {
      if (!this.offsite)
        throw new Error('no off-site store is configured (PRISM_OFFSITE_S3_*; stack key backups.offsite)');
      return this.offsite;
    }
    return this.store;
  }

  /** The engine over the store backups are written to, or over one store alone to read from it. */
  async engine(db: DatabaseId, report: Reporter, from?: StoreSource): Promise<EngineContext> {
    return {
      store: this.storeFor(from),
      catalog: this.catalog,
      pgBin: await this.pgBin(db),
      scratchDir: this.scratchDir,
      report,
    };
  }

  async archiver(id: DatabaseId, log?: (line: string) => void): Promise<WalArchiver> {
    return new WalArchiver({
      target: this.targets[id],
      store: this.store,
      catalog: this.catalog,
      pgBin: await this.pgBin(id),
      spoolDir: join(this.scratchDir, 'wal-spool', id),
      ...(log ? { log } : {}),
    });
  }

  async close(): Promise<void> {
    await this.opsPool.end();
    this.store.destroy();
  }
}
