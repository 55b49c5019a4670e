import { GRPC_APIS } from './grpc.js';
import { SERVICE_NAMES, type ServiceName } from './services.js';

/**
 * Service-to-service mutual TLS: who each workload is, where it finds its certificate, and which
 * identities may call which gRPC method. The services enforce this table; the renderers issue
 * certificates with these identities and mount them at these paths.
 */

/** SPIFFE trust domain of the platform's private CA (one CA per environment). */
const TRUST_DOMAIN = 'prism';

/** Roles a caller can have: a workload, or a person operating the platform. */
export type CallerRole = ServiceName | 'operator';

/** A verified caller: its role and, for operators, who (`operator/alice`). */
export interface CallerIdentity {
  readonly role: CallerRole;
  /** The SPIFFE path without the leading slash: `gateway`, `operator/alice`. Recorded as `changed_by`. */
  readonly name: string;
  readonly uri: string;
}

const OPERATOR_NAME = /^[a-z0-9][a-z0-9._@-]{0,62}$/;

/**
 * Workloads with a certificate of the mesh CA: the services, the NATS servers and the PostgreSQL servers
 * (which name no gRPC role), and the PostgreSQL exporters (which only verify their database with its CA).
 */
export type WorkloadName =
  ServiceName | 'nats' | 'postgres-auth' | 'postgres-ops' | 'postgres-auth-exporter' | 'postgres-ops-exporter';

/** The URI SAN of a workload certificate: `spiffe://prism/gateway`. */
export function workloadSpiffeId(service: WorkloadName): string {
  return `spiffe://${TRUST_DOMAIN}/${service}`;
}

/**
 * The URI SAN of the edge's client certificate (the Kubernetes ingress controller's, for verifying the
 * services' HTTPS). It names no role: {@link callerFromUris} identifies nobody by it, so it opens no gRPC method.
 */
export const EDGE_SPIFFE_ID = `spiffe://${TRUST_DOMAIN}/edge`;

/** The URI SAN of an operator's certificate: `spiffe://prism/operator/alice`. */
export function operatorSpiffeId(name: string): string {
  if (!OPERATOR_NAME.test(name))
    throw new Error(`operator name "${name}" must be 1-63 of a-z 0-9 . _ @ - and start with a letter or digit`);
  return `spiffe://${TRUST_DOMAIN}/operator/${name}`;
}

/** Every operator identity, as a wildcard pattern (approver-policy's `allowed.uris`): `spiffe://prism/operator/*`. */
export const OPERATOR_SPIFFE_ID_PATTERN = `spiffe://${TRUST_DOMAIN}/operator/*`;

/**
 * The identity in a certificate's URI SANs, or undefined when there is none or more than one
 * (an ambiguous certificate identifies nobody).
 */
export function callerFromUris(uris: readonly string[]): CallerIdentity | undefined {
  const ours = uris.filter((u) => u.startsWith(`spiffe://${TRUST_DOMAIN}/`));
  if (ours.length !== 1) return undefined;
  const uri = ours[0]!;
  const path = uri.slice(`spiffe://${TRUST_DOMAIN}/`.length);
  if ((SERVICE_NAMES as readonly string[]).includes(path)) return { role: path as ServiceName, name: path, uri };
  const m = /^operator\/(.+)$/.exec(path);
  if (m && OPERATOR_NAME.test(m[1]!)) return { role: 'operator', name: path, uri };
  return undefined;
}

/**
 * Where a workload's certificate, key and CA bundle are mounted. The names are those of a
 * cert-manager Certificate's Secret (`tls.crt`, `tls.key`, `ca.crt`), so the Secret mounts as it is.
 */
export const MTLS_DIR = '/etc/prism/mtls';
export const MTLS_FILES = { cert: 'tls.crt', key: 'tls.key', ca: 'ca.crt' } as const;

/** How often running services re-read their certificate files (rotation without restart). */
export const MTLS_REFRESH_SECONDS = 30;

type Methods<A extends keyof typeof GRPC_APIS> = A extends 'auth'
  ? 'ValidateToken' | 'ValidateApiKey' | 'GetUser'
  : A extends 'config'
    ? 'Get' | 'Set' | 'Delete' | 'List' | 'History' | 'Rollback' | 'ListKeys' | 'Watch'
    : 'Migrate' | 'Status' | 'ListBackups';

/**
 * Who may call each method, per API. A method missing here is refused to everyone (a test checks
 * that every method of every proto is listed). `grpc.health.v1.Health` is open to any certificate
 * of the CA.
 */
export const GRPC_ACCESS: {
  readonly [A in keyof typeof GRPC_APIS]: { readonly [M in Methods<A>]: readonly CallerRole[] };
} = {
  // Token and key checks are the gateway's; user data by id goes to nobody else.
  auth: { ValidateToken: ['gateway'], ValidateApiKey: ['gateway'], GetUser: ['gateway'] },
  // The gateway reads and watches its settings; only people change them.
  config: {
    Get: ['gateway', 'operator'],
    List: ['gateway', 'operator'],
    Watch: ['gateway', 'operator'],
    ListKeys: ['gateway', 'operator'],
    History: ['operator'],
    Set: ['operator'],
    Delete: ['operator'],
    Rollback: ['operator'],
  },
  // Scheduled tasks run the CLI inside the DB manager's image (no gRPC); the API is for operators.
  dbmanager: { Migrate: ['operator'], Status: ['operator'], ListBackups: ['operator'] },
};

/** The gRPC health service: any caller with a certificate of the platform's CA may ask. */
const GRPC_HEALTH_SERVICE = 'grpc.health.v1.Health';

/** Roles allowed to call `/<service>/<method>`; undefined when the method is not in the table. */
export function allowedCallers(path: string): readonly CallerRole[] | 'any-verified' | undefined {
  const m = /^\/([^/]+)\/([^/]+)$/.exec(path);
  if (!m) return undefined;
  const [, service, method] = m;
  if (service === GRPC_HEALTH_SERVICE) return 'any-verified';
  for (const [api, spec] of Object.entries(GRPC_APIS)) {
    if (spec.service !== service) continue;
    const table = GRPC_ACCESS[api as keyof typeof GRPC_APIS] as Record<string, readonly CallerRole[]>;
    return Object.hasOwn(table, method!) ? table[method!] : undefined;
  }
  return undefined;
}
