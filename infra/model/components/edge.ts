import {
  EDGE_ROUTES,
  EDGE_SPIFFE_ID,
  GATEWAY_PUBLIC_HEALTH_PATHS,
  MTLS_DIR,
  MTLS_FILES,
  PORTS,
} from '../../contract/index.js';
import type { Component, Edge, Image } from '../types.js';
import { THIRD_PARTY_IMAGES } from '../images.js';
import { type BuildContext, RUN_AS, httpGet, probe, TMP } from './common.js';

/** The pin, its support date and reason: infra/model/images.ts. */
const TRAEFIK_IMAGE = THIRD_PARTY_IMAGES.traefik satisfies Image;

/** Where Traefik stores what Let's Encrypt issues (the production static configuration's `acme.storage`). */
const TRAEFIK_ACME_DIR = '/var/lib/traefik';

/** The guide's access points: `/api/*` to the gateway, `/auth/*` to auth HTTP, health to the gateway. */
export function edge(ctx: BuildContext): Edge {
  return {
    domain: ctx.config.domain,
    routes: [
      { path: EDGE_ROUTES.api, to: 'gateway', port: 'http' },
      { path: EDGE_ROUTES.auth, to: 'auth', port: 'http' },
      ...GATEWAY_PUBLIC_HEALTH_PATHS.map((path) => ({ path, to: 'gateway' as const, port: 'http' })),
    ],
    rateLimitRps: ctx.config.ingress.rateLimitRps,
    tls: ctx.config.tls,
    ingressClassName: ctx.config.ingress.className,
    controllerNamespace: ctx.config.ingress.controllerNamespace,
    backendTls: { secretName: 'prism-ingress-mtls', identityUri: EDGE_SPIFFE_ID },
  };
}

/**
 * The edge proxy as a component (Traefik). Compose runs it; in Kubernetes the cluster's
 * ingress controller plays this part and the edge is rendered as an Ingress.
 */
export function edgeProxy(ctx: BuildContext, e: Edge): Component {
  return {
    name: 'edge',
    description: 'Edge proxy: TLS termination, edge rate limiting, circuit breaker, routing',
    layer: 'edge',
    tier: 'frontend',
    image: TRAEFIK_IMAGE,
    ports: [
      { name: 'web', port: PORTS.traefikWeb, publish: true },
      { name: 'websecure', port: PORTS.traefikWebsecure, publish: true },
      { name: 'ping', port: PORTS.traefikPing },
    ],
    env: {},
    liveness: probe(httpGet('/ping', 'ping'), 5, 10),
    readiness: probe(httpGet('/ping', 'ping'), 5, 5),
    resources: ctx.config.resources.edge,
    scaling: { replicas: 1 },
    configFiles: [],
    // Traefik verifies the services' HTTPS against the mesh CA, at the path the services use.
    meshCaFile: `${MTLS_DIR}/${MTLS_FILES.ca}`,
    writablePaths: [TMP],
    // The production configuration's ACME account and certificates (Traefik writes acme.json, mode 0600, there):
    // kept across restarts, on a volume its user owns, not on the read-only root filesystem.
    persistence: { mountPath: TRAEFIK_ACME_DIR, size: '16Mi' },
    flows: [...new Map(e.routes.map((r) => [`${r.to}/${r.port}`, { to: r.to, port: r.port }])).values()],
    tasks: [],
    terminationGracePeriodSeconds: 30,
    user: RUN_AS,
  };
}
