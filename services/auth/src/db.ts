import pg from 'pg';
import { type Logger, pgClientSsl } from '../../runtime/src/index.js';
import { DependencyUnavailable, isConnectionError } from './errors.js';

export type Db = pg.Pool;
export type Tx = pg.PoolClient;

export interface DbOptions {
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly user: string;
  readonly password: string;
  /** @default 10 */
  readonly max?: number;
}

/**
 * A pool that survives PostgreSQL restarts: broken idle clients are dropped (their 'error' is
 * logged, not thrown), connection attempts give up after 2 s so requests fail fast while the
 * server is down, and statements are bounded so a stuck query cannot hold a request forever.
 */
export function createDb(opts: DbOptions, log: Logger): Db {
  const pool = new pg.Pool({
    host: opts.host,
    port: opts.port,
    database: opts.database,
    user: opts.user,
    password: opts.password,
    ssl: pgClientSsl(opts.host),
    max: opts.max ?? 10,
    connectionTimeoutMillis: 2_000,
    idleTimeoutMillis: 30_000,
    statement_timeout: 5_000,
    query_timeout: 6_000,
    application_name: 'prism-auth',
  });
  pool.on('error', (e) => log.warn({ err: e.message }, 'idle PostgreSQL connection lost'));
  return pool;
}

/** Runs `fn` in a transaction; connection failures become {@link DependencyUnavailable}. */
export async function inTx<T>(db: Db, fn: (tx: Tx) => Promise<T>): Promise<T> {
  let client: pg.PoolClient;
  try {
    client = await db.connect();
  } catch (e) {
    throw new DependencyUnavailable('postgres', e);
  }
  let broken = false;
  try {
    await client.query('BEGIN');
    const out = await fn(client);
    await client.query('COMMIT');
    return out;
  } catch (e) {
    broken = !(e instanceof DependencyUnavailable) && isConnectionError(e);
    if (!broken) await client.query('ROLLBACK').catch(() => (broken = true));
    throw broken ? new DependencyUnavailable('postgres', e) : e;
  } finally {
    // A client whose connection broke is destroyed rather than returned to the pool.
    client.release(broken || undefined);
  }
}

/** One query outside a transaction, with the same error mapping. */
export async function query<R extends pg.QueryResultRow>(
  db: Db | Tx,
  text: string,
  values: unknown[] = [],
): Promise<pg.QueryResult<R>> {
  try {
    return await db.query<R>(text, values);
  } catch (e) {
    throw !(e instanceof DependencyUnavailable) && isConnectionError(e) ? new DependencyUnavailable('postgres', e) : e;
  }
}
