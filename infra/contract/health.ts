/** Health and metrics paths served by every Prism service on {@link PORTS.metrics}. */
export const HEALTH_PATHS = {
  live: '/health/live',
  ready: '/health/ready',
  metrics: '/metrics',
} as const;

/** Health paths the gateway also answers on its public HTTP port (the edge routes them). */
export const GATEWAY_PUBLIC_HEALTH_PATHS = ['/health', '/ready', '/live'] as const;

/** Path prefixes the edge routes: `/api/*` to the gateway, `/auth/*` to auth HTTP. */
export const EDGE_ROUTES = {
  api: '/api',
  auth: '/auth',
} as const;

/** The auth service's JWK set: the keys that verify access tokens. */
export const AUTH_JWKS_PATH = `${EDGE_ROUTES.auth}/.well-known/jwks.json`;
