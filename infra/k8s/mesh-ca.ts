import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import { z } from 'zod';
import type { Component, MeshCa } from '../model/index.js';

/**
 * cert-manager objects of the service mesh's private CA. The Kubernetes OpenAPI does not know them,
 * so each spec is checked here against the fields of the cert-manager v1 CRDs this package uses
 * (strict: an unknown or misspelt field is an error at synth, as the schema test's unknown-field
 * check is for built-in kinds).
 */

const CERT_MANAGER_API_VERSION = 'cert-manager.io/v1';

/** Go durations as cert-manager parses them (`2160h`, `90m`, `1h30m`). */
const duration = z
  .string()
  .regex(/^(\d+h)?(\d+m)?(\d+s)?$/)
  .refine((v) => v !== '', 'expected a Go duration');
const dnsName = z.string().regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/);
const issuerRef = z.strictObject({
  name: z.string().min(1),
  kind: z.enum(['Issuer', 'ClusterIssuer']),
  group: z.literal('cert-manager.io'),
});
const KEY_USAGES = [
  'signing',
  'digital signature',
  'key encipherment',
  'cert sign',
  'crl sign',
  'server auth',
  'client auth',
] as const;

export const CERT_MANAGER_SPECS = {
  Issuer: z
    .strictObject({
      selfSigned: z.strictObject({}).optional(),
      ca: z.strictObject({ secretName: z.string().min(1) }).optional(),
    })
    .refine((s) => Object.keys(s).length === 1, 'an Issuer has exactly one of selfSigned, ca'),
  Certificate: z.strictObject({
    secretName: z.string().min(1),
    issuerRef,
    commonName: z.string().max(64).optional(),
    isCA: z.boolean().optional(),
    duration: duration.optional(),
    renewBefore: duration.optional(),
    dnsNames: z.array(dnsName).optional(),
    uris: z.array(z.url()).optional(),
    usages: z.array(z.enum(KEY_USAGES)).optional(),
    privateKey: z
      .strictObject({
        algorithm: z.enum(['RSA', 'ECDSA', 'Ed25519']),
        size: z.number().int().optional(),
        encoding: z.enum(['PKCS1', 'PKCS8']).optional(),
        rotationPolicy: z.enum(['Never', 'Always']),
      })
      .optional(),
    secretTemplate: z.strictObject({ labels: z.record(z.string(), z.string()).optional() }).optional(),
    revisionHistoryLimit: z.number().int().min(1).optional(),
  }),
} as const;

type CertManagerKind = keyof typeof CERT_MANAGER_SPECS;

/** A cert-manager object whose spec passed its schema. */
function certManagerObject(
  scope: Construct,
  id: string,
  kind: CertManagerKind,
  metadata: { name: string; labels: Record<string, string> },
  spec: unknown,
): ApiObject {
  const parsed = CERT_MANAGER_SPECS[kind].safeParse(spec);
  if (!parsed.success) {
    throw new Error(
      `${kind} ${metadata.name}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(spec)'}: ${i.message}`).join('; ')}`,
    );
  }
  return new ApiObject(scope, id, { apiVersion: CERT_MANAGER_API_VERSION, kind, metadata, spec: parsed.data });
}

const issuerRefOf = (name: string) => ({ name, kind: 'Issuer' as const, group: 'cert-manager.io' as const });
/** P-256 keys, as the local generator makes them. */
const ECDSA = { algorithm: 'ECDSA' as const, size: 256 };

/** The Secret holding a workload's certificate, key and CA (`tls.crt`, `tls.key`, `ca.crt`). */
export const workloadCertSecret = (component: string): string => `${component}-mtls`;

export interface MeshCaProps {
  readonly ca: MeshCa;
  readonly environment: string;
  readonly labels: Record<string, string>;
}

/**
 * The mesh CA, bootstrapped inside the namespace: a self-signed Issuer signs the CA certificate
 * (Secret `<ca.name>`), and the Issuer `<ca.name>` signs every workload certificate with it. The CA
 * keeps its key when it is renewed (rotationPolicy Never), so a workload still holding the previous
 * copy of `ca.crt` verifies peers issued after the renewal: the cert-manager CA Issuer hands each
 * workload only the CA that signed it, so a new CA key would split the mesh until every workload renewed.
 */
export class MeshCaIssuer extends Construct {
  constructor(scope: Construct, id: string, props: MeshCaProps) {
    super(scope, id);
    const { ca, labels } = props;
    const bootstrap = `${ca.name}-bootstrap`;
    certManagerObject(this, 'Bootstrap', 'Issuer', { name: bootstrap, labels }, { selfSigned: {} });
    certManagerObject(
      this,
      'Certificate',
      'Certificate',
      { name: ca.name, labels },
      {
        secretName: ca.name,
        issuerRef: issuerRefOf(bootstrap),
        commonName: `Prism ${props.environment} mesh CA`,
        isCA: true,
        duration: ca.caDuration,
        renewBefore: ca.caRenewBefore,
        usages: ['cert sign', 'crl sign', 'digital signature'],
        privateKey: { ...ECDSA, rotationPolicy: 'Never' },
      },
    );
    certManagerObject(this, 'Resource', 'Issuer', { name: ca.name, labels }, { ca: { secretName: ca.name } });
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
    usages: (typeof KEY_USAGES)[number][];
  },
): ApiObject {
  return certManagerObject(
    scope,
    'Resource',
    'Certificate',
    { name: cert.secretName, labels },
    {
      secretName: cert.secretName,
      issuerRef: issuerRefOf(ca.name),
      commonName: cert.commonName,
      duration: ca.certificateDuration,
      renewBefore: ca.certificateRenewBefore,
      ...(cert.dnsNames ? { dnsNames: cert.dnsNames } : {}),
      uris: [cert.uri],
      usages: cert.usages,
      privateKey: { ...ECDSA, encoding: 'PKCS8', rotationPolicy: 'Always' },
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
      usages: c.identity.verifyOnly
        ? ['digital signature', 'client auth']
        : ['digital signature', 'key encipherment', 'server auth', 'client auth'],
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
      commonName: 'edge',
      uri: props.identityUri,
      usages: ['digital signature', 'client auth'],
    });
  }
}
