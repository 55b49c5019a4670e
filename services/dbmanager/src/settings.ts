import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { DATABASES, type DatabaseId } from '../../../infra/contract/index.js';
import type { ServiceEnv } from '../../runtime/src/index.js';
import type { EngineContext } from './backup/basebackup.js';
import { BackupCatalog } from './backup/catalog.js';
import { type DbTarget, findPgBin } from './backup/pg-tools.js';
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
  readonly pgBin: string;
  readonly scratchDir: string;
  readonly retentionDays: number;

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
    this.pgBin = findPgBin(o.pgBin);
    this.scratchDir = o.scratchDir ?? defaultScratchDir();
    this.retentionDays = Number(env.PRISM_BACKUP_RETENTION_DAYS ?? 14);
  }

  engine(report: Reporter): EngineContext {
    return { store: this.store, catalog: this.catalog, pgBin: this.pgBin, scratchDir: this.scratchDir, report };
  }

  archiver(id: DatabaseId, log?: (line: string) => void): WalArchiver {
    return new WalArchiver({
      target: this.targets[id],
      store: this.store,
      catalog: this.catalog,
      pgBin: this.pgBin,
      spoolDir: join(this.scratchDir, 'wal-spool', id),
      ...(log ? { log } : {}),
    });
  }

  async close(): Promise<void> {
    await this.opsPool.end();
    this.store.destroy();
  }
}
