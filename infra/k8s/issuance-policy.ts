import { Construct } from 'constructs';
import { OPERATOR_SPIFFE_ID_PATTERN } from '../contract/index.js';
import type { Platform } from '../model/index.js';
import { type KeyUsage, certManagerObject, withoutNamespace } from './cert-manager.js';
import * as k8s from './imports/k8s.js';
import {
  EDGE_COMMON_NAME,
  EDGE_USAGES,
  MESH_KEY,
  WORKLOAD_USAGES,
  bootstrapIssuerName,
  meshCaRequest,
  workloadDnsNames,
} from './mesh-ca.js';

/**
 * Who may have the platform's issuers sign what, as cert-manager approver-policy CertificateRequestPolicies.
 * A ClusterIssuer signs for any namespace, and cert-manager's default approver approves every request; so
 * the operator disables that approver (`--controllers=*,-certificaterequests-approver`) and a request is
 * signed only when a policy selecting its issuer and namespace allows it and its requester may `use` that
 * policy. Every CertificateRequest the platform makes is created by cert-manager's controller (from a
 * Certificate, or from an Ingress through its ingress-shim), so that service account may use the platform's
 * policies: the mesh CA signs in the application namespace only this environment's workload identities, one
 * policy each, so a certificate carries one identity with that workload's own names and usages (no CA, P-256,
 * at most the model's duration); the self-signed bootstrap issuer signs only the CA in cert-manager's
 * namespace; the edge's issuer only the public host. An operator identity
 * (`spiffe://prism/operator/*`) is allowed by a policy of its own, which only principals the cluster
 * administrator binds to its ClusterRole may use: creating a Certificate in the namespace never mints one.
 */

const POLICY_API_GROUP = 'policy.cert-manager.io';
const clusterIssuer = (name: string) => ({ name, kind: 'ClusterIssuer', group: 'cert-manager.io' });
const keyConstraint = { algorithm: MESH_KEY.algorithm, minSize: MESH_KEY.size, maxSize: MESH_KEY.size };

/** Identities the mesh CA may sign in the application namespace: each workload with one, and the edge. */
function meshIdentities(
  platform: Platform,
): { commonName: string; uri: string; dnsNames: string[]; usages: KeyUsage[] }[] {
  return [
    ...platform.components.flatMap((c) =>
      c.identity
        ? [
            {
              commonName: c.name,
              uri: c.identity.uri,
              dnsNames: workloadDnsNames(c, platform.namespace),
              usages: c.identity.verifyOnly ? EDGE_USAGES : WORKLOAD_USAGES,
            },
          ]
        : [],
    ),
    { commonName: EDGE_COMMON_NAME, uri: platform.edge.backendTls.identityUri, dnsNames: [], usages: EDGE_USAGES },
  ];
}

/** The names of one environment's policies and roles (cluster-scoped, so the environment is in each name). */
function issuancePolicyNames(platform: Platform) {
  const prefix = `${platform.namespace}-${platform.environment}`;
  return {
    /** One per identity, so a certificate carries one identity with its own names and usages. */
    workload: (commonName: string) => `${prefix}-mesh-workload-${commonName}`,
    bootstrap: `${prefix}-mesh-ca-bootstrap`,
    edgeTls: `${prefix}-edge-tls`,
    operators: `${prefix}-mesh-operators`,
    /** `use` of every policy but the operators', bound to cert-manager's controller. */
    controllerRole: `${prefix}-certificate-approval`,
    /** `use` of the operators' policy, bound by the cluster administrator to the operators. */
    operatorRole: `${prefix}-operator-certificates`,
  };
}

export interface IssuancePolicyProps {
  readonly platform: Platform;
  readonly labels: Record<string, string>;
}

export class IssuancePolicy extends Construct {
  constructor(scope: Construct, id: string, props: IssuancePolicyProps) {
    super(scope, id);
    const { platform, labels } = props;
    const { mtls: ca, namespace, edge } = platform;
    const names = issuancePolicyNames(platform);
    const inApp = { namespace: { matchNames: [namespace] } };
    const identities = meshIdentities(platform);
    const policy = (name: string, spec: unknown) =>
      certManagerObject(this, name, 'CertificateRequestPolicy', { name, labels }, spec);

    for (const id of identities)
      policy(names.workload(id.commonName), {
        selector: { issuerRef: clusterIssuer(ca.name), ...inApp },
        allowed: {
          commonName: { value: id.commonName, required: true },
          ...(id.dnsNames.length > 0 ? { dnsNames: { values: id.dnsNames } } : {}),
          uris: { required: true, values: [id.uri] },
          isCA: false,
          usages: id.usages,
        },
        constraints: { maxDuration: ca.certificateDuration, privateKey: keyConstraint },
      });
    const caRequest = meshCaRequest(platform.environment);
    policy(names.bootstrap, {
      selector: {
        issuerRef: clusterIssuer(bootstrapIssuerName(ca)),
        namespace: { matchNames: [ca.certManagerNamespace] },
      },
      allowed: { commonName: { value: caRequest.commonName, required: true }, isCA: true, usages: caRequest.usages },
      constraints: { maxDuration: ca.caDuration, privateKey: keyConstraint },
    });
    // The ingress-shim's Certificate for the public host: its names and cert-manager's default usages; the
    // public issuer (ACME) decides its key and lifetime.
    policy(names.edgeTls, {
      selector: { issuerRef: clusterIssuer(edge.tls.clusterIssuer), ...inApp },
      allowed: {
        commonName: { value: edge.domain },
        dnsNames: { required: true, values: [edge.domain] },
        isCA: false,
        usages: ['digital signature', 'key encipherment'],
      },
    });
    policy(names.operators, {
      selector: { issuerRef: clusterIssuer(ca.name), ...inApp },
      allowed: { uris: { required: true, values: [OPERATOR_SPIFFE_ID_PATTERN] }, isCA: false, usages: EDGE_USAGES },
      constraints: { maxDuration: ca.operatorCertificateMaxDuration, privateKey: keyConstraint },
    });

    const useRole = (name: string, policies: string[]) =>
      withoutNamespace(
        new k8s.KubeClusterRole(this, name, {
          metadata: { name, labels },
          rules: [
            {
              apiGroups: [POLICY_API_GROUP],
              resources: ['certificaterequestpolicies'],
              verbs: ['use'],
              resourceNames: policies,
            },
          ],
        }),
      );
    useRole(names.controllerRole, [
      ...identities.map((id) => names.workload(id.commonName)),
      names.bootstrap,
      names.edgeTls,
    ]);
    useRole(names.operatorRole, [names.operators]);
    withoutNamespace(
      new k8s.KubeClusterRoleBinding(this, 'ControllerBinding', {
        metadata: { name: names.controllerRole, labels },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: names.controllerRole },
        subjects: [{ kind: 'ServiceAccount', name: ca.certManagerServiceAccount, namespace: ca.certManagerNamespace }],
      }),
    );
  }
}
