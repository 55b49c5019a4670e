import { ApiObject, Chart, JsonPatch } from 'cdk8s';
import type { Construct } from 'constructs';
import { z } from 'zod';

/**
 * cert-manager and approver-policy objects. The Kubernetes OpenAPI does not know them, so each spec is
 * checked here against the fields of the CRDs this package uses (strict: an unknown or misspelt field
 * is an error at synth, as the schema test's unknown-field check is for built-in kinds). The deploy
 * test's server-side dry run checks them against the real CRDs too.
 */

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
export type KeyUsage = (typeof KEY_USAGES)[number];
const KEY_ALGORITHMS = ['RSA', 'ECDSA', 'Ed25519'] as const;

/** cert-manager.io/v1: an Issuer or ClusterIssuer has exactly one kind of signer. */
const issuerSpec = z
  .strictObject({
    selfSigned: z.strictObject({}).optional(),
    ca: z.strictObject({ secretName: z.string().min(1) }).optional(),
  })
  .refine((s) => Object.keys(s).length === 1, 'an issuer has exactly one of selfSigned, ca');

export const CERT_MANAGER_SPECS = {
  Issuer: issuerSpec,
  ClusterIssuer: issuerSpec,
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
        algorithm: z.enum(KEY_ALGORITHMS),
        size: z.number().int().optional(),
        encoding: z.enum(['PKCS1', 'PKCS8']).optional(),
        rotationPolicy: z.enum(['Never', 'Always']),
      })
      .optional(),
    secretTemplate: z.strictObject({ labels: z.record(z.string(), z.string()).optional() }).optional(),
    revisionHistoryLimit: z.number().int().min(1).optional(),
  }),
} as const;

/** approver-policy's `allowed.<field>` of a single value (commonName): a wildcard pattern and CEL rules. */
const allowedValue = z.strictObject({
  value: z.string().optional(),
  required: z.boolean().optional(),
  validations: z.array(z.strictObject({ rule: z.string().min(1), message: z.string().optional() })).optional(),
});
/** approver-policy's `allowed.<field>` of a list (dnsNames, uris): every requested item must match a value. */
const allowedValues = z.strictObject({
  values: z.array(z.string().min(1)).optional(),
  required: z.boolean().optional(),
});

/** policy.cert-manager.io/v1alpha1 (approver-policy v0.28 CRD), the fields this package uses. */
export const APPROVER_POLICY_SPECS = {
  CertificateRequestPolicy: z.strictObject({
    allowed: z
      .strictObject({
        commonName: allowedValue.optional(),
        dnsNames: allowedValues.optional(),
        uris: allowedValues.optional(),
        isCA: z.boolean().optional(),
        usages: z.array(z.enum(KEY_USAGES)).optional(),
      })
      .optional(),
    constraints: z
      .strictObject({
        minDuration: duration.optional(),
        maxDuration: duration.optional(),
        privateKey: z
          .strictObject({
            algorithm: z.enum(KEY_ALGORITHMS).optional(),
            minSize: z.number().int().optional(),
            maxSize: z.number().int().optional(),
          })
          .optional(),
      })
      .optional(),
    selector: z.strictObject({
      issuerRef: z
        .strictObject({
          name: z.string().min(1).optional(),
          kind: z.string().min(1).optional(),
          group: z.string().min(1).optional(),
        })
        .optional(),
      namespace: z.strictObject({ matchNames: z.array(z.string().min(1)).min(1) }).optional(),
    }),
  }),
} as const;

const API_VERSIONS = {
  Issuer: 'cert-manager.io/v1',
  ClusterIssuer: 'cert-manager.io/v1',
  Certificate: 'cert-manager.io/v1',
  CertificateRequestPolicy: 'policy.cert-manager.io/v1alpha1',
} as const;
const SPECS = { ...CERT_MANAGER_SPECS, ...APPROVER_POLICY_SPECS };
type Kind = keyof typeof SPECS;
const CLUSTER_SCOPED: ReadonlySet<Kind> = new Set(['ClusterIssuer', 'CertificateRequestPolicy']);

export interface ObjectMetadata {
  readonly name: string;
  /** Namespaced kinds only: another namespace than the chart's (cert-manager's). */
  readonly namespace?: string;
  readonly labels: Record<string, string>;
}

/** A cert-manager or approver-policy object whose spec passed its schema; cluster-scoped kinds carry no namespace. */
export function certManagerObject(
  scope: Construct,
  id: string,
  kind: Kind,
  metadata: ObjectMetadata,
  spec: unknown,
): ApiObject {
  const parsed = SPECS[kind].safeParse(spec);
  if (!parsed.success) {
    throw new Error(
      `${kind} ${metadata.name}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(spec)'}: ${i.message}`).join('; ')}`,
    );
  }
  const o = new ApiObject(scope, id, { apiVersion: API_VERSIONS[kind], kind, metadata, spec: parsed.data });
  if (CLUSTER_SCOPED.has(kind)) withoutNamespace(o);
  return o;
}

/**
 * cdk8s gives every object of a chart the chart's namespace, cluster-scoped ones included; left there,
 * Pulumi names the resource `prism/<name>` and diffs show a namespace the API server drops.
 */
export function withoutNamespace(o: ApiObject): void {
  if (Chart.of(o).namespace) o.addJsonPatch(JsonPatch.remove('/metadata/namespace'));
}
