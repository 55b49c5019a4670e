import { Construct } from 'constructs';
import * as k8s from './imports/k8s.js';
import { EDGE_ROUTES } from '../contract/index.js';
import { type ComponentName, type EdgeRoute, type Platform, component, portNumber } from '../model/index.js';
import { componentLabels } from './labels.js';
import { EdgeCertificate, workloadDnsNames } from './mesh-ca.js';

export interface EdgeIngressProps {
  /** The platform whose edge routes, host and TLS settings the Ingresses carry. */
  readonly platform: Platform;
}

/**
 * The edge in Kubernetes: the guide's routes (`/api` to the gateway, `/auth` to auth HTTP, health paths
 * to the gateway) with TLS from cert-manager and edge rate limiting, as one Ingress per backend service:
 * the controller verifies each backend's HTTPS against the mesh CA and by the backend's own name, and
 * `proxy-ssl-name` takes one name per Ingress. The Ingresses share the host and its TLS Secret; the
 * first asks cert-manager for it (two would each claim the same Certificate).
 */
export class EdgeIngress extends Construct {
  /** One per backend service, in the order of the routes: `prism-ingress-<service>`. */
  readonly ingresses: readonly k8s.KubeIngress[];
  readonly certificate: EdgeCertificate;

  constructor(scope: Construct, id: string, props: EdgeIngressProps) {
    super(scope, id);
    const { platform } = props;
    const { edge } = platform;
    this.certificate = new EdgeCertificate(this, 'Certificate', {
      ca: platform.mtls,
      secretName: edge.backendTls.secretName,
      identityUri: edge.backendTls.identityUri,
      labels: componentLabels('prism-ingress', 'edge'),
    });
    const byBackend = new Map<ComponentName, EdgeRoute[]>();
    for (const r of edge.routes) byBackend.set(r.to, [...(byBackend.get(r.to) ?? []), r]);
    this.ingresses = [...byBackend].map(([backend, routes], i) => this.ingress(platform, backend, routes, i === 0));
  }

  private ingress(
    platform: Platform,
    backend: ComponentName,
    routes: readonly EdgeRoute[],
    issuesTls: boolean,
  ): k8s.KubeIngress {
    const { edge, namespace } = platform;
    const prefixes = new Set<string>(Object.values(EDGE_ROUTES));
    const name = `prism-ingress-${backend}`;
    // The name the controller checks the backend's certificate for: its Service's, as the certificate has it.
    const backendName = `${backend}.${namespace}.svc`;
    if (!workloadDnsNames(component(platform, backend), namespace).includes(backendName))
      throw new Error(`${name}: ${backend}'s certificate does not name ${backendName}`);
    return new k8s.KubeIngress(this, backend, {
      metadata: {
        name,
        labels: componentLabels('prism-ingress', 'edge'),
        annotations: {
          ...(issuesTls ? { 'cert-manager.io/cluster-issuer': edge.tls.clusterIssuer } : {}),
          'nginx.ingress.kubernetes.io/limit-rps': String(edge.rateLimitRps),
          'nginx.ingress.kubernetes.io/limit-burst-multiplier': '2',
          'nginx.ingress.kubernetes.io/limit-connections': String(edge.rateLimitRps),
          'nginx.ingress.kubernetes.io/ssl-redirect': 'true',
          'nginx.ingress.kubernetes.io/force-ssl-redirect': 'true',
          'nginx.ingress.kubernetes.io/proxy-body-size': '1m',
          'nginx.ingress.kubernetes.io/proxy-connect-timeout': '5',
          'nginx.ingress.kubernetes.io/proxy-read-timeout': '30',
          'nginx.ingress.kubernetes.io/proxy-send-timeout': '30',
          // The services serve HTTPS on their http ports with mesh certificates: verified against the
          // mesh CA (ca.crt of the edge's own certificate Secret) and by the backend's name, sent as SNI.
          'nginx.ingress.kubernetes.io/backend-protocol': 'HTTPS',
          'nginx.ingress.kubernetes.io/proxy-ssl-verify': 'on',
          'nginx.ingress.kubernetes.io/proxy-ssl-secret': `${namespace}/${edge.backendTls.secretName}`,
          'nginx.ingress.kubernetes.io/proxy-ssl-name': backendName,
          'nginx.ingress.kubernetes.io/proxy-ssl-server-name': 'on',
        },
      },
      spec: {
        ingressClassName: edge.ingressClassName,
        tls: [{ hosts: [edge.domain], secretName: edge.tls.secretName }],
        rules: [
          {
            host: edge.domain,
            http: {
              paths: routes.map((r) => ({
                path: r.path,
                // `/api` and `/auth` route whole subtrees; health paths are exact.
                pathType: prefixes.has(r.path) ? 'Prefix' : 'Exact',
                backend: { service: { name: r.to, port: { number: portNumber(platform, r.to, r.port) } } },
              })),
            },
          },
        ],
      },
    });
  }
}
