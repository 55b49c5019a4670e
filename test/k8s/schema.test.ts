import { describe, expect, it } from 'vitest';
import { APPROVER_POLICY_SPECS, CERT_MANAGER_SPECS } from '../../infra/k8s/cert-manager.js';
import { openApiErrors, unknownFields } from '../support/k8s-schema.js';
import { objectKey as key } from '../../infra/manifest/index.js';
import { ENVIRONMENTS, synth } from '../support/synth.js';

/** Custom resources we render, with the top-level spec fields their CRDs define. */
const CUSTOM_KINDS: Record<string, { apiVersion: string; specFields: string[] }> = {
  ExternalSecret: {
    apiVersion: 'external-secrets.io/v1',
    specFields: ['refreshInterval', 'secretStoreRef', 'target', 'data', 'dataFrom'],
  },
  Issuer: { apiVersion: 'cert-manager.io/v1', specFields: ['selfSigned', 'ca', 'acme', 'vault', 'venafi'] },
  ClusterIssuer: { apiVersion: 'cert-manager.io/v1', specFields: ['selfSigned', 'ca', 'acme', 'vault', 'venafi'] },
  // approver-policy v0.28's CRD (deploy/crds/policy.cert-manager.io_certificaterequestpolicies.yaml).
  CertificateRequestPolicy: {
    apiVersion: 'policy.cert-manager.io/v1alpha1',
    specFields: ['allowed', 'constraints', 'plugins', 'selector'],
  },
  Certificate: {
    apiVersion: 'cert-manager.io/v1',
    specFields: [
      'secretName',
      'issuerRef',
      'commonName',
      'isCA',
      'duration',
      'renewBefore',
      'dnsNames',
      'ipAddresses',
      'uris',
      'emailAddresses',
      'usages',
      'privateKey',
      'subject',
      'secretTemplate',
      'revisionHistoryLimit',
      'keystores',
      'literalSubject',
      'nameConstraints',
      'otherNames',
      'encodeUsagesInRequest',
      'additionalOutputFormats',
    ],
  },
};

describe.each(ENVIRONMENTS)('%s manifests against the Kubernetes OpenAPI schemas', (env) => {
  const { objects } = synth(env);

  it('has objects, each with a unique kind/namespace/name', () => {
    expect(objects.length).toBeGreaterThan(50);
    const keys = objects.map(key);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('validates every built-in object (types, required fields, formats)', async () => {
    const failures: string[] = [];
    for (const o of objects) {
      if (CUSTOM_KINDS[o.kind]) continue;
      const errors = await openApiErrors(o);
      if (errors === undefined) failures.push(`${key(o)}: no schema for ${o.apiVersion} ${o.kind}`);
      else if (errors.length > 0) failures.push(`${key(o)}: ${errors.join('; ')}`);
    }
    expect(failures).toEqual([]);
  });

  it('has no field the schema does not define', () => {
    const failures: string[] = [];
    for (const o of objects) {
      if (CUSTOM_KINDS[o.kind]) continue;
      const unknown = unknownFields(o);
      if (unknown === undefined) failures.push(`${key(o)}: no model for ${o.apiVersion} ${o.kind}`);
      else if (unknown.length > 0) failures.push(`${key(o)}: unknown ${unknown.join(', ')}`);
    }
    expect(failures).toEqual([]);
  });

  it('renders every cert-manager object to the strict schema of the CRD fields it uses', () => {
    const cm = objects.filter((o) => o.apiVersion === 'cert-manager.io/v1');
    expect(cm.length).toBeGreaterThanOrEqual(7);
    for (const o of cm) {
      const r = CERT_MANAGER_SPECS[o.kind as keyof typeof CERT_MANAGER_SPECS]?.safeParse(o.spec);
      expect(r?.success, `${key(o)}: ${r?.error?.message ?? 'unknown kind'}`).toBe(true);
    }
  });

  it('renders every approver-policy object to the strict schema of the CRD fields it uses, cluster-scoped', () => {
    const policies = objects.filter((o) => o.apiVersion === 'policy.cert-manager.io/v1alpha1');
    // One per mesh identity (each workload Certificate's), the CA bootstrap, the edge's TLS and the operators.
    const identities = objects
      .filter((o) => o.kind === 'Certificate' && !(o.spec as { isCA?: boolean }).isCA)
      .map((o) => `prism-${env}-mesh-workload-${(o.spec as { commonName: string }).commonName}`);
    expect(identities.length).toBeGreaterThanOrEqual(8);
    expect(policies.map((p) => p.metadata.name).sort()).toEqual(
      [...identities, `prism-${env}-mesh-ca-bootstrap`, `prism-${env}-edge-tls`, `prism-${env}-mesh-operators`].sort(),
    );
    expect(new Set(policies.map((p) => p.kind))).toEqual(new Set(['CertificateRequestPolicy']));
    for (const o of policies) {
      const r = APPROVER_POLICY_SPECS.CertificateRequestPolicy.safeParse(o.spec);
      expect(r.success, `${key(o)}: ${r.error?.message}`).toBe(true);
      expect(o.metadata.namespace, key(o)).toBeUndefined();
    }
  });

  it('renders custom resources with their CRD group and known spec fields only', () => {
    for (const o of objects.filter((x) => CUSTOM_KINDS[x.kind])) {
      const crd = CUSTOM_KINDS[o.kind]!;
      expect(o.apiVersion).toBe(crd.apiVersion);
      for (const field of Object.keys(o.spec as object)) expect(crd.specFields).toContain(field);
    }
  });
});

describe('the schema checks themselves', () => {
  const { objects } = synth('dev');
  const deployment = structuredClone(objects.find((o) => o.kind === 'Deployment')!);

  it('catch a wrong type', async () => {
    const bad = structuredClone(deployment);
    (bad.spec as { replicas: unknown }).replicas = 'three';
    expect((await openApiErrors(bad))!.join()).toMatch(/replicas/);
  });

  it('catch a missing required field', async () => {
    const bad = structuredClone(deployment);
    delete (bad.spec as { selector?: unknown }).selector;
    expect((await openApiErrors(bad))!.join()).toMatch(/selector/);
  });

  it('catch a misspelt or mistyped cert-manager field', () => {
    const cert = structuredClone(objects.find((o) => o.kind === 'Certificate')!);
    expect(CERT_MANAGER_SPECS.Certificate.safeParse({ ...(cert.spec as object), renewBfore: '720h' }).success).toBe(
      false,
    );
    expect(CERT_MANAGER_SPECS.Certificate.safeParse({ ...(cert.spec as object), duration: '90d' }).success).toBe(false);
    expect(
      CERT_MANAGER_SPECS.Certificate.safeParse({ ...(cert.spec as object), usages: ['server-auth'] }).success,
    ).toBe(false);
    expect(CERT_MANAGER_SPECS.Issuer.safeParse({ ca: { secretName: 'x' }, selfSigned: {} }).success).toBe(false);
    expect(CERT_MANAGER_SPECS.ClusterIssuer.safeParse({ ca: { secretName: 'x' }, selfSigned: {} }).success).toBe(false);
  });

  it('catch a misspelt or mistyped approver-policy field', () => {
    const policy = structuredClone(objects.find((o) => o.kind === 'CertificateRequestPolicy')!.spec) as any;
    const { CertificateRequestPolicy: spec } = APPROVER_POLICY_SPECS;
    expect(spec.safeParse(policy).success).toBe(true);
    expect(spec.safeParse({ ...policy, allow: policy.allowed }).success).toBe(false);
    expect(spec.safeParse({ ...policy, allowed: { ...policy.allowed, uri: policy.allowed.uris } }).success).toBe(false);
    expect(spec.safeParse({ ...policy, allowed: { ...policy.allowed, isCA: 'false' } }).success).toBe(false);
    expect(spec.safeParse({ ...policy, constraints: { maxDuration: '90d' } }).success).toBe(false);
    expect(spec.safeParse({ ...policy, constraints: { privateKey: { algorithm: 'EC' } } }).success).toBe(false);
    expect(spec.safeParse({ ...policy, selector: { namespace: { matchLabels: {} } } }).success).toBe(false);
    expect(spec.safeParse({ allowed: policy.allowed }).success).toBe(false);
  });

  it('catch an unknown field deep in a pod template', () => {
    const bad = structuredClone(deployment) as unknown as {
      spec: { template: { spec: { containers: Record<string, unknown>[] } } };
    };
    bad.spec.template.spec.containers[0]!.livenesProbe = {};
    expect(unknownFields(bad as never)).toEqual(['spec.template.spec.containers[0].livenesProbe']);
  });
});
