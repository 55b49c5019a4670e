#!/usr/bin/env bash
# Proves cert-manager and approver-policy (scripts/cluster/cert-manager.sh) issue what the stack's policies allow and
# nothing else, with the stack's own objects, synthesized now (charts/main.ts): its ClusterIssuers, mesh CA Certificate,
# CertificateRequestPolicies, their ClusterRoles and the binding (0000-base), every workload Certificate and the
# Ingress that asks the edge's ClusterIssuer for the public host's certificate (through cert-manager's ingress-shim).
#   1. the mesh CA Certificate and the mesh ClusterIssuer become Ready, then every Certificate of the stack and the
#      ingress-shim's; the gateway's Secret holds tls.crt, tls.key and ca.crt; the certificate's URI SAN is the
#      gateway's SPIFFE id and it verifies against the mesh CA (openssl verify), which is the CA Secret's certificate;
#   2. refused by approver-policy (its CertificateRequest Denied, no Secret, the Certificate never Ready):
#      - an operator identity (the operators policy's URI pattern) asked for in the application namespace: only the
#        operators' policy allows it, and cert-manager's ServiceAccount may not `use` that one;
#      - the gateway's certificate with one more DNS name (evil.example.com);
#      - the gateway's certificate with auth's identity beside its own, and with auth's common name: each workload's
#        policy allows its own identity, names and usages only;
#      - the gateway's certificate asked for from another namespace: no policy selects it, so approver-policy leaves
#        the request alone and, cert-manager's own approver being off, nothing approves it (no condition, no Secret);
#   3. the control: once cert-manager's ServiceAccount is bound to the operators' ClusterRole, the same operator request
#      is approved and issued, so the denial in 2 came from the `use` permission (the model's binding), not its content.
# Objects the stack already had (after `pulumi up -s dev`) are left as they are; those the check created, and its own,
# are removed at the end. Usage: bash scripts/cluster/cert-manager-check.sh <admin kubeconfig> [stack]
set -euo pipefail
cd "$(dirname "$0")/../.."
KUBECONFIG_FILE=$(realpath "${1:?usage: bash scripts/cluster/cert-manager-check.sh <admin kubeconfig> [stack]}")
STACK=${2:-dev}
PATH=$(bash scripts/control-plane-tools.sh --print-path kubectl):$PATH
k() { kubectl --kubeconfig "$KUBECONFIG_FILE" "$@"; }
log() { echo "cert-manager check: $*" >&2; }
OUT=$(mktemp -d)
FOREIGN=prism-check-cm
CREATED=()
cleanup() {
  k delete clusterrolebinding prism-check-operator-use --ignore-not-found >/dev/null 2>&1 || true
  k delete namespace "$FOREIGN" --ignore-not-found --timeout 60s >/dev/null 2>&1 || true
  local o
  # shellcheck disable=SC2086 # "-n <namespace>" or nothing: two words or none
  for o in "${CREATED[@]}"; do k delete "${o#*|}" ${o%%|*} --ignore-not-found --timeout 60s >/dev/null 2>&1 || true; done
  rm -rf "$OUT"
}
trap cleanup EXIT
fail() {
  log "FAILED: $*"
  k get certificates,certificaterequests -A >&2 || true
  exit 1
}

# until_ok <seconds> <command...>: until the command succeeds.
until_ok() {
  local tries=$1
  shift
  for _ in $(seq "$tries"); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 1
  done
  return 1
}

CDK8S_OUTDIR=$OUT/k8s npx tsx charts/main.ts >/dev/null
# objects <selector>: YAML of the synthesized objects the selector (a JS expression of `o`) picks, as JSON lines.
objects() {
  node --input-type=module -e '
    import { parseAllDocuments } from "yaml";
    import { readFileSync, readdirSync } from "node:fs";
    const [dir, selector] = process.argv.slice(1);
    const pick = new Function("o", `return ${selector}`);
    for (const f of readdirSync(dir).sort())
      for (const d of parseAllDocuments(readFileSync(`${dir}/${f}`, "utf8"))) {
        const o = d.toJS();
        if (o && pick(o)) console.log(JSON.stringify(o));
      }' "$OUT/k8s/$STACK" "$1"
}
STACK_OBJECTS=$(objects '["Namespace", "ClusterIssuer", "Certificate", "CertificateRequestPolicy", "ClusterRole", "ClusterRoleBinding"].includes(o.kind) ||
  (o.kind === "Ingress" && o.metadata.annotations?.["cert-manager.io/cluster-issuer"] !== undefined)')
field() { node -e 'const o = JSON.parse(process.argv[1]); console.log(eval(process.argv[2]))' "$1" "$2"; }
CA_CERT=$(grep '"kind":"Certificate"' <<<"$STACK_OBJECTS" | grep '"isCA":true')
GATEWAY_CERT=$(grep '"name":"gateway-mtls"' <<<"$STACK_OBJECTS")
CA_NAMESPACE=$(field "$CA_CERT" o.metadata.namespace)
CA_SECRET=$(field "$CA_CERT" o.spec.secretName)
MESH_ISSUER=$(field "$GATEWAY_CERT" o.spec.issuerRef.name)
APP_NAMESPACE=$(field "$GATEWAY_CERT" o.metadata.namespace)
GATEWAY_SECRET=$(field "$GATEWAY_CERT" o.spec.secretName)
GATEWAY_URI=$(field "$GATEWAY_CERT" 'o.spec.uris[0]')
AUTH_URI=$(field "$(grep '"name":"auth-mtls"' <<<"$STACK_OBJECTS")" 'o.spec.uris[0]')
# The operators' policy: the one allowing a URI pattern (spiffe://prism/operator/*), and the ClusterRole to `use` it.
OPERATORS=$(objects 'o.kind === "CertificateRequestPolicy" && (o.spec.allowed?.uris?.values ?? []).some((v) => v.includes("*"))')
OPERATOR_URI=$(field "$OPERATORS" 'o.spec.allowed.uris.values[0].replace("*", "prism-check")')
OPERATOR_ROLE=$(objects "o.kind === 'ClusterRole' && o.rules.some((r) => r.resourceNames?.includes('$(field "$OPERATORS" o.metadata.name)'))")
[ "$(wc -l <<<"$OPERATORS")" = 1 ] && [ "$(wc -l <<<"$OPERATOR_ROLE")" = 1 ] || fail "no single operators' policy and role"

# Apply those of the stack's objects that are not there (they are removed at the end); those that are (after
# `pulumi up`) are left untouched, so no field manager but the deployer's owns them.
new=0 missing=
while read -r o; do
  kind=$(field "$o" o.kind) name=$(field "$o" o.metadata.name) ns=$(field "$o" 'o.metadata.namespace ?? ""')
  if ! k get "$kind" "$name" ${ns:+-n "$ns"} >/dev/null 2>&1; then
    CREATED+=("${ns:+-n $ns}|$kind/$name") new=$((new + 1)) missing+=$o$'\n'
    [ "$kind" != Certificate ] || CREATED+=("-n $ns|secret/$(field "$o" o.spec.secretName)")
    [ "$kind" != Ingress ] || CREATED+=("-n $ns|secret/$(field "$o" 'o.spec.tls[0].secretName')")
  fi
done <<<"$STACK_OBJECTS"
[ -z "$missing" ] || k apply -f - <<<"$missing" >/dev/null
log "the $STACK stack's cert-manager objects: $(wc -l <<<"$STACK_OBJECTS") from charts/main.ts, $new of them applied (not there before)"

# 1. Issued.
k -n "$CA_NAMESPACE" wait --for condition=Ready "certificate/$(field "$CA_CERT" o.metadata.name)" --timeout 90s >/dev/null ||
  fail "the mesh CA Certificate is not Ready"
k wait --for condition=Ready "clusterissuer/$MESH_ISSUER" --timeout 60s >/dev/null || fail "ClusterIssuer $MESH_ISSUER is not Ready"
# Every Certificate of the stack, and the one cert-manager's ingress-shim makes for each annotated Ingress (named for
# its TLS Secret, asked of the edge's ClusterIssuer).
CERTIFICATES=$( (grep '"kind":"Certificate"' <<<"$STACK_OBJECTS" | while read -r o; do field "$o" '`${o.metadata.namespace} ${o.metadata.name}`'; done
  grep '"kind":"Ingress"' <<<"$STACK_OBJECTS" | while read -r o; do field "$o" '`${o.metadata.namespace} ${o.spec.tls[0].secretName}`'; done))
while read -r ns name; do
  until_ok 90 k -n "$ns" get "certificate/$name" || fail "no Certificate $ns/$name"
  k -n "$ns" wait --for condition=Ready "certificate/$name" --timeout 90s >/dev/null || fail "Certificate $ns/$name is not Ready"
done <<<"$CERTIFICATES"
log "mesh CA Certificate and ClusterIssuer $MESH_ISSUER Ready; every Certificate of the stack issued ($(wc -l <<<"$CERTIFICATES"):" \
  "$(cut -d' ' -f2 <<<"$CERTIFICATES" | tr '\n' ' ')(the last by the ingress-shim, from the edge's ClusterIssuer))"
for key in tls.crt tls.key ca.crt; do
  k -n "$APP_NAMESPACE" get secret "$GATEWAY_SECRET" -o "go-template={{index .data \"$key\" | base64decode}}" >"$OUT/$key"
  [ -s "$OUT/$key" ] || fail "secret $GATEWAY_SECRET has no $key"
done
chmod 600 "$OUT/tls.key"
k -n "$CA_NAMESPACE" get secret "$CA_SECRET" -o 'go-template={{index .data "tls.crt" | base64decode}}' >"$OUT/mesh-ca.crt"
cmp -s "$OUT/ca.crt" "$OUT/mesh-ca.crt" || fail "ca.crt of $GATEWAY_SECRET is not the mesh CA ($CA_NAMESPACE/$CA_SECRET)"
openssl verify -CAfile "$OUT/mesh-ca.crt" "$OUT/tls.crt" >/dev/null || fail "the gateway's certificate does not verify against the mesh CA"
sans=$(openssl x509 -in "$OUT/tls.crt" -noout -ext subjectAltName)
grep -q "URI:$GATEWAY_URI\$" <<<"$sans" || fail "the gateway's certificate has no URI SAN $GATEWAY_URI ($sans)"
[ "$(openssl x509 -in "$OUT/tls.crt" -noout -pubkey | openssl pkey -pubin -noout -text | sed -n 's/.*ASN1 OID: //p')" = prime256v1 ] ||
  fail "the gateway's key is not P-256"
cmp -s <(openssl x509 -in "$OUT/tls.crt" -noout -pubkey) <(openssl pkey -in "$OUT/tls.key" -pubout) ||
  fail "tls.key is not the key of tls.crt"
log "secret $GATEWAY_SECRET: tls.crt (URI SAN $GATEWAY_URI, P-256) verifies against the mesh CA, ca.crt is that CA, tls.key matches"

# A Certificate of the check: <namespace> <name> <spec JSON>.
check_certificate() {
  k apply -f - >/dev/null <<EOF
{"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
 "metadata": {"name": "$2", "namespace": "$1", "labels": {"prism.local/cluster-run": "check"}}, "spec": $3}
EOF
  CREATED+=("-n $1|certificate/$2" "-n $1|secret/$2")
}
# request_conditions <namespace> <certificate>: "<type>=<status> <message>" per condition of its CertificateRequests
# ("exists" alone once one exists).
request_conditions() {
  k -n "$1" get certificaterequests -o json | node -e 'let s="";process.stdin.on("data",(d)=>(s+=d)).on("end",()=>{
    for(const r of JSON.parse(s).items) if(r.metadata.annotations?.["cert-manager.io/certificate-name"]===process.argv[1]){
      console.log("exists"); for(const c of r.status?.conditions??[]) console.log(`${c.type}=${c.status} ${c.message??""}`)}})' "$2"
}
not_issued() {
  ! k -n "$1" get secret "$2" >/dev/null 2>&1 || fail "$1/$2: a Secret was issued"
  [ "$(k -n "$1" get certificate "$2" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" != True ] ||
    fail "$1/$2 is Ready"
}
# denied <namespace> <name>: its CertificateRequest is Denied (printed: approver-policy's reason), no Secret, not Ready.
denied() {
  local reason=
  for _ in $(seq 60); do
    reason=$(request_conditions "$1" "$2" | sed -n 's/^Denied=True //p')
    [ -z "$reason" ] || break
    sleep 1
  done
  [ -n "$reason" ] || fail "$1/$2: no Denied CertificateRequest"
  not_issued "$1" "$2"
  log "$1/$2: Denied ($(cut -c1-220 <<<"$reason"))"
}
# unapproved <namespace> <name>: its CertificateRequest exists and is, 15 s on, neither approved nor denied; no Secret.
unapproved() {
  until_request "$1" "$2"
  sleep 15
  ! request_conditions "$1" "$2" | grep -Eq '^(Approved|Denied)=' || fail "$1/$2: $(request_conditions "$1" "$2" | tr '\n' ' ')"
  not_issued "$1" "$2"
  log "$1/$2: no policy selects $1: its request stays unapproved, nothing issued"
}
until_request() {
  for _ in $(seq 60); do
    ! request_conditions "$1" "$2" | grep -q '^exists' || return 0
    sleep 1
  done
  fail "$1/$2: no CertificateRequest"
}
approved() {
  k -n "$1" wait --for condition=Ready "certificate/$2" --timeout 90s >/dev/null || fail "$1/$2 was not issued"
  log "$1/$2: approved and issued"
}

# 2. Refused. The gateway's spec with other names; the operator's request within every other bound of its policy.
gateway_spec() { field "$GATEWAY_CERT" "JSON.stringify({ ...o.spec, secretName: '$1', secretTemplate: undefined $2 })"; }
operator_spec=$(field "$OPERATORS" "JSON.stringify({ secretName: 'prism-check-operator', issuerRef: { name: '$MESH_ISSUER', kind: 'ClusterIssuer', group: 'cert-manager.io' },
  uris: ['$OPERATOR_URI'], usages: o.spec.allowed.usages, duration: o.spec.constraints.maxDuration,
  privateKey: { algorithm: o.spec.constraints.privateKey.algorithm, size: o.spec.constraints.privateKey.maxSize } })")
check_certificate "$APP_NAMESPACE" prism-check-operator "$operator_spec"
check_certificate "$APP_NAMESPACE" prism-check-dns "$(gateway_spec prism-check-dns ", dnsNames: [...o.spec.dnsNames, 'evil.example.com']")"
check_certificate "$APP_NAMESPACE" prism-check-two "$(gateway_spec prism-check-two ", uris: [...o.spec.uris, '$AUTH_URI']")"
check_certificate "$APP_NAMESPACE" prism-check-cn "$(gateway_spec prism-check-cn ", commonName: 'auth'")"
k create namespace "$FOREIGN" >/dev/null
k label namespace "$FOREIGN" prism.local/cluster-run=check >/dev/null
check_certificate "$FOREIGN" prism-check-foreign "$(gateway_spec prism-check-foreign '')"
denied "$APP_NAMESPACE" prism-check-operator
denied "$APP_NAMESPACE" prism-check-dns
denied "$APP_NAMESPACE" prism-check-two
denied "$APP_NAMESPACE" prism-check-cn
unapproved "$FOREIGN" prism-check-foreign

# 3. The control: the same operator request, once the controller may `use` the operators' policy.
k create clusterrolebinding prism-check-operator-use --clusterrole "$(field "$OPERATOR_ROLE" o.metadata.name)" \
  --serviceaccount cert-manager:cert-manager >/dev/null
check_certificate "$APP_NAMESPACE" prism-check-operator-bound "${operator_spec/prism-check-operator/prism-check-operator-bound}"
approved "$APP_NAMESPACE" prism-check-operator-bound
log "passed"
