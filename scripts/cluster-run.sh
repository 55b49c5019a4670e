#!/usr/bin/env bash
# The real-pods lane: the local deploy test's control plane (scripts/local-cluster.sh, no kwok) plus one real node on
# this machine: containerd and runc (Debian packages), the CNI bridge and portmap plugins (Debian's
# containernetworking-plugins), kubelet and kube-proxy (iptables mode) of the control plane's release, CoreDNS as the
# cluster DNS and kube-router as the NetworkPolicy enforcer, cert-manager and approver-policy issuing the stack's
# certificates (scripts/cluster/cert-manager.sh; all built by scripts/control-plane-tools.sh).
# Images cannot be pulled: stand-ins are imported into containerd (scripts/cluster/images.sh).
# Usage: bash scripts/cluster-run.sh up [dev|prod] | down | check [dev|prod]
#   up      starts everything, waits until the node, CoreDNS and kube-router are Ready, runs `check`, and leaves it
#           running (the stack argument is accepted for the coming `pulumi up -s <stack>` step; not deployed yet)
#   check   proves the lane through the running cluster (scripts/cluster/check.sh): a pod Ready by its real probe,
#           a Service through kube-proxy, a name through CoreDNS, a declared flow allowed, an undeclared one refused;
#           then scripts/cluster/cert-manager-check.sh: the stack's mesh CA and a workload certificate issued, requests
#           the stack's policies do not allow refused
#   down    removes every process, mount, network namespace, interface, iptables chain and sysctl change `up` made,
#           and verifies it
# Needs root, and: apt-get install containerd runc containernetworking-plugins conntrack iptables ipset
# busybox-static etcd-server. One node per machine (fixed node ports: kubelet 10250/10248, kube-proxy 10249/10256,
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
# shellcheck source=scripts/cluster/cert-manager.sh
. scripts/cluster/cert-manager.sh

up() {
  [ "$PRISM_TOOLCHAIN" != download ] || { log "PRISM_TOOLCHAIN=download: this lane is kind there, which is not built yet"; exit 2; }
  [ "$(id -u)" = 0 ] || { log "needs root (containerd, kubelet, iptables)"; exit 1; }
  local stack=${1:-dev}
  case $stack in dev | prod) ;; *) log "unknown stack $stack (dev, prod)"; exit 2 ;; esac
  if [ -f "$STATE/kubelet.pid" ] && kill -0 "$(cat "$STATE/kubelet.pid")" 2>/dev/null; then log "already up ($STATE)"; return 0; fi
  local absent=
  for c in containerd runc ctr conntrack iptables ipset etcd; do command -v "$c" >/dev/null || absent+=" $c"; done
  [ -x /usr/lib/cni/bridge ] || absent+=" containernetworking-plugins"
  [ -z "$absent" ] || { log "missing:$absent (see the usage above for the packages)"; exit 1; }
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
  start_cert_manager "$stack"
  log "up in $((SECONDS - start)) s: export KUBECONFIG=$KUBECONFIG_FILE (node $NODE at $HOST_IP)"
  BUSYBOX_IMAGE=$BUSYBOX_IMAGE bash scripts/cluster/check.sh
  bash scripts/cluster/cert-manager-check.sh "$KUBECONFIG_FILE" "$stack"
}

case ${1:-} in
  up) up "${2:-dev}" ;;
  down) down ;;
  check) bash scripts/cluster/check.sh && bash scripts/cluster/cert-manager-check.sh "$KUBECONFIG_FILE" "${2:-dev}" ;;
  *) echo "usage: bash scripts/cluster-run.sh up [dev|prod] | down | check [dev|prod]" >&2; exit 2 ;;
esac
