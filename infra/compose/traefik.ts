import { EDGE_ROUTES } from '../contract/index.js';
import {
  type Component,
  type EdgeRoute,
  type Platform,
  component,
  portNumber,
  resolveRef,
  toYaml,
} from '../model/index.js';
import { TRAEFIK_DIR } from './layout.js';

/**
 * Traefik, the edge of the Compose set-up: static configuration (`traefik.yml` for production
 * with Let's Encrypt, `traefik.dev.yml` with Traefik's self-signed default certificate) and the
 * dynamic configuration in `dynamic/` (routers and services from the model's edge routes, edge
 * rate limiting, circuit breaker, security headers, TLS options). Traefik reads files only: it
 * gets no Docker socket.
 */

export const TRAEFIK_CONFIG_PATH = '/etc/traefik/traefik.yml';
export const TRAEFIK_DYNAMIC_DIR = '/etc/traefik/dynamic';
/** Static configuration the overlay mounts unless `.env` names the other one. */
export const TRAEFIK_STATIC_FILES = { production: 'traefik.yml', development: 'traefik.dev.yml' } as const;
export const TRAEFIK_STATIC_VARIABLE = 'TRAEFIK_STATIC_CONFIG';

const MIDDLEWARES = {
  rateLimit: 'edge-rate-limit',
  circuitBreaker: 'edge-circuit-breaker',
  headers: 'edge-security-headers',
} as const;
const HEADER = '# Rendered from the Prism platform model (npm run synth); do not edit by hand.\n';

/** Entry points are the edge component's named ports. */
function entryPoints(edge: Component) {
  const port = (name: string) => {
    const p = edge.ports.find((x) => x.name === name);
    if (!p) throw new Error(`edge component has no port named ${name}`);
    return `:${p.port}`;
  };
  return { web: port('web'), websecure: port('websecure'), ping: port('ping') };
}

/** acme.json on the edge's persistent volume: on its read-only root Traefik could not store a certificate. */
function acmeStorage(edge: Component): string {
  if (!edge.persistence)
    throw new Error('edge component has no persistence: Traefik could not store its ACME certificate');
  return `${edge.persistence.mountPath}/acme.json`;
}

function staticConfig(platform: Platform, mode: 'production' | 'development'): string {
  const edge = component(platform, 'edge');
  const ep = entryPoints(edge);
  const prod = mode === 'production';
  const doc = {
    global: { checkNewVersion: false, sendAnonymousUsage: false },
    log: { level: prod ? 'WARN' : 'INFO', format: 'json' },
    accessLog: { format: 'json' },
    api: { dashboard: false },
    ping: { entryPoint: 'ping' },
    entryPoints: {
      web: {
        address: ep.web,
        http: { redirections: { entryPoint: { to: 'websecure', scheme: 'https', permanent: true } } },
      },
      websecure: {
        address: ep.websecure,
        http: {
          tls: prod ? { certResolver: 'letsencrypt', domains: [{ main: platform.edge.domain }] } : {},
        },
      },
      ping: { address: ep.ping },
    },
    providers: { file: { directory: TRAEFIK_DYNAMIC_DIR, watch: true } },
    ...(prod
      ? {
          certificatesResolvers: {
            letsencrypt: { acme: { storage: acmeStorage(edge), httpChallenge: { entryPoint: 'web' } } },
          },
        }
      : {}),
  };
  return HEADER + toYaml(doc);
}

/** The model's edge routes; `/api` and `/auth` are subtrees, the health paths exact (as the Ingress). */
const PREFIXES: ReadonlySet<string> = new Set<string>(Object.values(EDGE_ROUTES));

function routeRule(r: EdgeRoute): string {
  return PREFIXES.has(r.path) ? `PathPrefix(\`${r.path}\`)` : `Path(\`${r.path}\`)`;
}

const serviceId = (r: Pick<EdgeRoute, 'to' | 'port'>) => `${r.to}-${r.port}`;
const transportId = (to: string) => `mesh-${to}`;
const routerId = (r: EdgeRoute) => `${r.to}${r.path.replace(/[^a-z0-9]+/g, '-').replace(/-$/, '')}`;

function routersAndServices(platform: Platform): string {
  const routes = platform.edge.routes;
  const routers = Object.fromEntries(
    routes.map((r) => [
      routerId(r),
      {
        entryPoints: ['websecure'],
        rule: routeRule(r),
        service: serviceId(r),
        middlewares: [MIDDLEWARES.rateLimit, MIDDLEWARES.circuitBreaker, MIDDLEWARES.headers],
        tls: {},
      },
    ]),
  );
  const targets = [...new Map(routes.map((r) => [serviceId(r), r])).values()];
  const services = Object.fromEntries(
    targets.map((r) => {
      const c = component(platform, r.to);
      const ready = c.readiness.action;
      // Health-check integration: Traefik takes a server out of rotation when its readiness endpoint fails.
      const healthCheck =
        'http' in ready
          ? {
              // The health port (metrics) stays plaintext while the service's URL is https.
              scheme: 'http',
              path: ready.http.path,
              port: portNumber(platform, c.name, ready.http.port),
              interval: `${c.readiness.periodSeconds}s`,
              timeout: `${c.readiness.timeoutSeconds ?? 1}s`,
            }
          : undefined;
      return [
        serviceId(r),
        {
          loadBalancer: {
            servers: [{ url: resolveRef(platform, { component: r.to, port: r.port, scheme: 'https' }) }],
            passHostHeader: true,
            serversTransport: transportId(r.to),
            ...(healthCheck ? { healthCheck } : {}),
          },
        },
      ];
    }),
  );
  // HTTPS to every backend, verified against the mesh CA only, by the name the certificate carries
  // (not the client's Host header, which Traefik would otherwise send as SNI with passHostHeader).
  const caFile = component(platform, 'edge').meshCaFile;
  if (!caFile) throw new Error('edge component has no meshCaFile: Traefik cannot verify the services');
  const serversTransports = Object.fromEntries(
    [...new Set(targets.map((r) => r.to))].map((to) => [transportId(to), { serverName: to, rootCAs: [caFile] }]),
  );
  return HEADER + toYaml({ http: { routers, services, serversTransports } });
}

function middlewares(platform: Platform): string {
  const rps = platform.edge.rateLimitRps;
  return (
    HEADER +
    toYaml({
      http: {
        middlewares: {
          // Per client IP, in front of the gateway's own Redis-backed limit; bursts of twice the rate.
          [MIDDLEWARES.rateLimit]: {
            rateLimit: { average: rps, period: '1s', burst: rps * 2, sourceCriterion: { ipStrategy: { depth: 0 } } },
          },
          // Open when more than 30% of requests fail at the network level or 25% answer 5xx other than 503
          // (ranges are [from, to)). The gateway answers 503 on purpose and at once (maintenance mode, its own
          // breaker per upstream, a store unavailable): counted here, a maintenance window opened the edge's breaker,
          // which then refused every route for up to 40 s after it ended (fallback, then recovery: seen through the
          // Compose lane).
          [MIDDLEWARES.circuitBreaker]: {
            circuitBreaker: {
              expression:
                'NetworkErrorRatio() > 0.30 || ResponseCodeRatio(500, 503, 0, 600) > 0.25 || ResponseCodeRatio(504, 600, 0, 600) > 0.25',
              checkPeriod: '10s',
              fallbackDuration: '10s',
              recoveryDuration: '30s',
            },
          },
          [MIDDLEWARES.headers]: {
            headers: {
              stsSeconds: 31536000,
              stsIncludeSubdomains: true,
              contentTypeNosniff: true,
              frameDeny: true,
              referrerPolicy: 'no-referrer',
            },
          },
        },
      },
    })
  );
}

function tlsOptions(): string {
  // The guide's minimum: TLS 1.2.
  return HEADER + toYaml({ tls: { options: { default: { minVersion: 'VersionTLS12', sniStrict: false } } } });
}

/**
 * Every Traefik file, by repository path. The production static configuration takes its
 * domain from the production stack; routes and middlewares come from the local (dev) model.
 */
export function traefikFiles(platform: Platform, production: Platform = platform): Map<string, string> {
  return new Map([
    [`${TRAEFIK_DIR}/${TRAEFIK_STATIC_FILES.production}`, staticConfig(production, 'production')],
    [`${TRAEFIK_DIR}/${TRAEFIK_STATIC_FILES.development}`, staticConfig(platform, 'development')],
    [`${TRAEFIK_DIR}/dynamic/routers.yml`, routersAndServices(platform)],
    [`${TRAEFIK_DIR}/dynamic/middlewares.yml`, middlewares(platform)],
    [`${TRAEFIK_DIR}/dynamic/tls.yml`, tlsOptions()],
  ]);
}
