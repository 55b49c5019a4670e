import { type ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import type { Component, MeshCa } from '../model/index.js';
import { type KeyUsage, certManagerObject } from './cert-manager.js';

const clusterIssuerRef = (name: string) => ({
  name,
  kind: 'ClusterIssuer' as const,
  group: 'cert-manager.io' as const,
});
/** P-256 keys, as the local generator makes them. */
export const MESH_KEY = { algorithm: 'ECDSA' as const, size: 256 };

/** The self-signed ClusterIssuer that signs only the CA certificate. */
export const bootstrapIssuerName = (ca: MeshCa): string => `${ca.name}-bootstrap`;

/** The CA certificate's request, as its approval policy must allow it. */
export const meshCaRequest = (environment: string) => ({
  commonName: `Prism ${environment} mesh CA`,
  usages: ['cert sign', 'crl sign', 'digital signature'] satisfies KeyUsage[],
});

/** Usages of a workload's certificate (server and client) and of the edge's (client only). */
export const WORKLOAD_USAGES: KeyUsage[] = ['digital signature', 'key encipherment', 'server auth', 'client auth'];
export const EDGE_USAGES: KeyUsage[] = ['digital signature', 'client auth'];
/** The edge certificate's common name (its identity is the model's `edge.backendTls.identityUri`). */
export const EDGE_COMMON_NAME = 'edge';

/** The Secret holding a workload's certificate, key and CA (`tls.crt`, `tls.key`, `ca.crt`). */
export const workloadCertSecret = (component: string): string => `${component}-mtls`;

export interface MeshCaProps {
  readonly ca: MeshCa;
  readonly environment: string;
  readonly labels: Record<string, string>;
}

/**
 * The mesh CA, outside the application namespace: a self-signed ClusterIssuer signs the CA certificate,
 * whose Secret `<ca.name>` lives in cert-manager's namespace, and the ClusterIssuer `<ca.name>` signs
 * every workload certificate with it. Nothing in the application namespace holds the CA key; who may
 * have the ClusterIssuer sign what is approver-policy's (see issuance-policy.ts). The CA keeps its key
 * when it is renewed (rotationPolicy Never), so a workload still holding the previous copy of `ca.crt`
 * verifies peers issued after the renewal: the cert-manager CA issuer hands each workload only the CA
 * that signed it, so a new CA key would split the mesh until every workload renewed.
 */
export class MeshCaIssuer extends Construct {
  constructor(scope: Construct, id: string, props: MeshCaProps) {
    super(scope, id);
    const { ca, labels } = props;
    const bootstrap = bootstrapIssuerName(ca);
    certManagerObject(this, 'Bootstrap', 'ClusterIssuer', { name: bootstrap, labels }, { selfSigned: {} });
    certManagerObject(
      this,
      'Certificate',
      'Certificate',
      { name: ca.name, namespace: ca.certManagerNamespace, labels },
      {
        secretName: ca.name,
        issuerRef: clusterIssuerRef(bootstrap),
        ...meshCaRequest(props.environment),
        isCA: true,
        duration: ca.caDuration,
        renewBefore: ca.caRenewBefore,
        privateKey: { ...MESH_KEY, rotationPolicy: 'Never' },
      },
    );
    certManagerObject(this, 'Resource', 'ClusterIssuer', { name: ca.name, labels }, { ca: { secretName: ca.name } });
  }
}

/** A certificate the mesh CA issues: P-256, a new key at every renewal (cert-manager renews before it ends). */
function meshCertificate(
  scope: Construct,
  ca: MeshCa,
  labels: Record<string, string>,
  cert: {
    secretName: string;
    commonName: string;
    uri: string;
    dnsNames?: string[];
    usages: KeyUsage[];
  },
): ApiObject {
  return certManagerObject(
    scope,
    'Resource',
    'Certificate',
    { name: cert.secretName, labels },
    {
      secretName: cert.secretName,
      issuerRef: clusterIssuerRef(ca.name),
      commonName: cert.commonName,
      duration: ca.certificateDuration,
      renewBefore: ca.certificateRenewBefore,
      ...(cert.dnsNames ? { dnsNames: cert.dnsNames } : {}),
      uris: [cert.uri],
      usages: cert.usages,
      privateKey: { ...MESH_KEY, encoding: 'PKCS8', rotationPolicy: 'Always' },
      secretTemplate: { labels },
    },
  );
}

export interface WorkloadCertificateProps {
  readonly ca: MeshCa;
  readonly namespace: string;
  readonly component: Component;
  readonly labels: Record<string, string>;
}

/** The names a workload's certificate carries: each name peers dial, in every DNS form of its Service. */
export const workloadDnsNames = (component: Component, namespace: string): string[] => [
  ...new Set(
    (component.identity?.dnsNames ?? []).flatMap((n) => [
      n,
      `${n}.${namespace}`,
      `${n}.${namespace}.svc`,
      `${n}.${namespace}.svc.cluster.local`,
    ]),
  ),
];

/**
 * A workload's certificate: its identity as the URI SAN, the names peers dial it by (the Service in
 * every DNS form), server and client use. cert-manager renews it before it ends with a new key, and
 * the kubelet updates the mounted Secret in place; the services re-read the files.
 */
export class WorkloadCertificate extends Construct {
  constructor(scope: Construct, id: string, props: WorkloadCertificateProps) {
    super(scope, id);
    const { component: c, namespace, ca } = props;
    if (!c.identity) throw new Error(`${c.name} has no workload identity`);
    meshCertificate(this, ca, props.labels, {
      secretName: workloadCertSecret(c.name),
      commonName: c.name,
      ...(c.identity.dnsNames.length > 0 ? { dnsNames: workloadDnsNames(c, namespace) } : {}),
      uri: c.identity.uri,
      // A verify-only workload's certificate exists for its Secret's ca.crt: it serves nothing.
      usages: c.identity.verifyOnly ? EDGE_USAGES : WORKLOAD_USAGES,
    });
  }
}

export interface EdgeCertificateProps {
  readonly ca: MeshCa;
  readonly secretName: string;
  readonly identityUri: string;
  readonly labels: Record<string, string>;
}

/**
 * The ingress controller's certificate, for its Secret's `ca.crt`: the controller verifies the
 * services' HTTPS against the mesh CA with it. cert-manager cannot issue a Secret holding the CA
 * alone, so the Secret also holds a client certificate; its identity names no role, so it opens
 * nothing (the services' HTTP ports ask for no client certificate, their gRPC ports authorize roles).
 */
export class EdgeCertificate extends Construct {
  constructor(scope: Construct, id: string, props: EdgeCertificateProps) {
    super(scope, id);
    meshCertificate(this, props.ca, props.labels, {
      secretName: props.secretName,
      commonName: EDGE_COMMON_NAME,
      uri: props.identityUri,
      usages: EDGE_USAGES,
    });
  }
}
