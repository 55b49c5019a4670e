import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { AUTH_FAILURE_LIMIT_DEFAULTS, gatewayConfigSchema, type GatewayConfig } from '#contract';
import type { ServiceEnv } from '../../runtime/src/index.js';

/** A gateway.yaml that cannot be used; `message` is one line naming the file and the key. */
class GatewayConfigError extends Error {
  override readonly name = 'GatewayConfigError';
}

export interface Route {
  /** `/api/<service>` */
  readonly prefix: string;
  /** `<service>`: used in metric labels and event subjects. */
  readonly name: string;
  /** `http://host:port` or `https://host:port` of the upstream. */
  readonly origin: string;
  /** CA bundle (PEM) the https upstream's certificate must chain to; undefined: the system CAs. */
  readonly caFile?: string | undefined;
  /** URI SAN the upstream's certificate must carry (the mesh identity of the service behind it). */
  readonly serverIdentity?: string | undefined;
  /** Path prefix the upstream receives instead of `prefix`. */
  readonly rewrite: string;
  readonly authRequired: boolean;
  readonly timeoutMs: number;
  readonly retries: number;
  readonly breaker: {
    readonly failureThreshold: number;
    readonly resetTimeoutMs: number;
    readonly halfOpenMaxRequests: number;
  };
}

/** Everything the gateway needs, from gateway.yaml and the environment (the environment wins where both say). */
export interface GatewaySettings {
  readonly httpPort: number;
  readonly bodyLimitBytes: number;
  readonly maxHeaderBytes: number;
  readonly requestTimeoutMs: number;
  /** Proxies whose X-Forwarded-For is believed (addresses, CIDR blocks); empty: the socket address is the client. */
  readonly trustedProxies: readonly string[];
  readonly rateLimit: {
    readonly enabled: boolean;
    readonly requestsPerSecond: number;
    readonly burst: number;
    readonly onRedisFailure: 'open' | 'closed';
  };
  readonly auth: {
    readonly issuer: string;
    readonly audience: string;
    readonly jwksUrl?: string | undefined;
    readonly jwksCaFile?: string | undefined;
    readonly jwksServerIdentity?: string | undefined;
    readonly publicKeyFile?: string | undefined;
    readonly clockToleranceSeconds: number;
    readonly apiKeyCacheSeconds: number;
    readonly tokenCacheSize: number;
    readonly failureLimit: { readonly maxFailures: number; readonly windowSeconds: number };
  };
  readonly events: { readonly enabled: boolean; readonly bufferSize: number };
  readonly routes: readonly Route[];
  readonly redis: {
    readonly host: string;
    readonly port: number;
    readonly username?: string;
    readonly password: string;
  };
  /** Signs the API-key validations the gateway caches in Redis. */
  readonly cacheKey: string;
  /** Replicas of the request stream (PRISM_NATS_STREAM_REPLICAS). */
  readonly natsStreamReplicas: number;
  readonly authGrpcAddress: string;
}

/** Reads and validates gateway.yaml; errors name the file and the first bad key. */
export function readGatewayConfig(file: string): GatewayConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new GatewayConfigError(
      `gateway config ${file}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
    );
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw new GatewayConfigError(`gateway config ${file}: not valid YAML: ${(e as Error).message.split('\n')[0]}`);
  }
  const r = gatewayConfigSchema.safeParse(doc);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw new GatewayConfigError(`gateway config ${file}: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  const prefixes = new Set<string>();
  for (const route of r.data.routes) {
    // A CA for a plaintext upstream would read as protection that is not there.
    if (route.ca_file && !route.upstream.startsWith('https://'))
      throw new GatewayConfigError(
        `gateway config ${file}: routes: ${route.prefix}: ca_file is set but upstream ${route.upstream} is not https`,
      );
    if (route.server_identity && !route.ca_file)
      throw new GatewayConfigError(
        `gateway config ${file}: routes: ${route.prefix}: server_identity needs ca_file (the CA that vouches for it)`,
      );
    if (prefixes.has(route.prefix))
      throw new GatewayConfigError(`gateway config ${file}: routes: prefix ${route.prefix} appears twice`);
    prefixes.add(route.prefix);
  }
  return r.data;
}

function hostPort(address: string): { host: string; port: number } {
  const i = address.lastIndexOf(':');
  return { host: address.slice(0, i), port: Number(address.slice(i + 1)) };
}

export function gatewaySettings(config: GatewayConfig, env: ServiceEnv): GatewaySettings {
  const auth = {
    issuer: env.PRISM_JWT_ISSUER,
    audience: env.PRISM_JWT_AUDIENCE,
    jwksUrl: env.PRISM_AUTH_JWKS_URL ?? config.auth.jwks_url,
    jwksCaFile: config.auth.jwks_ca_file,
    jwksServerIdentity: config.auth.jwks_server_identity,
    publicKeyFile: env.PRISM_JWT_PUBLIC_KEY_FILE ?? config.auth.public_key_file,
    clockToleranceSeconds: config.auth.clock_tolerance_seconds,
    apiKeyCacheSeconds: config.auth.api_key_cache_seconds,
    tokenCacheSize: config.auth.token_cache_size ?? 10_000,
    failureLimit: {
      maxFailures: config.auth.failure_limit?.max_failures ?? AUTH_FAILURE_LIMIT_DEFAULTS.max_failures,
      windowSeconds: config.auth.failure_limit?.window_seconds ?? AUTH_FAILURE_LIMIT_DEFAULTS.window_seconds,
    },
  };
  if (!auth.jwksUrl && !auth.publicKeyFile) {
    throw new GatewayConfigError(
      'gateway: no JWT key source: set PRISM_AUTH_JWKS_URL or PRISM_JWT_PUBLIC_KEY_FILE (or auth.jwks_url / auth.public_key_file)',
    );
  }
  const redis = hostPort(env.PRISM_REDIS_ADDRESS);
  return {
    httpPort: env.PRISM_HTTP_PORT,
    bodyLimitBytes: config.server.body_limit_bytes,
    maxHeaderBytes: config.server.max_header_bytes ?? 16_384,
    requestTimeoutMs: config.server.request_timeout_ms,
    trustedProxies: config.server.trusted_proxies ?? [],
    rateLimit: {
      enabled: config.rate_limit.enabled,
      requestsPerSecond: config.rate_limit.requests_per_second,
      burst: config.rate_limit.burst,
      onRedisFailure: config.rate_limit.on_redis_failure,
    },
    auth,
    events: { enabled: config.events?.enabled ?? true, bufferSize: config.events?.buffer_size ?? 10_000 },
    routes: config.routes.map((r) => ({
      prefix: r.prefix,
      name: r.prefix.slice('/api/'.length),
      origin: new URL(r.upstream).origin,
      caFile: r.ca_file,
      serverIdentity: r.server_identity,
      rewrite: r.rewrite === '/' ? '' : r.rewrite.replace(/\/$/, ''),
      authRequired: r.auth_required,
      timeoutMs: r.timeout_ms,
      retries: r.retries,
      breaker: {
        failureThreshold: r.circuit_breaker.failure_threshold,
        resetTimeoutMs: r.circuit_breaker.reset_timeout_ms,
        halfOpenMaxRequests: r.circuit_breaker.half_open_max_requests,
      },
    })),
    redis: {
      ...redis,
      ...(env.PRISM_REDIS_USERNAME ? { username: env.PRISM_REDIS_USERNAME } : {}),
      password: env.PRISM_REDIS_PASSWORD,
    },
    cacheKey: env.PRISM_GATEWAY_CACHE_KEY,
    natsStreamReplicas: env.PRISM_NATS_STREAM_REPLICAS,
    authGrpcAddress: env.PRISM_AUTH_GRPC_ADDRESS,
  };
}
