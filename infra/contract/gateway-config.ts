import { z } from 'zod';

/**
 * The schema of the gateway's `gateway.yaml` (the guide's `gateway-config` ConfigMap).
 * The model renders it and the gateway parses it with this same schema.
 */
export const gatewayConfigSchema = z.strictObject({
  server: z.strictObject({
    port: z.number().int().min(1).max(65535),
    /** Largest request body the gateway accepts. */
    body_limit_bytes: z.number().int().positive().default(1024 * 1024),
    request_timeout_ms: z.number().int().positive().default(30_000),
    /** Largest total size of the request headers (Node's maxHeaderSize); larger gets 431. Default 16384. */
    max_header_bytes: z.number().int().min(1024).max(65_536).optional(),
    /**
     * Take the client address from the right-most `X-Forwarded-For` entry (the one the edge
     * proxy appended) instead of the socket. Only behind a proxy that always sets it. Default false.
     */
    trust_forwarded_for: z.boolean().optional(),
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
    public_key_file: z.string().optional(),
    clock_tolerance_seconds: z.number().int().min(0).max(300).default(30),
    api_key_cache_seconds: z.number().int().min(0).default(30),
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
