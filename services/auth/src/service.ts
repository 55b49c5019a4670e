import type { IncomingMessage, ServerResponse } from 'node:http';
import { availableParallelism } from 'node:os';
import { Counter } from 'prom-client';
import { METRICS } from '#contract';
import { natsConnectOptions, traceHttpServer, type ServiceRuntime } from '../../runtime/src/index.js';
import type { AuthContext, AuthSettings } from './context.js';
import { createDb, query } from './db.js';
import { addAuthService, AUTH_GRPC_SERVICE } from './grpc.js';
import { FairQueue } from './fair-queue.js';
import { buildApp } from './http/app.js';
import { loadKeyRing } from './keys.js';
import { oauthProviders, type ProviderEndpoints, type ProviderName } from './oauth-providers.js';
import { OutboxPublisher, type PublisherOptions } from './outbox.js';
import { AddressRateLimiter } from './rate-limit.js';
import { createRedis, RevocationList } from './revocation.js';
import { DEFAULT_THROTTLE, type ThrottlePolicy } from './throttle.js';
import { AccessTokens } from './tokens.js';

/**
 * Token refreshes in progress at once, by default the cores available: each is one PostgreSQL statement and a
 * signature on the thread pool, and more in flight than that only queue their completions in the event loop,
 * where every other request, the health probes too, waits behind them. On 2 cores, 2 slots against 16 kept 0.92 of
 * the refresh rate and took `/health/live` p99 during refreshes from 22-24 to 7-14 ms (README). Beyond 64 waiting
 * per slot: 503.
 */
function refreshQueue(concurrency = availableParallelism()): FairQueue {
  return new FairQueue(concurrency, 64 * concurrency, 'too many token refreshes at once');
}

export interface AuthServiceOptions {
  /** OAuth endpoints other than Google's and GitHub's (tests use a local fake provider). */
  readonly oauthEndpoints?: Partial<Record<ProviderName, Partial<ProviderEndpoints>>>;
  readonly throttle?: Partial<ThrottlePolicy>;
  readonly outbox?: Partial<Omit<PublisherOptions, 'nats'>>;
  /** @default 0.0.0.0 */
  readonly host?: string;
  /** Largest request body. @default 16 KiB */
  readonly bodyLimitBytes?: number;
}

export interface RunningAuthService {
  readonly ctx: AuthContext;
  readonly app: ReturnType<typeof buildApp>;
  readonly publisher: OutboxPublisher;
  readonly httpPort: number;
  readonly grpcPort: number;
}

/**
 * Wires the auth service on a {@link ServiceRuntime}: PostgreSQL, Redis, the key ring, the
 * outbox publisher, HTTP (fastify, on the runtime's http/https server) and gRPC (with
 * grpc.health.v1). Does not call `runtime.start()`: main.ts does, once this resolves.
 */
export async function startAuthService(
  runtime: ServiceRuntime,
  opts: AuthServiceOptions = {},
): Promise<RunningAuthService> {
  const { env, log, metrics, health } = runtime;
  const keys = await loadKeyRing(env.PRISM_JWT_PRIVATE_KEY_FILE, env.PRISM_JWT_PUBLIC_KEY_FILE);

  const db = createDb(
    // The contract types the DB variables loosely (a generated record): they are validated strings / a port.
    {
      host: String(env.PRISM_AUTH_DB_HOST),
      port: Number(env.PRISM_AUTH_DB_PORT),
      database: String(env.PRISM_AUTH_DB_NAME),
      user: String(env.PRISM_AUTH_DB_USER),
      password: String(env.PRISM_AUTH_DB_PASSWORD),
    },
    log,
  );
  runtime.onShutdown('postgres', () => db.end());
  metrics.observePgPool('auth', db);
  const redis = createRedis(
    {
      address: env.PRISM_REDIS_ADDRESS,
      ...(env.PRISM_REDIS_USERNAME ? { username: env.PRISM_REDIS_USERNAME } : {}),
      password: env.PRISM_REDIS_PASSWORD,
    },
    log,
  );
  metrics.observeRedis('revocations', redis);
  runtime.onShutdown('redis', () => redis.quit().catch(() => redis.disconnect()));
  health.addCheck('postgres', () => query(db, 'SELECT 1'));
  health.addCheck('redis', () => redis.ping());

  const publisher = new OutboxPublisher(
    db,
    {
      nats: natsConnectOptions(env.PRISM_NATS_URL, 'auth', runtime.mtls),
      streamReplicas: env.PRISM_NATS_STREAM_REPLICAS,
      ...opts.outbox,
    },
    log,
    metrics,
  );
  publisher.start();
  runtime.onShutdown('outbox', () => publisher.stop());

  const revocations = new RevocationList(redis, env.PRISM_ACCESS_TOKEN_TTL_SECONDS);
  redis.on('ready', () => {
    revocations.resync(db).then(
      (n) => n > 0 && log.info({ sessions: n }, 'revoked sessions re-published to Redis'),
      (e: Error) => log.warn({ err: e.message }, 'revoked-session resync failed'),
    );
  });

  const registers = [metrics.registry];
  const settings: AuthSettings = {
    accessTtlSeconds: env.PRISM_ACCESS_TOKEN_TTL_SECONDS,
    refreshTtlSeconds: env.PRISM_REFRESH_TOKEN_TTL_SECONDS,
    publicBaseUrl: env.PRISM_PUBLIC_BASE_URL,
    throttle: { ...DEFAULT_THROTTLE, ...opts.throttle },
  };
  const ctx: AuthContext = {
    db,
    revocations,
    tokens: new AccessTokens(keys, {
      issuer: env.PRISM_JWT_ISSUER,
      audience: env.PRISM_JWT_AUDIENCE,
      accessTtlSeconds: settings.accessTtlSeconds,
    }),
    oauth: oauthProviders(
      {
        google: { clientId: env.PRISM_GOOGLE_CLIENT_ID, clientSecret: env.PRISM_GOOGLE_CLIENT_SECRET },
        github: { clientId: env.PRISM_GITHUB_CLIENT_ID, clientSecret: env.PRISM_GITHUB_CLIENT_SECRET },
      },
      opts.oauthEndpoints,
    ),
    settings,
    log,
    metrics,
    refreshes: refreshQueue(env.PRISM_AUTH_REFRESH_CONCURRENCY),
    authMetrics: {
      logins: new Counter({
        name: METRICS.authLogins,
        help: 'Login attempts by outcome',
        labelNames: ['outcome'],
        registers,
      }),
      tokensIssued: new Counter({
        name: METRICS.authTokensIssued,
        help: 'Tokens issued by kind',
        labelNames: ['kind'],
        registers,
      }),
    },
    eventsWritten: () => publisher.kick(),
  };

  // Expired OAuth states, stale throttle rows and week-old published events are removed every few minutes.
  const janitor = setInterval(() => {
    void query(db, `DELETE FROM oauth_states WHERE expires_at < now() - interval '1 day'`)
      .then(() => query(db, `DELETE FROM outbox WHERE published_at < now() - interval '7 days'`))
      .then(() =>
        query(
          db,
          `DELETE FROM login_throttle WHERE (locked_until IS NULL OR locked_until < now())
              AND coalesce(last_failure_at, window_started_at) < now() - make_interval(secs => $1)`,
          [settings.throttle.windowSeconds],
        ),
      )
      .catch((e: Error) => log.warn({ err: e.message }, 'clean-up failed'));
  }, 5 * 60_000);
  janitor.unref();
  runtime.onShutdown('janitor', () => clearInterval(janitor));

  const limit = env.PRISM_AUTH_RATE_LIMIT_RPS
    ? { requestsPerSecond: env.PRISM_AUTH_RATE_LIMIT_RPS, burst: env.PRISM_AUTH_RATE_LIMIT_BURST }
    : undefined;
  const app = buildApp(ctx, {
    draining: () => runtime.draining,
    ...(limit ? { rateLimiter: new AddressRateLimiter(redis, limit, log) } : {}),
    trustedProxies: env.PRISM_TRUSTED_PROXIES,
    ...(opts.bodyLimitBytes ? { bodyLimitBytes: opts.bodyLimitBytes } : {}),
    serverFactory: (handler: (req: IncomingMessage, res: ServerResponse) => void) =>
      runtime.createHttpServer(traceHttpServer(runtime.tracing, handler)),
  });
  await app.listen({ port: env.PRISM_HTTP_PORT, host: opts.host ?? runtime.bindAddress });
  const httpPort = (app.server.address() as { port: number }).port;

  const grpcServer = runtime.createGrpcServer([AUTH_GRPC_SERVICE]);
  addAuthService(grpcServer, ctx);
  const grpcPort = await runtime.bindGrpc(grpcServer, env.PRISM_GRPC_PORT, opts.host);
  log.info(
    { httpPort, grpcPort, kids: keys.jwks.keys.map((k) => k.kid), oauth: Object.keys(ctx.oauth) },
    'auth listening',
  );
  return { ctx, app, publisher, httpPort, grpcPort };
}
