import type { ManifestObject } from '../manifest/index.js';
import { spec } from './manifests.js';

/**
 * What cert-manager approver-policy would decide for a certificate the rendered objects ask for, read from
 * the objects alone (configuration, not a running approver): which CertificateRequestPolicies select its
 * request, which of them the requester may `use`, and whether one allows everything the request carries.
 * It covers the policy fields the platform's policies use; a CEL rule other than `self in [...]` is not
 * understood and allows nothing, so an unreadable policy fails the checklist instead of passing it.
 */

/** The request cert-manager makes for a Certificate (or the ingress-shim's Certificate for an Ingress). */
export interface CertificateRequestShape {
  readonly name: string;
  readonly namespace: string;
  readonly issuerRef: { readonly name: string; readonly kind?: string; readonly group?: string };
  readonly commonName?: string;
  readonly dnsNames?: readonly string[];
  readonly uris?: readonly string[];
  readonly usages?: readonly string[];
  readonly isCA?: boolean;
  readonly duration?: string;
  readonly privateKey?: { readonly algorithm?: string; readonly size?: number };
}

interface AllowedValue {
  value?: string;
  required?: boolean;
  validations?: { rule: string }[];
}
interface AllowedValues {
  values?: string[];
  required?: boolean;
}
export interface PolicySpec {
  allowed?: {
    commonName?: AllowedValue;
    dnsNames?: AllowedValues;
    uris?: AllowedValues;
    isCA?: boolean;
    usages?: string[];
  };
  constraints?: {
    minDuration?: string;
    maxDuration?: string;
    privateKey?: { algorithm?: string; minSize?: number; maxSize?: number };
  };
  selector?: {
    issuerRef?: { name?: string; kind?: string; group?: string };
    namespace?: { matchNames?: string[] };
  };
}

export const isPolicy = (o: ManifestObject): boolean =>
  o.kind === 'CertificateRequestPolicy' && o.apiVersion.startsWith('policy.cert-manager.io/');

/** approver-policy's wildcard: `*` matches any run of characters. */
function wildcardMatch(pattern: string, value: string): boolean {
  const re = new RegExp(`^${pattern.split('*').map(escapeRegExp).join('.*')}$`);
  return re.test(value);
}
const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Seconds of a Go duration (`2160h`, `1h30m`), or undefined. */
function goDurationSeconds(d: string | undefined): number | undefined {
  const m = d ? /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(d) : null;
  if (!m || d === '') return undefined;
  return Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0);
}

/** Whether a policy's selector picks a request: its issuer (wildcard name, kind, group) and its namespace. */
export function selectsRequest(policy: PolicySpec, r: CertificateRequestShape): boolean {
  const ref = policy.selector?.issuerRef;
  if (!ref) return false; // approver-policy requires a selector; an empty one selects nothing here
  if (ref.name !== undefined && !wildcardMatch(ref.name, r.issuerRef.name)) return false;
  if (ref.kind !== undefined && !wildcardMatch(ref.kind, r.issuerRef.kind ?? 'Issuer')) return false;
  if (ref.group !== undefined && !wildcardMatch(ref.group, r.issuerRef.group ?? 'cert-manager.io')) return false;
  const names = policy.selector?.namespace?.matchNames;
  return !names || names.some((n) => wildcardMatch(n, r.namespace));
}

/** `self in ['a', 'b']`: the one CEL form understood here. */
function celAllows(rule: string, value: string): boolean {
  const m = /^self in \[((?:\s*'[^']*'\s*,?)*)\]$/.exec(rule.trim());
  if (!m) return false;
  return [...m[1]!.matchAll(/'([^']*)'/g)].some((x) => x[1] === value);
}

/** What in a request a policy does not allow (empty: allowed). */
export function policyDenials(policy: PolicySpec, r: CertificateRequestShape): string[] {
  const a = policy.allowed ?? {};
  const c = policy.constraints ?? {};
  const out: string[] = [];
  const cn = r.commonName ?? '';
  if (cn === '') {
    if (a.commonName?.required) out.push('no common name');
  } else if (!a.commonName) out.push(`common name ${cn}`);
  else if (
    (a.commonName.value !== undefined && !wildcardMatch(a.commonName.value, cn)) ||
    !(a.commonName.validations ?? []).every((v) => celAllows(v.rule, cn))
  )
    out.push(`common name ${cn}`);
  for (const [field, values] of [
    ['dnsNames', r.dnsNames ?? []],
    ['uris', r.uris ?? []],
  ] as const) {
    const allowed = a[field];
    if (values.length === 0 && allowed?.required) out.push(`no ${field}`);
    for (const v of values) if (!(allowed?.values ?? []).some((p) => wildcardMatch(p, v))) out.push(`${field} ${v}`);
  }
  if (r.isCA && !a.isCA) out.push('isCA');
  for (const u of r.usages ?? []) if (!(a.usages ?? []).includes(u)) out.push(`usage ${u}`);
  const seconds = goDurationSeconds(r.duration);
  const max = goDurationSeconds(c.maxDuration);
  const min = goDurationSeconds(c.minDuration);
  if ((max !== undefined || min !== undefined) && seconds === undefined) out.push('no duration');
  if (seconds !== undefined && max !== undefined && seconds > max)
    out.push(`duration ${r.duration} > ${c.maxDuration}`);
  if (seconds !== undefined && min !== undefined && seconds < min)
    out.push(`duration ${r.duration} < ${c.minDuration}`);
  const pk = c.privateKey;
  if (pk) {
    // cert-manager's defaults: RSA 2048.
    const algorithm = r.privateKey?.algorithm ?? 'RSA';
    const size = r.privateKey?.size ?? (algorithm === 'RSA' ? 2048 : algorithm === 'ECDSA' ? 256 : undefined);
    if (pk.algorithm && pk.algorithm !== algorithm) out.push(`key ${algorithm}`);
    if (size !== undefined && ((pk.minSize ?? 0) > size || size > (pk.maxSize ?? Infinity)))
      out.push(`key size ${size}`);
  }
  return out;
}

/** A service account as an RBAC subject. */
export interface ServiceAccountRef {
  readonly name: string;
  readonly namespace: string;
}

/** Names of the policies a service account may `use`, through the ClusterRoleBindings among the objects. */
export function policiesUsableBy(objects: readonly ManifestObject[], sa: ServiceAccountRef): (name: string) => boolean {
  type Rule = { apiGroups?: string[]; resources?: string[]; verbs?: string[]; resourceNames?: string[] };
  const grants: ((name: string) => boolean)[] = [];
  for (const b of objects.filter((o) => o.kind === 'ClusterRoleBinding')) {
    const binding = b as unknown as {
      roleRef: { kind: string; name: string };
      subjects?: { kind: string; name: string; namespace?: string }[];
    };
    const bound = (binding.subjects ?? []).some(
      (s) => s.kind === 'ServiceAccount' && s.name === sa.name && s.namespace === sa.namespace,
    );
    const role = objects.find((o) => o.kind === 'ClusterRole' && o.metadata.name === binding.roleRef.name);
    if (!bound || binding.roleRef.kind !== 'ClusterRole' || !role) continue;
    for (const rule of ((role as { rules?: Rule[] }).rules ?? []).filter(
      (x) =>
        (x.apiGroups ?? []).some((g) => g === 'policy.cert-manager.io' || g === '*') &&
        (x.resources ?? []).some((r) => r === 'certificaterequestpolicies' || r === '*') &&
        (x.verbs ?? []).some((v) => v === 'use' || v === '*'),
    ))
      grants.push((name) => !rule.resourceNames?.length || rule.resourceNames.includes(name));
  }
  return (name) => grants.some((g) => g(name));
}

/** The request a Certificate object makes (cert-manager copies these fields into its CertificateRequest). */
export function requestOf(cert: ManifestObject, defaultNamespace: string): CertificateRequestShape {
  const s = spec<Omit<CertificateRequestShape, 'name' | 'namespace'>>(cert);
  return { ...s, name: cert.metadata.name, namespace: cert.metadata.namespace ?? defaultNamespace };
}
