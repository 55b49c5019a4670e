import { Writable } from 'node:stream';
import pg from 'pg';
import { migrateDatabase } from '#services/dbmanager/src/migrations/index';
import { freshDatabase } from '#services/dbmanager/test/pg-support';
import { parseEnv, ServiceRuntime } from '#runtime';
import { freePort } from '#test/support/net';
import { type AuthServiceOptions, type RunningAuthService, startAuthService } from '../../src/service.js';
import { type KeyFiles, makeKeyFiles } from './keys.js';

/** Log lines written by the service under test, kept in memory so tests can search them. */
class LogCapture extends Writable {
  readonly lines: string[] = [];
  override _write(chunk: Buffer, _enc: string, cb: () => void): void {
    this.lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    cb();
  }
  get text(): string {
    return this.lines.join('\n');
  }
}

export interface TestDatabase {
  readonly url: string;
  readonly name: string;
  drop(): Promise<void>;
}

/** A fresh database on the shared test PostgreSQL with the auth migrations applied by the DB manager's runner. */
export async function authDatabase(): Promise<TestDatabase> {
  const db = await freshDatabase('prism_auth_test');
  await migrateDatabase('auth', db.url);
  return db;
}

export interface HarnessOptions extends AuthServiceOptions {
  readonly db?: { url: string };
  readonly keys?: KeyFiles;
  readonly redis?: { address: string; password: string };
  readonly natsUrl?: string;
  readonly env?: Record<string, string>;
}

export interface Harness extends RunningAuthService {
  readonly runtime: ServiceRuntime;
  readonly base: string;
  readonly logs: LogCapture;
  readonly keys: KeyFiles;
  readonly dbUrl: string;
  readonly metricsPort: number;
  /** A direct connection to the service's database, for assertions. */
  readonly sql: pg.Pool;
  close(): Promise<void>;
}

/** The raw environment of an auth process for the test servers (and the given overrides). */
export async function authEnvVars(opts: {
  dbUrl: string;
  keys: KeyFiles;
  redis?: { address: string; password: string };
  natsUrl?: string;
  env?: Record<string, string>;
}): Promise<Record<string, string>> {
  const u = new URL(opts.dbUrl);
  const [httpPort, grpcPort, metricsPort] = [await freePort(), await freePort(), await freePort()];
  return {
    PRISM_ENVIRONMENT: 'test',
    PRISM_LOG_LEVEL: 'info',
    PRISM_NATS_URL: opts.natsUrl ?? process.env.PRISM_TEST_NATS_URL!,
    PRISM_HTTP_PORT: String(httpPort),
    PRISM_GRPC_PORT: String(grpcPort),
    PRISM_METRICS_PORT: String(metricsPort),
    PRISM_AUTH_DB_HOST: u.hostname,
    PRISM_AUTH_DB_PORT: u.port,
    PRISM_AUTH_DB_NAME: u.pathname.slice(1),
    PRISM_AUTH_DB_USER: decodeURIComponent(u.username),
    PRISM_AUTH_DB_PASSWORD: decodeURIComponent(u.password),
    PRISM_REDIS_ADDRESS: opts.redis?.address ?? process.env.PRISM_TEST_REDIS_ADDRESS!,
    PRISM_REDIS_PASSWORD: opts.redis?.password ?? process.env.PRISM_TEST_REDIS_PASSWORD!,
    PRISM_JWT_ISSUER: 'https://prism.test',
    PRISM_JWT_AUDIENCE: 'prism-api',
    PRISM_JWT_PRIVATE_KEY_FILE: opts.keys.privateFile,
    PRISM_JWT_PUBLIC_KEY_FILE: opts.keys.publicFile,
    PRISM_ACCESS_TOKEN_TTL_SECONDS: '300',
    PRISM_PUBLIC_BASE_URL: 'https://prism.test',
    PRISM_SHUTDOWN_TIMEOUT_SECONDS: '5',
    ...opts.env,
  };
}

/** Starts the real auth service (HTTP, gRPC, metrics) on free ports against real servers. */
export async function startHarness(opts: HarnessOptions = {}): Promise<Harness> {
  const ownDb = opts.db ? undefined : await authDatabase();
  const dbUrl = opts.db?.url ?? ownDb!.url;
  const keys = opts.keys ?? makeKeyFiles();
  const vars = await authEnvVars({
    dbUrl,
    keys,
    ...(opts.redis ? { redis: opts.redis } : {}),
    ...(opts.natsUrl ? { natsUrl: opts.natsUrl } : {}),
    ...(opts.env ? { env: opts.env } : {}),
  });
  const env = parseEnv('auth', vars);
  const metricsPort = env.PRISM_METRICS_PORT;
  const logs = new LogCapture();
  const runtime = new ServiceRuntime({
    service: 'auth',
    env,
    handleSignals: false,
    drainDelayMs: 0,
    logDestination: logs,
  });
  const svc = await startAuthService(runtime, { host: '127.0.0.1', ...opts });
  await runtime.start(svc.httpPort);
  const sql = new pg.Pool({ connectionString: dbUrl, max: 2 });
  sql.on('error', () => undefined);
  return {
    ...svc,
    runtime,
    base: `http://127.0.0.1:${svc.httpPort}`,
    logs,
    keys,
    dbUrl,
    metricsPort,
    sql,
    async close() {
      await runtime.shutdown();
      await sql.end().catch(() => undefined);
      await ownDb?.drop().catch(() => undefined);
    },
  };
}

export interface JsonResponse<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

/** A JSON request to the service (real HTTP). */
export async function call<T = any>(
  base: string,
  method: string,
  path: string,
  opts: { body?: unknown; token?: string; headers?: Record<string, string>; raw?: string } = {},
): Promise<JsonResponse<T>> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  let body: string | undefined = opts.raw;
  if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers['content-type'] ??= 'application/json';
  }
  const res = await fetch(base + path, { method, headers, body, redirect: 'manual' });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    /* not JSON */
  }
  return { status: res.status, headers: res.headers, body: parsed as T };
}

let counter = 0;
/** A unique e-mail per call, so tests in one database do not collide. */
export function email(tag = 'user'): string {
  return `${tag}-${process.pid}-${Date.now().toString(36)}-${counter++}@example.test`;
}

export const PASSWORD = 'correct horse battery staple';

/**
 * Registers and logs in; returns the tokens and the user id (from /auth/me: register's answer
 * names no account, issue 22.11).
 */
export async function signUp(base: string, address = email(), password = PASSWORD) {
  const reg = await call(base, 'POST', '/auth/register', { body: { email: address, password } });
  if (reg.status !== 202) throw new Error(`register: ${reg.status} ${JSON.stringify(reg.body)}`);
  const login = await call(base, 'POST', '/auth/login', { body: { email: address, password } });
  if (login.status !== 200) throw new Error(`login: ${login.status} ${JSON.stringify(login.body)}`);
  const tokens = login.body as { access_token: string; refresh_token: string; session_id: string };
  const me = await call(base, 'GET', '/auth/me', { token: tokens.access_token });
  if (me.status !== 200) throw new Error(`me: ${me.status} ${JSON.stringify(me.body)}`);
  return { email: address, userId: me.body.id as string, ...tokens };
}
