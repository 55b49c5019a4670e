import { z } from 'zod';
import { API_KEY_CACHE_MAX_SECONDS } from './auth.js';
import { addressOrCidr } from './network.js';

/**
 * The schema of the gateway's `gateway.yaml` (the guide's `gateway-config` ConfigMap).
 * The model renders it and the gateway parses it with this same schema.
 */
export const gatewayConfigSchema = z.strictObject({
  server: z.strictObject({
    port: z.number().int().min(1).max(65535),
    /** Largest request body the gateway accepts. */
    body_limit_bytes: z
      .number()
      .int()
      .positive()
      .default(1024 * 1024),
    request_timeout_ms: z.number().int().positive().default(30_000),
    /** Largest total size of the request headers (Node's maxHeaderSize); larger gets 431. Default 16384. */
    max_header_bytes: z.number().int().min(1024).max(65_536).optional(),
    /**
     * Addresses or CIDR blocks of the proxies in front of the gateway (the ingress controller, Traefik).
     * A request from one of them is from the right-most `X-Forwarded-For` hop that is not one of them;
     * entries left of it were written by the client and are ignored. Default none: the socket address.
     */
    trusted_proxies: z.array(addressOrCidr).optional(),
  }),
  rate_limit: z.strictObject({
    enabled: z.boolean(),
    requests_per_second: z.number().int().positive(),
    burst: z.number().int().positive(),
    /** `open`: fall back to a per-instance limiter; `closed`: reject with 503. */
    on_redis_failure: z.enum(['open', 'closed']),
  }),
  auth: z.strictObject({
    issuer: z.string().min(1),
    audience: z.string().min(1),
    jwks_url: z.string().url().optional(),
    /** CA bundle (PEM) an https JWKS URL's certificate must chain to, instead of the system CAs (the platform's mesh CA). */
    jwks_ca_file: z.string().min(1).optional(),
    /** URI SAN (`spiffe://prism/auth`) the JWKS server's certificate must carry, beyond the CA and the host name. */
    jwks_server_identity: z.string().startsWith('spiffe://').optional(),
    public_key_file: z.string().optional(),
    clock_tolerance_seconds: z.number().int().min(0).max(300).default(30),
    /** At most API_KEY_CACHE_MAX_SECONDS: auth's revocation marker must outlive every cached validation. */
    api_key_cache_seconds: z.number().int().min(0).max(API_KEY_CACHE_MAX_SECONDS).default(30),
    /** Failed authentications per client address and window before 429 (AUTH_FAILURE_LIMIT_DEFAULTS). */
    failure_limit: z
      .strictObject({
        max_failures: z.number().int().positive(),
        window_seconds: z.number().int().positive().max(3600),
      })
      .optional(),
    /** Verified JWTs remembered (their `exp`/`nbf` re-checked on each use); 0 verifies every request. Default 10000. */
    token_cache_size: z.number().int().min(0).optional(),
  }),
  /** Request events published to NATS JetStream on `prism.gateway.request.<route>`. Default: enabled, 10000. */
  events: z
    .strictObject({
      enabled: z.boolean(),
      /** Events waiting to be published; when full, new events are dropped and counted. */
      buffer_size: z.number().int().positive(),
    })
    .optional(),
  routes: z.array(
    z.strictObject({
      /** Public path prefix, `/api/<service>`. */
      prefix: z.string().regex(/^\/api\/[a-z0-9-]+$/),
      upstream: z.string().url(),
      /** CA bundle (PEM) an https upstream's certificate must chain to, instead of the system CAs (the platform's mesh CA). */
      ca_file: z.string().min(1).optional(),
      /** URI SAN (`spiffe://prism/<service>`) the https upstream's certificate must carry: another workload's certificate from the same CA is refused. */
      server_identity: z.string().startsWith('spiffe://').optional(),
      /** Path prefix the upstream receives instead of `prefix`. */
      rewrite: z.string().startsWith('/'),
      /** Require a verified JWT or API key. */
      auth_required: z.boolean(),
      timeout_ms: z.number().int().positive(),
      retries: z.number().int().min(0).max(5),
      circuit_breaker: z.strictObject({
        failure_threshold: z.number().int().positive(),
        reset_timeout_ms: z.number().int().positive(),
        half_open_max_requests: z.number().int().positive(),
      }),
    }),
  ),
});

export type GatewayConfig = z.infer<typeof gatewayConfigSchema>;
export type GatewayConfigInput = z.input<typeof gatewayConfigSchema>;

/** Failed authentications (forged tokens, unknown API keys) allowed per client address and window before 429. */
export const AUTH_FAILURE_LIMIT_DEFAULTS = { max_failures: 20, window_seconds: 60 } as const;
