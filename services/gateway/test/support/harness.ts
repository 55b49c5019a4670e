import { randomUUID, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { SignJWT, calculateJwkThumbprint, exportJWK } from 'jose';
import { stringify } from 'yaml';
import { AUTH_EVENT_SUBJECTS, AUTH_REDIS_KEYS, type GatewayConfigInput } from '#contract';
import { grpc, loadProto, parseEnv, ServiceRuntime } from '#runtime';
import { freePort } from '#test/support/net';
import type { ValidateApiKeyResponse__Output as ValidateApiKeyResponse } from '#runtime/proto/prism/auth/v1/ValidateApiKeyResponse';
import { startGateway, type StartedGateway } from '../../src/server.js';

export { freePort };
/** A well-formed API key (the contract's API_KEY_PATTERN; auth checks the checksum, the gateway only the shape). */
export const GOOD_API_KEY = `prism_${'A1b2C3d4E5f6'}_${'x'.repeat(32)}${'Q1w2E3'}`;
export const randomApiKey = () =>
  `prism_${randomUUID().replace(/-/g, '').slice(0, 12)}_${randomUUID().replace(/-/g, '')}abcdef`;
/** The gateway's HMAC key for its cached API-key validations in the tests (Redis never sees it). */
const TEST_CACHE_KEY = 'gateway-cache-key-for-tests-only';
export const ISSUER = 'prism-auth-test';
export const AUDIENCE = 'prism-api-test';

export function tmpDir(): string {
  return mkdtempSync(join(tmpdir(), 'prism-gw-'));
}

export interface Keys {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly publicPem: string;
  readonly publicKeyFile: string;
  /** RFC 7638 thumbprint: the kid the gateway gives the public key file. */
  readonly kid: string;
}

export async function makeKeys(dir = tmpDir()): Promise<Keys> {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const publicPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const publicKeyFile = join(dir, `public-${randomUUID()}.pem`);
  writeFileSync(publicKeyFile, publicPem);
  const kid = await calculateJwkThumbprint(await exportJWK(publicKey), 'sha256');
  return { privateKey, publicKey, publicPem, publicKeyFile, kid };
}

/** A valid access token (`typ: at+jwt`) for `sub`; `claims` and `header` override. */
export function token(
  keys: Keys,
  sub: string,
  claims: Record<string, unknown> = {},
  header: Record<string, unknown> = {},
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  // Claims go in the payload as given, so a test can set any of them to a bad value.
  return new SignJWT({
    scope: 'read write',
    roles: ['user'],
    sub,
    iss: ISSUER,
    aud: AUDIENCE,
    iat: now,
    exp: now + 600,
    ...claims,
  })
    .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid: keys.kid, ...header })
    .sign(keys.privateKey);
}

export interface Recorded {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: Buffer;
}

/** A real upstream HTTP server on 127.0.0.1 that records what it receives. */
export class TestUpstream {
  readonly requests: Recorded[] = [];
  /** Replaces the default answer (200, JSON echo of method and url). */
  respond: (req: Recorded, res: ServerResponse) => void = (r, res) => {
    res
      .writeHead(200, { 'content-type': 'application/json', 'x-upstream': 'yes' })
      .end(JSON.stringify({ method: r.method, url: r.url }));
  };
  private server: Server | undefined;
  port = 0;

  async start(port = 0): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req
        .on('data', (c: Buffer) => chunks.push(c))
        .on('end', () => {
          const rec = { method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks) };
          this.requests.push(rec);
          this.respond(rec, res);
        });
    });
    await new Promise<void>((r) => this.server!.listen(port, '127.0.0.1', () => r()));
    this.port = (this.server.address() as { port: number }).port;
    return this;
  }

  get origin(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise((r) => this.server!.close(r));
  }
}

/** A real gRPC server implementing prism.auth.v1.AuthService's ValidateApiKey from a table of keys. */
export async function startAuthGrpc(
  keys: Record<string, Omit<ValidateApiKeyResponse, 'valid' | 'reason' | 'expiresAt'> & { expiresAt?: number }>,
) {
  const calls: string[] = [];
  const AuthService = loadProto('prism/auth/v1/auth.proto').prism.auth.v1.AuthService;
  const server = new grpc.Server();
  const unimplemented = (_call: unknown, cb: grpc.sendUnaryData<unknown>) => cb({ code: grpc.status.UNIMPLEMENTED });
  server.addService(AuthService.service, {
    ValidateApiKey: (
      call: grpc.ServerUnaryCall<{ apiKey: string }, unknown>,
      cb: grpc.sendUnaryData<ValidateApiKeyResponse>,
    ) => {
      calls.push(call.request.apiKey);
      const k = keys[call.request.apiKey];
      cb(
        null,
        k
          ? { valid: true, reason: '', expiresAt: 0, ...k }
          : { valid: false, reason: 'unknown', keyId: '', userId: '', scopes: [], expiresAt: 0 },
      );
    },
    ValidateToken: unimplemented,
    GetUser: unimplemented,
  });
  const port = await new Promise<number>((res, rej) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))),
  );
  return { port, calls, close: () => new Promise<void>((r) => server.tryShutdown(() => r())) };
}

export type RouteInput = GatewayConfigInput['routes'][number];

export function route(name: string, origin: string, extra: Partial<RouteInput> = {}): RouteInput {
  return {
    prefix: `/api/${name}`,
    upstream: origin,
    rewrite: `/${name}`,
    auth_required: true,
    timeout_ms: 2_000,
    retries: 0,
    circuit_breaker: { failure_threshold: 3, reset_timeout_ms: 500, half_open_max_requests: 1 },
    ...extra,
  };
}

export interface GatewayOptions {
  readonly routes: RouteInput[];
  readonly rateLimit?: Partial<GatewayConfigInput['rate_limit']>;
  readonly server?: Partial<GatewayConfigInput['server']>;
  readonly auth?: Partial<GatewayConfigInput['auth']>;
  readonly events?: GatewayConfigInput['events'];
  readonly keys: Keys;
  readonly authGrpcPort?: number;
  /** host:port and password of Redis; the shared test Redis by default. */
  readonly redis?: { address: string; password: string };
  readonly natsUrl?: string;
  readonly env?: Record<string, string>;
  readonly jwksCooldownMs?: number;
  readonly jwksRefreshMs?: number;
  /** How often the live settings are listed again (default: the gateway's 60 s). */
  readonly configResyncMs?: number;
}

export function writeGatewayYaml(o: GatewayOptions, dir = tmpDir()): string {
  const doc: GatewayConfigInput = {
    server: { port: 8080, body_limit_bytes: 64 * 1024, request_timeout_ms: 10_000, ...o.server },
    rate_limit: {
      enabled: true,
      requests_per_second: 100_000,
      burst: 100_000,
      on_redis_failure: 'open',
      ...o.rateLimit,
    },
    // Tests share one client address (127.0.0.1) and one Redis: failed authentications are limited
    // only where a test sets failure_limit (as with the rate limit above).
    auth: {
      issuer: ISSUER,
      audience: AUDIENCE,
      clock_tolerance_seconds: 5,
      api_key_cache_seconds: 30,
      failure_limit: { max_failures: 1_000_000, window_seconds: 1 },
      ...o.auth,
    },
    routes: o.routes,
    ...(o.events ? { events: o.events } : {}),
  };
  const file = join(dir, 'gateway.yaml');
  writeFileSync(file, stringify(doc));
  return file;
}

/** The gateway's environment, as the manifests give it. */
export async function gatewayEnv(o: GatewayOptions): Promise<Record<string, string>> {
  return {
    PRISM_ENVIRONMENT: 'test',
    PRISM_LOG_LEVEL: 'warn',
    PRISM_NATS_URL: o.natsUrl ?? process.env.PRISM_TEST_NATS_URL!,
    PRISM_HTTP_PORT: String(await freePort()),
    PRISM_METRICS_PORT: String(await freePort()),
    PRISM_AUTH_GRPC_ADDRESS: `127.0.0.1:${o.authGrpcPort ?? 1}`,
    PRISM_CONFIG_GRPC_ADDRESS: '127.0.0.1:1',
    PRISM_REDIS_ADDRESS: o.redis?.address ?? process.env.PRISM_TEST_REDIS_ADDRESS!,
    PRISM_REDIS_PASSWORD: o.redis?.password ?? process.env.PRISM_TEST_REDIS_PASSWORD!,
    PRISM_GATEWAY_CACHE_KEY: TEST_CACHE_KEY,
    PRISM_GATEWAY_CONFIG_FILE: writeGatewayYaml(o),
    PRISM_JWT_ISSUER: ISSUER,
    PRISM_JWT_AUDIENCE: AUDIENCE,
    PRISM_JWT_PUBLIC_KEY_FILE: o.keys.publicKeyFile,
    PRISM_SHUTDOWN_TIMEOUT_SECONDS: '5',
    ...o.env,
  };
}

export interface RunningGateway extends StartedGateway {
  readonly url: string;
  readonly runtime: ServiceRuntime;
  readonly logs: string[];
  metrics(): Promise<string>;
  close(): Promise<void>;
}

/** The gateway in this process on a real runtime (real Redis, NATS, upstreams, gRPC). */
export async function startTestGateway(o: GatewayOptions): Promise<RunningGateway> {
  const env = await gatewayEnv(o);
  const logs: string[] = [];
  const sink = new PassThrough();
  sink.setEncoding('utf8').on('data', (c: string) => logs.push(...c.split('\n').filter(Boolean)));
  const runtime = new ServiceRuntime({
    service: 'gateway',
    env: parseEnv('gateway', env),
    handleSignals: false,
    drainDelayMs: 50,
    logDestination: sink,
  });
  const started = await startGateway(runtime, {
    host: '127.0.0.1',
    ...(o.jwksCooldownMs !== undefined ? { jwksCooldownMs: o.jwksCooldownMs } : {}),
    ...(o.jwksRefreshMs !== undefined ? { jwksRefreshMs: o.jwksRefreshMs } : {}),
    ...(o.configResyncMs !== undefined ? { configResyncMs: o.configResyncMs } : {}),
  });
  return {
    ...started,
    url: `http://127.0.0.1:${started.port}`,
    runtime,
    logs,
    metrics: async () => (await fetch(`http://127.0.0.1:${started.metricsPort}/metrics`)).text(),
    close: () => runtime.shutdown(),
  };
}

/**
 * What auth does when it revokes a session or an API key: the Redis marker first (before its transaction
 * commits), then the event from its outbox (after the commit), with the outbox's payload.
 */
export async function revokeLikeAuth(
  what: { sessionId: string } | { keyId: string },
  o: { redis?: { address: string; username?: string; password: string }; natsUrl?: string; event?: boolean } = {},
): Promise<void> {
  const { Redis } = await import('ioredis');
  const { connect } = await import('@nats-io/transport-node');
  const [host, port] = (o.redis?.address ?? process.env.PRISM_TEST_REDIS_ADDRESS!).split(':');
  const redis = new Redis({
    host: host!,
    port: Number(port),
    ...(o.redis?.username ? { username: o.redis.username } : {}),
    password: o.redis?.password ?? process.env.PRISM_TEST_REDIS_PASSWORD,
    maxRetriesPerRequest: 0,
  });
  try {
    const session = 'sessionId' in what;
    await redis.set(
      session ? AUTH_REDIS_KEYS.revokedSession(what.sessionId) : AUTH_REDIS_KEYS.revokedApiKey(what.keyId),
      'revoked',
      'EX',
      120,
    );
    if (o.event === false) return;
    const nc = await connect({ servers: o.natsUrl ?? process.env.PRISM_TEST_NATS_URL! });
    const subject = session ? AUTH_EVENT_SUBJECTS.sessionRevoked : AUTH_EVENT_SUBJECTS.apiKeyRevoked;
    const payload = session ? { session_id: what.sessionId, reason: 'logout' } : { key_id: what.keyId };
    nc.publish(
      subject,
      JSON.stringify({ id: randomUUID(), subject, user_id: 'u', ...payload, occurred_at: new Date().toISOString() }),
    );
    await nc.drain();
  } finally {
    redis.disconnect();
  }
}

/** Value of one sample in Prometheus text, or 0. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-z_]+)(\{[^}]*\})? ([0-9.e+-]+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const l = m[2] ?? '';
    if (Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`))) return Number(m[3]);
  }
  return 0;
}
