import { Redis } from 'ioredis';
import { Counter } from 'prom-client';
import type { Pool } from 'undici';
import { METRICS } from '#contract';
import { natsConnectOptions, type ServiceRuntime } from '../../runtime/src/index.js';
import { Admission } from './admission.js';
import { LocalApiKeyCache } from './api-key-cache.js';
import { ApiKeyValidator, authGrpcClient } from './api-keys.js';
import { AuthFailureLimiter } from './auth-failures.js';
import { EventPublisher } from './events.js';
import { Gateway } from './gateway.js';
import { JwtVerifier } from './jwt.js';
import { DEFAULT_MAINTENANCE_MESSAGE, LiveConfig } from './live-config.js';
import { RateLimiter } from './rate-limit.js';
import { RevocationFeed } from './revocations.js';
import { gatewaySettings, readGatewayConfig } from './settings.js';

export interface StartedGateway {
  readonly port: number;
  readonly metricsPort: number;
  readonly gateway: Gateway;
  /** Auth's pushed revocations (tests wait for the channel to be up). */
  readonly revocations: RevocationFeed;
}

/** Wires the gateway on a runtime: settings, Redis, JWT keys, auth gRPC, NATS events, the HTTP server. */
export async function startGateway(
  runtime: ServiceRuntime,
  opts: {
    host?: string;
    poolOptions?: Pool.Options;
    jwksCooldownMs?: number;
    jwksRefreshMs?: number;
    configResyncMs?: number;
  } = {},
): Promise<StartedGateway> {
  const { env, log, metrics, health } = runtime;
  const settings = gatewaySettings(readGatewayConfig(env.PRISM_GATEWAY_CONFIG_FILE), env);

  const redis = new Redis({
    host: settings.redis.host,
    port: settings.redis.port,
    ...(settings.redis.username ? { username: settings.redis.username } : {}),
    password: settings.redis.password,
    // The API-key cache's connection: fail fast instead of queueing (auth answers meanwhile).
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: 250,
    enableAutoPipelining: true,
    connectionName: 'prism-gateway',
    lazyConnect: false,
  });
  metrics.observeRedis('cache', redis);
  redis.on('error', () => {}); // connection errors surface as failed commands: the API-key cache then misses
  runtime.onShutdown('redis', () => redis.quit().catch(() => redis.disconnect()));

  const jwt = await JwtVerifier.create({
    issuer: settings.auth.issuer,
    audience: settings.auth.audience,
    jwksUrl: settings.auth.jwksUrl,
    jwksCaFile: settings.auth.jwksCaFile,
    jwksServerIdentity: settings.auth.jwksServerIdentity,
    publicKeyFile: settings.auth.publicKeyFile,
    clockToleranceSeconds: settings.auth.clockToleranceSeconds,
    cacheSize: settings.auth.tokenCacheSize,
    ...(opts.jwksCooldownMs !== undefined ? { jwksCooldownMs: opts.jwksCooldownMs } : {}),
    ...(opts.jwksRefreshMs !== undefined ? { jwksRefreshMs: opts.jwksRefreshMs } : {}),
  });
  runtime.onShutdown('jwt', () => jwt.close());
  health.addCheck('jwt-keys', () => jwt.checkKeys());

  const authClient = authGrpcClient(
    settings.authGrpcAddress,
    runtime.grpcClientCredentials('auth'),
    runtime.grpcClientOptions(),
  );
  runtime.onShutdown('auth-grpc', () => authClient.close());
  const apiKeys = new LocalApiKeyCache(
    new ApiKeyValidator(authClient, redis, settings.auth.apiKeyCacheSeconds, settings.cacheKey, log),
    settings.auth.apiKeyCacheSeconds,
  );
  const authFailures = new AuthFailureLimiter(redis, settings.auth.failureLimit, log);

  // Made even when rate limiting starts disabled: the config service can switch it on.
  const limiter = new RateLimiter(settings.redis, settings.rateLimit, metrics, log);
  runtime.onShutdown('rate-limiter', () => limiter.close());
  // Auth's revocation events: until they flow (and whenever they stop) every credential is asked in Redis.
  const revocations = new RevocationFeed(log);
  revocations.start(natsConnectOptions(env.PRISM_NATS_URL, 'gateway', runtime.mtls));
  runtime.onShutdown('revocations', () => revocations.close());
  // Start with both Redis connections up when Redis is reachable (the first requests then use the shared
  // limit and the API-key cache), waiting for them together.
  await Promise.all([waitForRedis(redis, 5_000), limiter.waitReady(5_000)]).catch((e: Error) =>
    log.warn({ err: e.message }, 'Redis not reachable at start; the rate limiter applies its failure policy'),
  );
  // Failing closed makes Redis a hard dependency; failing open keeps serving without it.
  health.addCheck('redis', async () => {
    if (limiter.enabled && limiter.onRedisFailure === 'closed') await limiter.ping();
  });

  let events: EventPublisher | undefined;
  if (settings.events.enabled) {
    const publisher = new EventPublisher(settings.events.bufferSize, metrics, log);
    publisher.start(natsConnectOptions(env.PRISM_NATS_URL, 'gateway', runtime.mtls), settings.natsStreamReplicas);
    runtime.onShutdown('events', () => publisher.close());
    events = publisher;
  }

  const gateway = new Gateway({
    settings,
    log,
    metrics,
    health,
    tracing: runtime.tracing,
    jwt,
    apiKeys,
    authFailures,
    limiter,
    admission: new Admission(limiter, revocations),
    events,
    draining: () => runtime.draining,
    ...(opts.poolOptions ? { poolOptions: opts.poolOptions } : {}),
  });
  runtime.onShutdown('upstream-pools', () => gateway.close());

  const resyncs = new Counter({
    name: METRICS.configResyncs,
    help: 'Re-reads of the live settings: in_step, or behind (a change notice had been lost)',
    labelNames: ['result'],
    registers: [metrics.registry],
  });
  const live = new LiveConfig({
    address: env.PRISM_CONFIG_GRPC_ADDRESS,
    credentials: runtime.grpcClientCredentials('config'),
    environment: env.PRISM_ENVIRONMENT,
    base: {
      rateLimit: settings.rateLimit,
      maintenance: { enabled: false, message: DEFAULT_MAINTENANCE_MESSAGE },
      logLevel: log.level,
    },
    apply: (s) => {
      limiter.update(s.rateLimit);
      log.level = s.logLevel;
      gateway.applyLive(s);
    },
    onResync: (behind) => resyncs.inc({ result: behind.length > 0 ? 'behind' : 'in_step' }),
    ...(opts.configResyncMs ? { resyncMs: opts.configResyncMs } : {}),
    log,
  });
  runtime.onShutdown('config-watch', () => live.close());
  // Start with the operators' values when the config service answers soon; otherwise with gateway.yaml's.
  await live.start(2_000);

  const server = runtime.createHttpServer(gateway.handle, {
    maxHeaderSize: settings.maxHeaderBytes,
    requestTimeout: settings.requestTimeoutMs,
    headersTimeout: Math.min(settings.requestTimeoutMs, 20_000),
    keepAliveTimeout: 65_000,
  });
  const port = await runtime.listen(server, settings.httpPort, opts.host);
  const metricsPort = await runtime.start(port);
  log.info({ port, routes: settings.routes.map((r) => r.prefix), rateLimit: settings.rateLimit }, 'gateway listening');
  return { port, metricsPort, gateway, revocations };
}

function waitForRedis(redis: Redis, timeoutMs: number): Promise<void> {
  if (redis.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      redis.off('ready', onReady);
      reject(new Error(`no connection within ${timeoutMs} ms`));
    }, timeoutMs);
    const onReady = () => {
      clearTimeout(timer);
      resolve();
    };
    redis.once('ready', onReady);
  });
}
