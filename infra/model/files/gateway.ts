import {
  AUTH_JWKS_PATH,
  gatewayConfigSchema,
  type GatewayConfigInput,
  PORTS,
  EDGE_ROUTES,
  workloadSpiffeId,
} from '../../contract/index.js';
import type { StackConfig } from '../../config/index.js';
import { toYaml } from './yaml.js';

/**
 * The gateway's `gateway.yaml` (the guide's `gateway-config` ConfigMap), validated by the gateway's
 * own schema. `authOrigin` is the auth service's HTTPS origin: its routes and its JWKS, both verified
 * against `caFile` (the mesh CA) and auth's workload identity.
 */
export function gatewayYaml(config: StackConfig, authOrigin: string, caFile: string): string {
  const doc: GatewayConfigInput = {
    server: {
      port: PORTS.gatewayHttp,
      body_limit_bytes: 1024 * 1024,
      request_timeout_ms: 30_000,
      trusted_proxies: [...config.ingress.trustedProxies],
    },
    rate_limit: {
      enabled: config.rateLimit.enabled,
      requests_per_second: config.rateLimit.requestsPerSecond,
      burst: config.rateLimit.burst,
      on_redis_failure: config.rateLimit.onRedisFailure,
    },
    auth: {
      issuer: config.jwt.issuer,
      audience: config.jwt.audience,
      jwks_url: `${authOrigin}${AUTH_JWKS_PATH}`,
      jwks_ca_file: caFile,
      jwks_server_identity: workloadSpiffeId('auth'),
      clock_tolerance_seconds: 30,
      api_key_cache_seconds: 30,
    },
    routes: [
      {
        prefix: `${EDGE_ROUTES.api}/auth`,
        upstream: authOrigin,
        ca_file: caFile,
        // Auth's mesh identity: another workload's certificate from the same CA is not auth.
        server_identity: workloadSpiffeId('auth'),
        rewrite: EDGE_ROUTES.auth,
        auth_required: false,
        timeout_ms: 5_000,
        retries: 1,
        circuit_breaker: { failure_threshold: 5, reset_timeout_ms: 10_000, half_open_max_requests: 1 },
      },
    ],
  };
  return toYaml(gatewayConfigSchema.parse(doc));
}
