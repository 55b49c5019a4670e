#!/usr/bin/env bash
# The real-pods lane: the local deploy test's control plane (scripts/local-cluster.sh, no kwok) plus one real node on
# this machine: containerd and runc (Debian packages), the CNI bridge and portmap plugins (Debian's
# containernetworking-plugins), kubelet and kube-proxy (iptables mode) of the control plane's release, CoreDNS as the
# cluster DNS and kube-router as the NetworkPolicy enforcer, cert-manager and approver-policy issuing the stack's
# certificates (scripts/cluster/cert-manager.sh; all built by scripts/control-plane-tools.sh).
# Images cannot be pulled: stand-ins are imported into containerd (scripts/cluster/images.sh).
# Usage: bash scripts/cluster-run.sh up [dev|node] | down | check | flows | resilience | endpoints
#   up      starts everything, waits until the node, CoreDNS and kube-router are Ready, runs `check`; then (unless
#           `node`) the stack's images, `pulumi up -s dev` through the deploy test
#           (scripts/cluster/stack.sh: every pod Running and Ready by its real probes, the Jobs complete), the
#           journeys' way in (scripts/cluster/endpoints.sh: .prism-cluster/endpoints.json), `flows`; and leaves it
#           all running. The stack's Alertmanager notifies a webhook receiver the lane runs on the node's address
#           (scripts/cluster/alert-sink.mjs, port $ALERT_SINK_PORT), through its egress policy. The journeys then run against it unchanged:
#             PRISM_ENDPOINTS_FILE=.prism-cluster/endpoints.json PRISM_BACKUP_MODE=kubernetes \
#               KUBECONFIG=$PRISM_CLUSTER_RUN_DIR/control-plane/admin.kubeconfig npx vitest run test/local-platform/journeys.test.ts
#           prod's shape (anti-affinity over three zones) needs three nodes; this lane has one.
#   check   proves the lane through the running cluster (scripts/cluster/check.sh): a pod Ready by its real probe,
#           a Service through kube-proxy, a name through CoreDNS, a declared flow allowed, an undeclared one refused;
#           then scripts/cluster/cert-manager-check.sh: the stack's mesh CA and a workload certificate issued, requests
#           the stack's policies do not allow refused
#   flows   the stack's NetworkPolicies from inside its pods (scripts/cluster/stack-flows.sh)
#   resilience  a rolling update of the gateway under load, a pod of each service deleted (scripts/cluster/
#           stack-resilience.sh), then `endpoints`
#   endpoints   maps the endpoints' names to the current pods again (after pods were replaced)
#   down    removes every process, mount, network namespace, interface, iptables chain, sysctl change and hostPath `up` made,
#           and verifies it
# Needs root, and: apt-get install containerd runc containernetworking-plugins conntrack iptables ipset
# busybox-static etcd-server; about 6 GB free (checked: enough_disk). One node per machine (fixed node ports: kubelet 10250/10248, kube-proxy 10249/10256,
# kube-router 20244). State: PRISM_CLUSTER_RUN_DIR (default ${TMPDIR:-/tmp}/prism-cluster-run).
# On GitHub Actions (PRISM_TOOLCHAIN=download) this lane would be kind (a node image with all of this inside);
# not built yet: there, `up` refuses.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
# shellcheck source=scripts/toolchain.sh
. scripts/toolchain.sh
prism_toolchain
STATE=${PRISM_CLUSTER_RUN_DIR:-${TMPDIR:-/tmp}/prism-cluster-run}
export PRISM_CLUSTER_DIR=$STATE/control-plane
KUBECONFIG_FILE=$PRISM_CLUSTER_DIR/admin.kubeconfig
CONTAINERD_SOCK=$STATE/containerd/containerd.sock
NODE=prism-node-0
BRIDGE=prism0
POD_CIDR=10.244.0.0/24
CLUSTER_CIDR=10.244.0.0/16
DNS_IP=10.96.0.10
PAUSE_IMAGE=registry.k8s.io/pause:3.10
COREDNS_IMAGE=registry.k8s.io/coredns/coredns:v1.11.3
BUSYBOX_IMAGE=prism.local/busybox:1.35
# The stack's Alertmanager notifies the lane's webhook receiver (scripts/cluster/alert-sink.mjs) on the node's address.
ALERT_SINK_PORT=19093
# Host settings kubelet and kube-proxy change; `up` records them and `down` puts them back. Not
# net.ipv4.ip_forward: `up` turns it on, and podman's networks (the Compose lane) need it on as well, so it stays.
SYSCTLS=(net.bridge.bridge-nf-call-iptables net.ipv4.conf.all.route_localnet vm.overcommit_memory
  vm.panic_on_oom kernel.panic kernel.panic_on_oops kernel.keys.root_maxkeys kernel.keys.root_maxbytes)

log() { echo "cluster-run: $*" >&2; }
kc() { kubectl --kubeconfig "$KUBECONFIG_FILE" "$@"; }
# shellcheck source=scripts/cluster/images.sh
. scripts/cluster/images.sh
# shellcheck source=scripts/cluster/node.sh
. scripts/cluster/node.sh
# shellcheck source=scripts/cluster/stack-images.sh
. scripts/cluster/stack-images.sh
# shellcheck source=scripts/cluster/stack.sh
. scripts/cluster/stack.sh
# shellcheck source=scripts/cluster/endpoints.sh
. scripts/cluster/endpoints.sh
# shellcheck source=scripts/cluster/cert-manager.sh
. scripts/cluster/cert-manager.sh

# The kubelet evicts below 1% free (scripts/cluster/node.sh). The lane's images in containerd, a Docker archive of them
# while they are imported, and the pods' volumes take about 5 GB (4 GB under $STATE, 2026-12-07): short of that, the
# node turns DiskPressure midway, its image GC removes the sandbox image, which cannot be pulled here, and every pod
# then waits in ContainerCreating until the deploy test times out (a CI run on a nearly full disk, 2026-12-07). Refused
# at once instead.
LANE_DISK_GB=6
enough_disk() {
  local dir size free need
  dir=$(dirname "$STATE")
  read -r size free < <(df -P --block-size=1G "$dir" | awk 'NR == 2 {print $2, $4}')
  need=$((LANE_DISK_GB + size / 100 + 1))
  [ "$free" -ge "$need" ] ||
    { log "$free GB free on the filesystem of $dir; the lane needs $need (about $LANE_DISK_GB GB, plus the kubelet's 1% eviction margin)"; exit 1; }
}

up() {
  [ "$PRISM_TOOLCHAIN" != download ] || { log "PRISM_TOOLCHAIN=download: this lane is kind there, which is not built yet"; exit 2; }
  [ "$(id -u)" = 0 ] || { log "needs root (containerd, kubelet, iptables)"; exit 1; }
  local stack=${1:-dev}
  case $stack in
    dev | node) ;;
    prod) log "prod's shape spreads its replicas over three zones (anti-affinity): this lane has one node"; exit 2 ;;
    *) log "unknown stack $stack (dev, node)"; exit 2 ;;
  esac
  if [ -f "$STATE/kubelet.pid" ] && kill -0 "$(cat "$STATE/kubelet.pid")" 2>/dev/null; then log "already up ($STATE)"; return 0; fi
  local absent=
  for c in containerd runc ctr conntrack iptables ipset etcd; do command -v "$c" >/dev/null || absent+=" $c"; done
  [ -x /usr/lib/cni/bridge ] || absent+=" containernetworking-plugins"
  [ -z "$absent" ] || { log "missing:$absent (see the usage above for the packages)"; exit 1; }
  enough_disk
  bash scripts/control-plane-tools.sh kubernetes kubectl kubernetes-node coredns kube-router cert-manager approver-policy
  PATH=$(bash scripts/control-plane-tools.sh --print-path kubernetes kubectl kubernetes-node coredns kube-router):$PATH
  HOST_IP=$(ip -4 route get 1.1.1.1 | sed -n 's/.* src \([0-9.]*\).*/\1/p')
  [ -n "$HOST_IP" ] || { log "no IPv4 address with a default route"; exit 1; }
  local start=$SECONDS
  mkdir -p "$STATE"
  record_host_state
  PRISM_CLUSTER_NODES=0 PRISM_APISERVER_ADVERTISE=$HOST_IP bash scripts/local-cluster.sh start
  sysctl -qw net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=1
  start_containerd
  stand_in_images
  start_node
  cluster_addons
  start_cert_manager dev # the stack whose issuers it serves (`node`: dev's)
  log "up in $((SECONDS - start)) s: export KUBECONFIG=$KUBECONFIG_FILE (node $NODE at $HOST_IP)"
  BUSYBOX_IMAGE=$BUSYBOX_IMAGE bash scripts/cluster/check.sh
  bash scripts/cluster/cert-manager-check.sh "$KUBECONFIG_FILE" dev
  [ "$stack" != node ] || return 0
  start_bg alert-sink node scripts/cluster/alert-sink.mjs "$HOST_IP" "$ALERT_SINK_PORT"
  echo "http://$HOST_IP:$ALERT_SINK_PORT" >"$STATE/alert-sink.url"
  deploy_stack "$stack"
  lane_endpoints
  BUSYBOX_IMAGE=$BUSYBOX_IMAGE bash scripts/cluster/stack-flows.sh
  log "stack $stack up in $((SECONDS - start)) s; endpoints: $ENDPOINTS_DIR/endpoints.json"
}

# The names of endpoints.json mapped to the current pods and Services again.
remap_endpoints() {
  node --import ./infra/cli/ts-loader.mjs infra/cli/cluster-endpoints.ts "$ENDPOINTS_DIR/endpoints.json" \
    "$ENDPOINTS_DIR/operator" "$(cat "$STATE/alert-sink.url")" | hosts_block
}

case ${1:-} in flows | resilience | endpoints) PATH=$(bash scripts/control-plane-tools.sh --print-path kubectl):$PATH ;; esac
case ${1:-} in
  up) up "${2:-dev}" ;;
  down) down ;;
  check) bash scripts/cluster/check.sh && bash scripts/cluster/cert-manager-check.sh "$KUBECONFIG_FILE" dev ;;
  flows) bash scripts/cluster/stack-flows.sh ;;
  resilience) bash scripts/cluster/stack-resilience.sh && remap_endpoints ;;
  endpoints) remap_endpoints ;;
  *) echo "usage: bash scripts/cluster-run.sh up [dev|node] | down | check | flows | resilience | endpoints" >&2; exit 2 ;;
esac
