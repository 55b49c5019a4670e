import { Gauge } from 'prom-client';
import { GRPC_APIS, METRICS, type DatabaseId } from '#contract';
import { GrpcError, type ServiceRuntime, grpc, loadProto, unary } from '../../runtime/src/index.js';
import type { DbManagerHandlers } from '../../runtime/src/proto/prism/dbmanager/v1/DbManager.js';
import { connectionConfig } from './backup/pg-tools.js';
import type { WalArchiver } from './backup/wal-archive.js';
import { DATABASE_WAIT_MS, databaseMigrationStatus, migrateDatabase } from './migrations/index.js';
import { DbManagerContext, dbTarget, rolePasswords } from './settings.js';

export const DBMANAGER_SERVICE = GRPC_APIS.dbmanager.service;
const DBS: readonly DatabaseId[] = ['auth', 'ops'];

function pick(database: string): readonly DatabaseId[] {
  if (!database) return DBS;
  if (database === 'auth' || database === 'ops') return [database];
  throw new GrpcError(grpc.status.INVALID_ARGUMENT, `database "${database}" is unknown: auth, ops, or empty for both`);
}

/** The migration as the superuser (it needs every role's password: the migration's identity), once the database is up. */
function migrateWithRoles(
  ctx: DbManagerContext,
  db: DatabaseId,
  o: { readonly log?: (line: string) => void; readonly waitMs?: number } = {},
) {
  const roles = { db, password: rolePasswords(ctx.env, db) };
  return migrateDatabase(db, { ...dbTarget(ctx.env, db, 'admin') }, { roles, ...o });
}

/**
 * `serve`: migrations at start-up (PRISM_MIGRATE_ON_START), continuous WAL archiving of both
 * databases, the gRPC API (Migrate, Status, ListBackups, grpc.health.v1) and the backup gauges.
 */
export async function startDbManager(
  runtime: ServiceRuntime,
  opts: { grpcPort?: number; scratchDir?: string; pgBin?: string; archive?: boolean } = {},
) {
  const { env, log, metrics, health } = runtime;
  const ctx = new DbManagerContext(env, opts);
  runtime.onShutdown('catalog', () => ctx.close());
  metrics.observePgPool('ops', ctx.opsPool);
  for (const db of DBS) {
    const t = ctx.targets[db];
    health.addCheck(`postgres-${db}`, async () => {
      const { default: pg } = await import('pg');
      const c = new pg.Client({ ...connectionConfig(t), connectionTimeoutMillis: 1500 });
      await c.connect();
      await c.end();
    });
  }
  health.addCheck('object-storage', () => ctx.store.checkAccess());

  if (env.PRISM_MIGRATE_ON_START) {
    for (const db of DBS) {
      const r = await migrateWithRoles(ctx, db, { log: (l) => log.info(l), waitMs: DATABASE_WAIT_MS });
      log.info({ db, applied: r.applied, alreadyApplied: r.alreadyApplied }, 'migrations done');
    }
  }

  // Gauges read from the catalog at scrape time, so backups taken by the CLI and CronJobs count.
  // Both gauges read the catalog at scrape time (one query per scrape, shared), so backups and
  // verifications run by the CLI and the CronJobs count too.
  let snapshot: { at: number; data: Promise<Awaited<ReturnType<typeof ctx.catalog.health>> | undefined> } | undefined;
  const catalogHealth = () => {
    if (!snapshot || Date.now() - snapshot.at > 1000) {
      snapshot = {
        at: Date.now(),
        data: ctx.catalog.health().catch((e: Error) => {
          log.warn({ err: e.message }, 'backup catalog unreadable for metrics');
          return undefined;
        }),
      };
    }
    return snapshot.data;
  };
  new Gauge({
    name: METRICS.backupLastSuccess,
    help: 'Unix time of the last successful backup',
    labelNames: ['database', 'kind'],
    registers: [metrics.registry],
    async collect() {
      for (const r of (await catalogHealth())?.lastSuccess ?? [])
        if (r.at) this.set({ database: r.db, kind: r.kind }, r.at.getTime() / 1000);
    },
  });
  new Gauge({
    name: METRICS.backupVerified,
    help: '1 when the last restore verification of the database passed',
    labelNames: ['database'],
    registers: [metrics.registry],
    async collect() {
      for (const r of (await catalogHealth())?.verified ?? []) this.set({ database: r.db }, r.ok ? 1 : 0);
    },
  });

  const archivers: WalArchiver[] = [];
  if (opts.archive ?? true) {
    let stopped = false;
    for (const db of DBS) {
      let a: WalArchiver | undefined;
      const begin = (): void => {
        // The archiver is made once its bin directory is known (that asks the server for its version).
        (async () => {
          if (!a) {
            const made = await ctx.archiver(db, (l) => log.info(l));
            if (stopped) return;
            a = made;
            archivers.push(a);
          }
          await a.start();
        })().catch((e: Error) => {
          if (stopped) return;
          log.error({ db, err: e.message }, 'WAL archiving could not start; retrying in 10 s');
          setTimeout(begin, 10_000).unref();
        });
      };
      begin();
    }
    runtime.onShutdown('wal-archivers', () => {
      stopped = true;
      return Promise.all(archivers.map((a) => a.stop()));
    });
  }

  const server = runtime.createGrpcServer([DBMANAGER_SERVICE]);
  const Api = loadProto(GRPC_APIS.dbmanager.proto).prism.dbmanager.v1.DbManager;
  const deps = { log, metrics };
  server.addService(Api.service, {
    Migrate: unary('Migrate', deps, async (r: { database: string }) => ({
      databases: await Promise.all(
        pick(r.database).map(async (db) => {
          const res = await migrateWithRoles(ctx, db).catch((e: Error) => {
            throw new GrpcError(grpc.status.FAILED_PRECONDITION, e.message);
          });
          return {
            database: db,
            applied: [...res.applied],
            retried: [...res.retried],
            alreadyApplied: res.alreadyApplied,
          };
        }),
      ),
    })),
    Status: unary('Status', deps, async (r: { database: string }) => ({
      databases: await Promise.all(
        pick(r.database).map(async (db) => ({
          database: db,
          migrations: (await databaseMigrationStatus(db, { ...ctx.targets[db] })).map((m) => ({
            version: m.version,
            name: m.name,
            state: m.state,
            appliedAt: m.appliedAt?.toISOString() ?? '',
            error: m.error ?? '',
          })),
        })),
      ),
    })),
    ListBackups: unary('ListBackups', deps, async (r: { database: string }) => {
      const dbs = pick(r.database);
      return {
        backups: (await ctx.catalog.list(dbs.length === 1 ? dbs[0] : undefined)).map((b) => ({
          name: b.name,
          database: b.db,
          kind: b.kind,
          parent: b.parent ?? '',
          status: b.status,
          startedAt: b.started_at.toISOString(),
          finishedAt: b.finished_at?.toISOString() ?? '',
          sizeBytes: Number(b.size_bytes ?? 0),
          walStart: b.wal_start ?? '',
          walEnd: b.wal_end ?? '',
          error: b.error ?? '',
        })),
      };
    }),
  } satisfies DbManagerHandlers);
  const port = await runtime.bindGrpc(server, opts.grpcPort ?? env.PRISM_GRPC_PORT);
  log.info({ port }, 'dbmanager gRPC listening');
  return { port, ctx };
}
