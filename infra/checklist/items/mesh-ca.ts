import type { ManifestObject } from '../../manifest/index.js';
import {
  type CertificateRequestShape,
  type PolicySpec,
  isPolicy,
  policiesUsableBy,
  policyDenials,
  requestOf,
  selectsRequest,
} from '../approval.js';
import type { Facts } from '../facts.js';
import { isRecord, spec } from '../manifests.js';
import { annotation, ingresses } from './lookups.js';

/**
 * The mesh CA's key and who may have it sign (part of "TLS enabled on all endpoints"): no CA key Secret and
 * no CA Issuer in the application namespace, whose Secrets and certificate requests other principals reach;
 * an approval policy restricting the mesh issuer there to the platform's own identities, usable by
 * cert-manager's controller; and every certificate the objects ask for approved by one (or it is never issued).
 */

const isCertManager = (o: ManifestObject) => o.apiVersion.startsWith('cert-manager.io/');

/** The requests the rendered objects make: each Certificate, and the ingress-shim's for each issuing Ingress. */
function requests(f: Facts): { what: string; request: CertificateRequestShape }[] {
  const certs = f.input.objects
    .filter((o) => o.kind === 'Certificate' && isCertManager(o))
    .map((c) => ({ what: `Certificate ${c.metadata.name}`, request: requestOf(c, f.namespace) }));
  const shim = ingresses(f).flatMap((i) => {
    const cluster = annotation(i, 'cert-manager.io/cluster-issuer');
    const issuer = cluster ?? annotation(i, 'cert-manager.io/issuer');
    if (!issuer) return [];
    return (spec<{ tls?: { hosts?: string[]; secretName?: string }[] }>(i).tls ?? []).map((t) => ({
      what: `Ingress ${i.metadata.name}'s certificate ${t.secretName ?? ''}`,
      request: {
        name: t.secretName ?? i.metadata.name,
        namespace: i.metadata.namespace ?? f.namespace,
        issuerRef: { name: issuer, kind: cluster ? 'ClusterIssuer' : 'Issuer', group: 'cert-manager.io' },
        dnsNames: t.hosts ?? [],
        // cert-manager's DefaultKeyUsages, which the ingress-shim's Certificate carries.
        usages: ['digital signature', 'key encipherment'],
      },
    }));
  });
  return [...certs, ...shim];
}

export function meshCaProblems(f: Facts): string[] {
  const problems: string[] = [];
  const { objects } = f.input;
  const ns = f.namespace;
  const inApp = (o: ManifestObject) => (o.metadata.namespace ?? ns) === ns;
  const caIssuers = objects.filter(
    (o) => isCertManager(o) && /Issuer$/.test(o.kind) && isRecord(o.spec) && isRecord(o.spec.ca),
  );
  const caSecret = (i: ManifestObject) => spec<{ ca: { secretName: string } }>(i).ca.secretName;
  for (const c of objects.filter((o) => o.kind === 'Certificate' && isCertManager(o) && inApp(o)))
    if (spec<{ isCA?: boolean }>(c).isCA)
      problems.push(`the CA key Secret ${spec<{ secretName: string }>(c).secretName} is in the namespace ${ns}`);
  for (const i of caIssuers.filter((x) => x.kind === 'Issuer' && inApp(x)))
    problems.push(`the CA Issuer ${i.metadata.name} signs with a key Secret in the namespace ${ns}`);
  for (const s of objects.filter((o) => o.kind === 'Secret' && inApp(o)))
    if (caIssuers.some((i) => caSecret(i) === s.metadata.name))
      problems.push(`the CA key Secret ${s.metadata.name} is in the namespace ${ns}`);

  const { certManagerServiceAccount: name, certManagerNamespace: namespace } = f.input.platform.mtls;
  const usable = policiesUsableBy(objects, { name, namespace });
  const policies = objects.filter(isPolicy).map((p) => ({ name: p.metadata.name, spec: spec<PolicySpec>(p) }));
  const controllerPolicies = policies.filter((p) => usable(p.name));
  const all = requests(f);

  // The issuers that sign the workloads' certificates in the namespace.
  const meshIssuers = caIssuers.filter((i) =>
    all.some((r) => r.request.namespace === ns && r.request.issuerRef.name === i.metadata.name),
  );
  for (const issuer of meshIssuers) {
    const probe: CertificateRequestShape = {
      name: 'probe',
      namespace: ns,
      issuerRef: { name: issuer.metadata.name, kind: issuer.kind, group: 'cert-manager.io' },
    };
    const restricting = controllerPolicies.filter((p) => selectsRequest(p.spec, probe));
    if (!restricting.length)
      problems.push(
        `no approval policy that cert-manager's controller (${namespace}/${name}) may use restricts the mesh issuer ${issuer.metadata.name} in ${ns}`,
      );
    for (const p of restricting) {
      const a = p.spec.allowed ?? {};
      if (a.isCA) problems.push(`approval policy ${p.name} lets a Certificate in ${ns} be a CA of the mesh`);
      if (!a.uris?.values?.length || a.uris.values.some((v) => v.includes('*')))
        problems.push(`approval policy ${p.name} lets any Certificate in ${ns} take any identity of the mesh`);
      else if (a.uris.values.length > 1)
        problems.push(
          `approval policy ${p.name} lets one Certificate in ${ns} carry ${a.uris.values.length} identities of the mesh (${a.uris.values.join(', ')})`,
        );
    }
  }
  for (const { what, request } of all) {
    const selecting = controllerPolicies.filter((p) => selectsRequest(p.spec, request));
    if (!selecting.some((p) => policyDenials(p.spec, request).length === 0))
      problems.push(
        `${what}: no approval policy allows its request (${
          selecting.map((p) => `${p.name}: ${policyDenials(p.spec, request).join(', ')}`).join('; ') ||
          `none the controller may use selects issuer ${request.issuerRef.name} in ${request.namespace}`
        })`,
      );
  }
  return problems;
}
