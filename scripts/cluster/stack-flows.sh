#!/usr/bin/env bash
# NetworkPolicy through the running stack (bash scripts/cluster-run.sh flows; `up` runs it after `pulumi up`): from
# inside Prism's own pods (node's net.connect, in the images as deployed), each declared flow of a sample connects
# and each undeclared one is refused, enforced by kube-router on the real node:
#   declared    gateway -> redis, gateway -> auth (HTTP), auth -> postgres-auth, config -> postgres-ops,
#               dbmanager -> minio (API), auth -> the outside on 443 (its OAuth egress)
#   undeclared  gateway -> postgres-auth, auth -> minio (API), config -> redis, gateway -> the outside on 443,
#               auth -> the outside on 8443 (only 443 is declared)
# The stack's ports are read from its Services by name, as deployed.
# "The outside" is a listener this script opens on the node's address for the check (not a cluster address, not
# in the private ranges the egress rule excepts); that a pod of an unpoliced namespace reaches it first proves the
# refusals are the policies', not an unreachable address.
set -euo pipefail
cd "$(dirname "$0")/../.."
STATE=${PRISM_CLUSTER_RUN_DIR:-${TMPDIR:-/tmp}/prism-cluster-run}
PATH=$(bash scripts/control-plane-tools.sh --print-path kubectl):$PATH
k() { kubectl --kubeconfig "$STATE/control-plane/admin.kubeconfig" "$@"; }
log() { echo "cluster-run flows: $*" >&2; }
HOST_IP=$(ip -4 route get 1.1.1.1 | sed -n 's/.* src \([0-9.]*\).*/\1/p')

# reach <deployment> <host> <port>: "open" when a TCP connection from the deployment's pod is accepted within 3 s.
reach() {
  k -n prism exec "deploy/$1" -- node -e '
    const s = require("node:net").connect({ host: process.argv[1], port: Number(process.argv[2]), timeout: 3000 });
    s.on("connect", () => { console.log("open"); s.destroy(); });
    s.on("timeout", () => { console.log("refused"); s.destroy(); });
    s.on("error", () => console.log("refused"));' "$2" "$3" 2>/dev/null || echo "exec failed"
}

# Listeners on the node for "the outside" (443: auth's declared egress; 8443: not declared).
listeners=()
trap 'kill "${listeners[@]}" 2>/dev/null || true' EXIT
for port in 443 8443; do
  python3 -c 'import socket,sys
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(64)
while True: s.accept()[0].close()' "$HOST_IP" "$port" &
  listeners+=($!)
done
sleep 1
# The outside is reachable from a pod where no policy applies: a busybox pod in a namespace of its own.
NS=prism-flows-check
k delete namespace "$NS" --ignore-not-found --wait=true >/dev/null
k create namespace "$NS" >/dev/null
k label namespace "$NS" prism.local/cluster-run=check >/dev/null
sed -n '/^metadata: {name: client/,/^---/p' scripts/cluster/check-pods.yaml | grep -v '^---' |
  sed "1i apiVersion: v1\nkind: Pod" | sed "s#@IMAGE@#${BUSYBOX_IMAGE:-prism.local/busybox:1.35}#" | k -n "$NS" apply -f - >/dev/null
k -n "$NS" wait --for condition=Ready pod/client --timeout 60s >/dev/null
for port in 443 8443; do
  k -n "$NS" exec client -- sh -c "echo | nc -w 3 $HOST_IP $port" >/dev/null 2>&1 ||
    { log "FAILED: the outside ($HOST_IP:$port) is not reachable from an unpoliced pod: the refusals below would prove nothing"; exit 1; }
done
k delete namespace "$NS" --wait=false >/dev/null
log "the outside ($HOST_IP:443, :8443) reachable from a pod with no policy"

# port <service> <port name>: the Service's port, as the stack deployed it.
port() { k -n prism get service "$1" -o jsonpath="{.spec.ports[?(@.name==\"$2\")].port}"; }

failed=0
expect() {
  local want=$1 from=$2 host=$3 port=$4 got
  # A port name the Services do not have would dial port 0, which "refused" would wrongly pass.
  [ -n "$port" ] || { log "FAILED: $from -> $host: no such port on its Service (${5})"; failed=1; return 0; }
  got=$(reach "$from" "$host" "$port")
  if [ "$got" = "$want" ]; then
    log "$from -> $host:$port $got (${5})"
  else
    log "FAILED: $from -> $host:$port $got, expected $want (${5})"
    failed=1
  fi
}
expect open gateway redis "$(port redis redis)" declared
expect open gateway auth "$(port auth http)" declared
expect open auth postgres-auth "$(port postgres-auth postgres)" declared
expect open config postgres-ops "$(port postgres-ops postgres)" declared
expect open dbmanager minio "$(port minio api)" declared
expect open auth "$HOST_IP" 443 "declared: OAuth egress"
expect refused gateway postgres-auth "$(port postgres-auth postgres)" undeclared
expect refused auth minio "$(port minio api)" undeclared
expect refused config redis "$(port redis redis)" undeclared
expect refused gateway "$HOST_IP" 443 "undeclared: the gateway has no egress outside"
expect refused auth "$HOST_IP" 8443 "undeclared: only 443 is declared"
[ $failed = 0 ] || exit 1
log "passed"
