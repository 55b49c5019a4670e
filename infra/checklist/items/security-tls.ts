import type { ChecklistItemId } from '../../config/index.js';
import type { ManifestObject } from '../../manifest/index.js';
import type { Facts } from '../facts.js';
import { envOf, isRecord, secretsMountedAt, spec, type Workload } from '../manifests.js';
import { type ChecklistItem, verdict } from './item.js';
import { annotation, ingresses, isService } from './lookups.js';
import { postgresTls } from './postgres-tls.js';
import { meshCaProblems } from './mesh-ca.js';

/** Security: "TLS enabled on all endpoints", at the edge (Ingress → backend) and between the services (mutual TLS). */

/** Ports that stay plaintext under "TLS on all endpoints": metrics and health, for Prometheus and the kubelet. */
const TLS_EXEMPT_PORT_NAMES: ReadonlySet<string> = new Set(['metrics']);

const NGINX = 'nginx.ingress.kubernetes.io';

const NGINX_BACKEND_PROTOCOL = `${NGINX}/backend-protocol`;

/** The cert-manager Certificates whose Secrets a service mounts at the path its env names. */
const certificatesOf = (f: Facts, w: Workload, n: string): ManifestObject[] => {
  const path = envOf(w, n)?.value;
  const secrets = path ? secretsMountedAt(w, path) : [];
  return f.input.objects.filter(
    (o) => o.kind === 'Certificate' && secrets.includes(spec<{ secretName: string }>(o).secretName),
  );
};

/** Problems with a certificate file a service is told to use: mounted from a CA-issued cert-manager Certificate naming the service. */
function certFileProblems(f: Facts, w: Workload, n: string, namesService: boolean): string[] {
  const path = envOf(w, n)?.value;
  if (!path) return [`${w.app}: ${n} unset`];
  const certs = certificatesOf(f, w, n);
  if (!certs.length) return [`${w.app}: ${n} (${path}) is not mounted from a cert-manager Certificate's Secret`];
  const problems: string[] = [];
  for (const cert of certs) {
    const s = spec<{ issuerRef?: { name: string; kind?: string }; dnsNames?: string[] }>(cert);
    const issuer = f.input.objects.find(
      (o) =>
        o.kind === (s.issuerRef?.kind ?? 'Issuer') &&
        o.metadata.name === s.issuerRef?.name &&
        o.apiVersion.startsWith('cert-manager.io/'),
    );
    if (!issuer || !isRecord(issuer.spec) || !('ca' in issuer.spec))
      problems.push(`${w.app}: Certificate ${cert.metadata.name} is not issued by a CA Issuer in the output`);
    if (namesService && !(s.dnsNames ?? []).some((d) => d === w.app || d.startsWith(`${w.app}.`)))
      problems.push(`${w.app}: Certificate ${cert.metadata.name} does not name ${w.app} in dnsNames`);
  }
  return problems;
}

/**
 * How an Ingress reaches its backends; problems found. It must speak TLS and verify it: against the CA
 * in the Secret of a Certificate from the same Issuer as the backends' certificates, and by a name every
 * backend's HTTPS certificate carries (nginx checks one `proxy-ssl-name` per Ingress).
 */
function ingressBackendTls(f: Facts, i: ManifestObject): string[] {
  const name = `Ingress ${i.metadata.name}`;
  if (!/^(HTTPS|GRPCS)$/.test(annotation(i, NGINX_BACKEND_PROTOCOL) ?? ''))
    return [`${name}: plaintext to its backends (no ${NGINX_BACKEND_PROTOCOL}: HTTPS)`];
  if (annotation(i, `${NGINX}/proxy-ssl-verify`) !== 'on')
    return [`${name}: does not verify its backends' certificates (${NGINX}/proxy-ssl-verify is not on)`];
  const problems: string[] = [];
  // `namespace/name`, or `name` in the Ingress' namespace.
  const ref = annotation(i, `${NGINX}/proxy-ssl-secret`) ?? '';
  const [ns, secretName] = ref.includes('/') ? ref.split('/') : [i.metadata.namespace, ref];
  const edgeCert = f.input.objects.find(
    (o) =>
      o.kind === 'Certificate' &&
      spec<{ secretName: string }>(o).secretName === secretName &&
      (o.metadata.namespace ?? ns) === ns,
  );
  if (!edgeCert)
    problems.push(
      `${name}: ${NGINX}/proxy-ssl-secret is not the Secret of a cert-manager Certificate in its namespace`,
    );
  const sslName = annotation(i, `${NGINX}/proxy-ssl-name`);
  const backends = [
    ...new Set(
      spec<{ rules?: { http?: { paths?: { backend?: { service?: { name: string } } }[] } }[] }>(i)
        .rules?.flatMap((r) => r.http?.paths ?? [])
        .map((p) => p.backend?.service?.name ?? '') ?? [],
    ),
  ];
  for (const b of backends) {
    const w = f.services().find((x) => x.app === b);
    if (!w) continue;
    for (const cert of certificatesOf(f, w, 'PRISM_TLS_CERT_FILE')) {
      const s = spec<{ issuerRef?: { name: string }; dnsNames?: string[] }>(cert);
      if (!sslName || !(s.dnsNames ?? []).includes(sslName))
        problems.push(
          `${name}: ${NGINX}/proxy-ssl-name ${sslName ?? '(unset)'} is not a name in ${b}'s certificate ${cert.metadata.name}`,
        );
      if (edgeCert && spec<{ issuerRef?: { name: string } }>(edgeCert).issuerRef?.name !== s.issuerRef?.name)
        problems.push(`${name}: its CA (${secretName}) is not the issuer of ${b}'s certificate`);
    }
  }
  return problems;
}

/**
 * TLS settings of one Prism service workload, per port it serves; problems found. gRPC ports need
 * mutual TLS (PRISM_MTLS_*: every caller is a workload or an operator with a certificate). HTTP ports
 * need TLS (PRISM_TLS_*) but not client certificates: the edge proxy reaches them; when client
 * certificates are asked for, their CA must be a mounted CA too. Exempt ports (metrics) need nothing.
 */
function serviceTls(f: Facts, w: Workload): string[] {
  const problems: string[] = [];
  const val = (n: string) => envOf(w, n)?.value;
  const ports = w.pod.containers.flatMap((c) => c.ports ?? []).filter((p) => !TLS_EXEMPT_PORT_NAMES.has(p.name ?? ''));
  if (ports.some((p) => p.name === 'grpc')) {
    if (val('PRISM_MTLS_ENABLED') !== 'true')
      problems.push(`${w.app}: PRISM_MTLS_ENABLED is not true (gRPC without mutual TLS)`);
    else
      for (const n of ['PRISM_MTLS_CERT_FILE', 'PRISM_MTLS_KEY_FILE', 'PRISM_MTLS_CA_FILE'])
        problems.push(...certFileProblems(f, w, n, n === 'PRISM_MTLS_CERT_FILE'));
  }
  for (const p of ports.filter((x) => x.name !== 'grpc')) {
    if (val('PRISM_TLS_ENABLED') !== 'true') {
      problems.push(`${w.app}: port ${p.name ?? p.containerPort} serves plaintext (PRISM_TLS_ENABLED is not true)`);
      continue;
    }
    for (const n of ['PRISM_TLS_CERT_FILE', 'PRISM_TLS_KEY_FILE'])
      problems.push(...certFileProblems(f, w, n, n === 'PRISM_TLS_CERT_FILE'));
    if (val('PRISM_TLS_CLIENT_AUTH') === 'true')
      problems.push(...certFileProblems(f, w, 'PRISM_TLS_CLIENT_CA_FILE', false));
    break;
  }
  return problems;
}

export const TLS_ITEMS = {
  'tls-all-endpoints': {
    section: 'Security',
    guide: 'TLS enabled on all endpoints',
    rule:
      'The edge: every Ingress host is covered by spec.tls with a cert-manager issuer and HTTP redirected to HTTPS. Inside: every Prism ' +
      "service's gRPC port requires mutual TLS (PRISM_MTLS_ENABLED true) and its HTTP port serves TLS (PRISM_TLS_ENABLED true; client " +
      'certificates optional, as the edge reaches it), the certificate, key and CA files mounted from the Secret of a cert-manager ' +
      'Certificate issued by a CA Issuer in the output and naming the service; every service-to-service URL (env and gateway config) ' +
      "is https, and every Ingress speaks TLS to its backends and verifies it (proxy-ssl-verify; the CA of the Issuer of the backends' " +
      "certificates, from a Certificate's Secret; a proxy-ssl-name each backend's certificate carries). Every PostgreSQL server has ssl on " +
      '(TLS 1.2 at least, its certificate from a Certificate) and a pg_hba.conf of `local` and `hostssl` lines only; every PostgreSQL ' +
      "client (services, Jobs, CronJobs, exporters) uses sslmode verify-full with a root certificate from a Certificate's Secret. " +
      'Only the metrics/health port stays plaintext. ' +
      'The mesh CA: no CA key Secret (CA Certificate) and no CA Issuer in the application namespace; a cert-manager approver-policy ' +
      "CertificateRequestPolicy that cert-manager's controller may use restricts the mesh issuer there to named identities (one per " +
      'policy, no wildcard URI, no CA), and every certificate the objects ask for (Certificates, the Ingress TLS certificate) is allowed by such a policy.',
    check(f) {
      const problems: string[] = [];
      const ing = ingresses(f);
      if (!ing.length) problems.push('no Ingress');
      const issuerOf = (i: ManifestObject) =>
        annotation(i, 'cert-manager.io/cluster-issuer') ?? annotation(i, 'cert-manager.io/issuer');
      const tlsSecrets = (i: ManifestObject) =>
        (spec<{ tls?: { secretName?: string }[] }>(i).tls ?? []).flatMap((t) => (t.secretName ? [t.secretName] : []));
      const issuing = ing.filter(issuerOf);
      for (const i of ing) {
        const s = spec<{ tls?: { hosts?: string[]; secretName?: string }[]; rules?: { host?: string }[] }>(i);
        const covered = new Set((s.tls ?? []).filter((t) => t.secretName).flatMap((t) => t.hosts ?? []));
        for (const r of s.rules ?? [])
          if (!r.host || !covered.has(r.host))
            problems.push(`Ingress ${i.metadata.name}: host ${r.host ?? '(any)'} without TLS`);
        // cert-manager issues each TLS Secret for one Ingress that asks (Ingresses sharing the host share it).
        for (const t of s.tls ?? [])
          if (t.secretName && !issuing.some((x) => tlsSecrets(x).includes(t.secretName!)))
            problems.push(`Ingress ${i.metadata.name}: TLS Secret ${t.secretName} from no cert-manager issuer`);
        if (annotation(i, 'nginx.ingress.kubernetes.io/ssl-redirect') === 'false')
          problems.push(`Ingress ${i.metadata.name}: ssl-redirect off`);
        problems.push(...ingressBackendTls(f, i));
      }
      const services = f.services();
      for (const w of services) problems.push(...serviceTls(f, w));
      // Every service-to-service address must be https: env values and the gateway's routes.
      for (const w of services) {
        for (const e of w.pod.containers.flatMap((c) => c.env ?? [])) {
          const m = /^http:\/\/([a-z0-9-]+)[:/]/.exec(e.value ?? '');
          if (m && isService(m[1]!)) problems.push(`${w.app}: ${e.name} is plaintext (${e.value})`);
        }
      }
      for (const g of f.gatewayConfigs()) {
        for (const url of [g.doc.auth?.jwks_url, ...g.doc.routes.map((r) => r.upstream)]) {
          const m = /^http:\/\/([a-z0-9-]+)[:/]/.exec(url ?? '');
          if (m && isService(m[1]!)) problems.push(`${g.object.metadata.name}: ${url} is plaintext`);
        }
      }
      const pg = postgresTls(f);
      problems.push(...pg.problems);
      problems.push(...meshCaProblems(f));
      const exempt = [...TLS_EXEMPT_PORT_NAMES].join(', ');
      return verdict(
        problems.length > 12 ? [...problems.slice(0, 12), `and ${problems.length - 12} more`] : problems,
        `Ingress ${ing.map((i) => i.metadata.name).join(', ')} TLS (${[...new Set(issuing.map(issuerOf))].join(', ')}), backends verified against the mesh CA; mutual TLS on the gRPC ports and HTTPS on the HTTP ports of ${services.map((w) => w.app).join(', ')} from cert-manager Certificates; PostgreSQL ${pg.servers.join(', ')} TLS-only over TCP, ${pg.clients.length} clients verify-full against the mesh CA; the mesh CA key outside ${f.namespace}, its issuance restricted by approver-policy; plaintext only on ${exempt}`,
      );
    },
  },
} satisfies Partial<Record<ChecklistItemId, ChecklistItem>>;
