#!/usr/bin/env bash
# Proves the real-pods lane through the running cluster (bash scripts/cluster-run.sh check; `up` runs it):
#   1. a pod is Ready by its real readiness probe (an HTTP GET the kubelet makes), and a pod whose probe fails
#      stays unready (no kwok: nothing marks pods Ready by fiat);
#   2. a client pod reaches that pod through its Service's name: CoreDNS answers, kube-proxy's iptables rules
#      carry the ClusterIP to the pod, across the CNI bridge;
#   3. NetworkPolicy: before any policy an unlabelled pod reaches the server too; after a default-deny policy and one
#      that declares the client -> server flow, the client still gets its answer and the unlabelled pod is refused.
# Every pod passes Pod Security "restricted" (the control plane's default). The namespace is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/../.."
STATE=${PRISM_CLUSTER_RUN_DIR:-${TMPDIR:-/tmp}/prism-cluster-run}
PATH=$(bash scripts/control-plane-tools.sh --print-path kubectl):$PATH
NS=prism-check
k() { kubectl --kubeconfig "$STATE/control-plane/admin.kubeconfig" "$@"; }
kc() { k -n "$NS" "$@"; }
log() { echo "cluster-run check: $*" >&2; }
fail() {
  log "FAILED: $*"
  kc get pods -o wide >&2 || true
  exit 1
}

k delete namespace "$NS" --ignore-not-found --wait=true >/dev/null
k create namespace "$NS" >/dev/null
k label namespace "$NS" prism.local/cluster-run=check >/dev/null
sed "s#@IMAGE@#${BUSYBOX_IMAGE:-prism.local/busybox:1.35}#" scripts/cluster/check-pods.yaml | kc apply -f - >/dev/null
kc wait --for condition=Ready pod/web pod/client pod/intruder --timeout 120s >/dev/null || fail "pods not Ready"
log "web Ready by its HTTP readiness probe ($(kc get pod web -o jsonpath='{.status.podIP}'))"
sleep 10
[ "$(kc get pod unready -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" = False ] ||
  fail "the pod whose readiness probe fails is Ready"
log "unready (probe on a closed port) still not Ready after 10 s"

# fetch <pod>: the body of the server's page through its Service name, or nothing (3 s timeout). An HTTP/1.0
# request by hand over busybox nc: the static busybox's wget crashes (SIGSEGV) in these pods.
fetch() {
  kc exec "$1" -- sh -c "printf 'GET / HTTP/1.0\r\nHost: web\r\n\r\n' | nc -w 3 web.$NS.svc.cluster.local 80" 2>/dev/null | tail -1 || true
}
[ "$(fetch client)" = prism-ok ] || fail "client -> web (Service name) before any policy"
[ "$(fetch intruder)" = prism-ok ] || fail "intruder -> web before any policy"
log "client and intruder reach web through CoreDNS and the Service (no policy yet)"

kc apply -f scripts/cluster/check-policies.yaml >/dev/null
ok=
for _ in $(seq 30); do
  if [ -z "$(fetch intruder)" ]; then ok=yes && break; fi
  sleep 1
done
[ -n "$ok" ] || fail "the NetworkPolicy never refused intruder -> web"
[ "$(fetch client)" = prism-ok ] || fail "client -> web (declared flow) after the policy"
[ -z "$(fetch intruder)" ] || fail "intruder -> web got through after the policy"
log "NetworkPolicy: client -> web:8080 (declared) answers; intruder -> web (undeclared) refused"
k delete namespace "$NS" --wait=false >/dev/null
log "passed"
