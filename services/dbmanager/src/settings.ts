import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { DATABASES, type DatabaseId } from '../../../infra/contract/index.js';
import type { ServiceEnv } from '../../runtime/src/index.js';
import type { EngineContext } from './backup/basebackup.js';
import { BackupCatalog } from './backup/catalog.js';
import { type DbTarget, findPgBin, serverMajor } from './backup/pg-tools.js';
import type { Reporter } from './backup/progress.js';
import { WalArchiver } from './backup/wal-archive.js';
import { ObjectStore } from './storage/object-store.js';

/** The scratch volume of the deployments (see the model's dbmanager writable paths), else /tmp. */
export function defaultScratchDir(): string {
  return existsSync('/var/lib/prism/scratch') ? '/var/lib/prism/scratch' : join(tmpdir(), 'prism-scratch');
}

export function dbTarget(env: ServiceEnv, id: DatabaseId): DbTarget {
  const e = env as unknown as Record<string, string | number>;
  const P = id.toUpperCase();
  return {
    id,
    host: String(e[`PRISM_${P}_DB_HOST`]),
    port: Number(e[`PRISM_${P}_DB_PORT`]),
    user: String(e[`PRISM_${P}_DB_USER`]),
    password: String(e[`PRISM_${P}_DB_PASSWORD`]),
    database: String(e[`PRISM_${P}_DB_NAME`] ?? DATABASES[id].name),
  };
}

/** Everything the backup engine needs, built from the validated environment. */
export class DbManagerContext {
  readonly targets: Record<DatabaseId, DbTarget>;
  readonly opsPool: pg.Pool;
  readonly store: ObjectStore;
  readonly catalog: BackupCatalog;
  readonly scratchDir: string;
  readonly retentionDays: number;
  private readonly explicitPgBin: string | undefined;
  private readonly pgBins = new Map<DatabaseId, Promise<string>>();

  constructor(env: ServiceEnv, o: { scratchDir?: string; pgBin?: string } = {}) {
    this.targets = { auth: dbTarget(env, 'auth'), ops: dbTarget(env, 'ops') };
    const ops = this.targets.ops;
    this.opsPool = new pg.Pool({ host: ops.host, port: ops.port, user: ops.user, password: ops.password, database: ops.database, max: 4 });
    this.opsPool.on('error', () => {}); // idle-client errors surface on the next query
    this.store = new ObjectStore({
      endpoint: String(env.PRISM_S3_ENDPOINT),
      region: String(env.PRISM_S3_REGION ?? 'us-east-1'),
      bucket: String(env.PRISM_S3_BUCKET),
      accessKeyId: String(env.PRISM_S3_ACCESS_KEY),
      secretAccessKey: String(env.PRISM_S3_SECRET_KEY),
    });
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

  async engine(db: DatabaseId, report: Reporter): Promise<EngineContext> {
    return { store: this.store, catalog: this.catalog, pgBin: await this.pgBin(db), scratchDir: this.scratchDir, report };
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
