import { Construct } from 'constructs';
import * as k8s from './imports/k8s.js';
import { EDGE_ROUTES } from '../contract/index.js';
import { type Platform, portNumber } from '../model/index.js';
import { componentLabels } from './labels.js';

/**
 * The edge in Kubernetes: one Ingress with TLS from cert-manager, edge rate limiting and the
 * guide's routes (`/api` to the gateway, `/auth` to auth HTTP, health paths to the gateway).
 */
export class EdgeIngress extends Construct {
  constructor(scope: Construct, id: string, props: { readonly platform: Platform }) {
    super(scope, id);
    const { edge } = props.platform;
    const prefixes = new Set<string>(Object.values(EDGE_ROUTES));
    new k8s.KubeIngress(this, 'Resource', {
      metadata: {
        name: 'prism-ingress',
        labels: componentLabels('prism-ingress', 'edge'),
        annotations: {
          'cert-manager.io/cluster-issuer': edge.tls.clusterIssuer,
          'nginx.ingress.kubernetes.io/limit-rps': String(edge.rateLimitRps),
          'nginx.ingress.kubernetes.io/limit-burst-multiplier': '2',
          'nginx.ingress.kubernetes.io/limit-connections': String(edge.rateLimitRps),
          'nginx.ingress.kubernetes.io/ssl-redirect': 'true',
          'nginx.ingress.kubernetes.io/force-ssl-redirect': 'true',
          'nginx.ingress.kubernetes.io/proxy-body-size': '1m',
          'nginx.ingress.kubernetes.io/proxy-connect-timeout': '5',
          'nginx.ingress.kubernetes.io/proxy-read-timeout': '30',
          'nginx.ingress.kubernetes.io/proxy-send-timeout': '30',
          // The services serve HTTPS on their http ports (mesh CA certificates). Not verified yet: one
          // Ingress reaches two backends and proxy-ssl-name takes one name (see docs/security.md).
          'nginx.ingress.kubernetes.io/backend-protocol': 'HTTPS',
        },
      },
      spec: {
        ingressClassName: edge.ingressClassName,
        tls: [{ hosts: [edge.domain], secretName: edge.tls.secretName }],
        rules: [
          {
            host: edge.domain,
            http: {
              paths: edge.routes.map((r) => ({
                path: r.path,
                // `/api` and `/auth` route whole subtrees; health paths are exact.
                pathType: prefixes.has(r.path) ? 'Prefix' : 'Exact',
                backend: { service: { name: r.to, port: { number: portNumber(props.platform, r.to, r.port) } } },
              })),
            },
          },
        ],
      },
    });
  }
}
