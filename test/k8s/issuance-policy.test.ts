import { describe, expect, it } from 'vitest';
import {
  type CertificateRequestShape,
  type PolicySpec,
  isPolicy,
  policiesUsableBy,
  policyDenials,
  requestOf,
  selectsRequest,
} from '../../infra/checklist/approval.js';
import { loadStack } from '../../infra/config/index.js';
import { environmentApp } from '../../infra/k8s/charts/platform.js';
import type { ManifestObject } from '../../infra/manifest/index.js';
import { objectKey } from '../../infra/manifest/index.js';
import { ENVIRONMENTS, synth } from '../support/synth.js';

/**
 * The mesh CA's issuance under cert-manager approver-policy, read from the rendered objects (the deploy test's
 * dry run checks them against the real CRD; no cert-manager runs here): what cert-manager's controller may
 * have approved, and that requests an attacker in (or outside) the namespace can make are approved by nothing.
 */

const CONTROLLER = { name: 'cert-manager', namespace: 'cert-manager' };

/** The policies that would approve a request made by a requester who may use `usable`. */
function approvers(objects: readonly ManifestObject[], r: CertificateRequestShape, usable: (n: string) => boolean) {
  return objects
    .filter(isPolicy)
    .filter((p) => usable(p.metadata.name))
    .filter((p) => selectsRequest(p.spec as PolicySpec, r) && policyDenials(p.spec as PolicySpec, r).length === 0)
    .map((p) => p.metadata.name);
}

describe.each(ENVIRONMENTS)('%s: who may have the mesh CA sign what', (env) => {
  const { objects } = synth(env);
  const byController = policiesUsableBy(objects, CONTROLLER);
  const certificate = (name: string) =>
    requestOf(
      objects.find((o) => o.kind === 'Certificate' && o.metadata.name === name)!,
      'prism',
    );
  const gateway = certificate('gateway-mtls');
  const issuer = gateway.issuerRef;

  it('approves each rendered certificate by exactly its policy, as cert-manager requests it', () => {
    for (const c of objects.filter((o) => o.kind === 'Certificate')) {
      const r = requestOf(c, 'prism');
      const expected = r.isCA ? `prism-${env}-mesh-ca-bootstrap` : `prism-${env}-mesh-workload-${r.commonName}`;
      expect(approvers(objects, r, byController), objectKey(c)).toEqual([expected]);
    }
    // The ingress-shim's Certificate for the public host: cert-manager's default usages.
    const ingress = objects.find(
      (o) => o.kind === 'Ingress' && o.metadata.annotations?.['cert-manager.io/cluster-issuer'],
    )!;
    const tls = (ingress.spec as { tls: { hosts: string[]; secretName: string }[] }).tls[0]!;
    const shim: CertificateRequestShape = {
      name: tls.secretName,
      namespace: 'prism',
      issuerRef: { name: ingress.metadata.annotations!['cert-manager.io/cluster-issuer']!, kind: 'ClusterIssuer' },
      dnsNames: tls.hosts,
      usages: ['digital signature', 'key encipherment'],
    };
    expect(approvers(objects, shim, byController)).toEqual([`prism-${env}-edge-tls`]);
  });

  it('a Certificate in the namespace asking the mesh CA for an operator identity is approved by nothing', () => {
    const operator = {
      ...gateway,
      name: 'mallory',
      commonName: 'gateway',
      dnsNames: [],
      uris: ['spiffe://prism/operator/mallory'],
      usages: ['digital signature', 'client auth'],
    };
    expect(approvers(objects, operator, byController)).toEqual([]);
    // Nor a second identity beside its own, another workload's name or usages, a CA, a longer life, another key, or
    // a name outside the namespace's.
    expect(approvers(objects, gateway, byController)).toEqual([`prism-${env}-mesh-workload-gateway`]);
    expect(approvers(objects, { ...gateway, uris: [...gateway.uris!, 'spiffe://prism/config'] }, byController)).toEqual(
      [],
    );
    expect(approvers(objects, { ...gateway, commonName: 'config' }, byController)).toEqual([]);
    const config = certificate('config-mtls');
    expect(
      approvers(objects, { ...gateway, dnsNames: [...gateway.dnsNames!, config.dnsNames![0]!] }, byController),
    ).toEqual([]);
    const edge = objects
      .filter((o) => o.kind === 'Certificate')
      .map((o) => requestOf(o, 'prism'))
      .find((r) => r.commonName === 'edge')!;
    expect(approvers(objects, edge, byController)).toEqual([`prism-${env}-mesh-workload-edge`]);
    expect(approvers(objects, { ...edge, usages: [...edge.usages!, 'server auth'] }, byController)).toEqual([]);
    expect(approvers(objects, { ...gateway, isCA: true }, byController)).toEqual([]);
    expect(approvers(objects, { ...gateway, duration: '8760h' }, byController)).toEqual([]);
    expect(approvers(objects, { ...gateway, privateKey: { algorithm: 'RSA', size: 2048 } }, byController)).toEqual([]);
    expect(approvers(objects, { ...gateway, dnsNames: ['gateway.other.svc'] }, byController)).toEqual([]);
    expect(approvers(objects, { ...gateway, commonName: 'root' }, byController)).toEqual([]);
    expect(approvers(objects, { ...gateway, usages: ['cert sign'] }, byController)).toEqual([]);
  });

  it('a workload identity requested from another namespace, through the ClusterIssuer, is approved by nothing', () => {
    expect(approvers(objects, { ...gateway, namespace: 'attacker' }, byController)).toEqual([]);
    // Nor a CA from the bootstrap issuer outside cert-manager's namespace.
    const ca = certificate(`prism-${env}-mesh-ca`);
    expect(approvers(objects, { ...ca, namespace: 'prism' }, byController)).toEqual([]);
  });

  it('operator identities: only principals the administrator binds to the operator role, short-lived, no CA', () => {
    const operatorRole = objects.find(
      (o) => o.kind === 'ClusterRole' && o.metadata.name.endsWith('operator-certificates'),
    )!;
    expect(
      objects.filter((o) => o.kind === 'ClusterRoleBinding' && (o as any).roleRef.name === operatorRole.metadata.name),
    ).toEqual([]);
    const asOperator = (n: string) => ((operatorRole as any).rules[0].resourceNames as string[]).includes(n);
    const alice: CertificateRequestShape = {
      name: 'operator-alice',
      namespace: 'prism',
      issuerRef: issuer,
      duration: '8h',
      uris: ['spiffe://prism/operator/alice'],
      usages: ['digital signature', 'client auth'],
      privateKey: { algorithm: 'ECDSA', size: 256 },
    };
    expect(approvers(objects, alice, asOperator)).toEqual([`prism-${env}-mesh-operators`]);
    expect(approvers(objects, alice, byController)).toEqual([]);
    expect(approvers(objects, { ...alice, duration: '720h' }, asOperator)).toEqual([]);
    expect(approvers(objects, { ...alice, usages: ['server auth'] }, asOperator)).toEqual([]);
    expect(approvers(objects, { ...alice, uris: ['spiffe://prism/gateway'] }, asOperator)).toEqual([]);
    expect(approvers(objects, { ...alice, isCA: true }, asOperator)).toEqual([]);
  });
});

describe('names of the mesh CA outside the application namespace', () => {
  it("are each environment's own, as environments may share a cluster and its cert-manager", () => {
    const shared = ENVIRONMENTS.map((env) =>
      synth(env)
        .objects.filter((o) => !o.metadata.namespace || o.metadata.namespace === 'cert-manager')
        .filter((o) => o.kind !== 'Namespace')
        .map(objectKey),
    );
    expect(shared[0]!.length).toBeGreaterThanOrEqual(10);
    const all = shared.flat();
    expect(new Set(all).size).toBe(all.length);
  });

  it("follow the stack's certManager settings: the CA in its namespace, approval bound to its service account", () => {
    const stack = loadStack('stacks', 'staging');
    const config = { ...stack.config, certManager: { namespace: 'pki', controllerServiceAccount: 'cm-controller' } };
    const { charts } = environmentApp({ ...stack, config }, '/tmp/prism-unused');
    const objects = charts.flatMap((c) => c.toJson() as ManifestObject[]);
    expect(objects.find((o) => o.kind === 'Certificate' && (o.spec as any).isCA)!.metadata.namespace).toBe('pki');
    expect(objects.find((o) => o.kind === 'ClusterRoleBinding')!.subjects).toEqual([
      { kind: 'ServiceAccount', name: 'cm-controller', namespace: 'pki' },
    ]);
    const bootstrap = objects.find((o) => o.metadata.name === 'prism-staging-mesh-ca-bootstrap' && isPolicy(o))!;
    expect((bootstrap.spec as PolicySpec).selector!.namespace!.matchNames).toEqual(['pki']);
  });
});
