#!/usr/bin/env bash
# A real Kubernetes control plane on 127.0.0.1 for the local deploy test (scripts/deploy-test.sh), with no
# container runtime: etcd (Debian's etcd-server), kube-apiserver, kube-controller-manager and kube-scheduler
# v1.31 (built by scripts/control-plane-tools.sh), and kwok, which plays the kubelets of fake nodes so the real
# scheduler and controllers bring Deployments, StatefulSets and Jobs to Available/Complete.
#   - Pod Security admission enforces *restricted* for every namespace without its own labels.
#   - Nodes are spread over three zones (topology.kubernetes.io/zone), so topology spread and PDBs are real.
#   - PersistentVolumes (hostPath, no StorageClass) for StatefulSet and ephemeral volume claims.
#   - A stand-in ingress controller: a loop that gives every Ingress a status address, as a real one would.
# Usage: bash scripts/local-cluster.sh start | stop | status | volumes | env
#   start    starts everything (a fresh etcd each time) and waits until the nodes are Ready
#   stop     stops what start started (by the pids it recorded) and removes the cluster directory
#   volumes  replaces released PersistentVolumes with fresh ones (between deployments)
#   env      prints `export KUBECONFIG=...` for eval
# Settings: PRISM_CLUSTER_DIR (default ${TMPDIR:-/tmp}/prism-local-cluster), PRISM_ETCD_PORT,
# PRISM_ETCD_PEER_PORT, PRISM_APISERVER_PORT (default: free ports the kernel hands out, so parallel runs
# never collide; a port given that is taken fails at once), PRISM_CLUSTER_NODES (3), PRISM_CLUSTER_VOLUMES (40).
# The real-pods lane (scripts/cluster-run.sh) sets PRISM_CLUSTER_NODES=0 (no kwok: a real kubelet joins) and
# PRISM_APISERVER_ADVERTISE=<the host's address>: the API server then listens on every address and the
# `kubernetes` Service points there, so pods reach it (they cannot reach the host's 127.0.0.1).
# Why not kwokctl (sigs.k8s.io/kwok/cmd/kwokctl, same module as kwok), evaluated 2026-12-06: its binary runtime
# would replace the certificates, etcd, apiserver, controller-manager and scheduler start-up here (about 90 lines,
# given these binaries with --kube-apiserver-binary etc. and the admission file through its component patches),
# but not the zoned nodes, the PersistentVolumes or the Ingress status loop, and it is one more Go build. Kept until
# a switch can be proven by `bash scripts/deploy-test.sh dev`: the cached control-plane tools were not built then.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${PRISM_CLUSTER_DIR:-${TMPDIR:-/tmp}/prism-local-cluster}
NODES=${PRISM_CLUSTER_NODES:-3}
VOLUMES=${PRISM_CLUSTER_VOLUMES:-40}
ZONES=(zone-a zone-b zone-c)
SERVICE_CIDR=10.96.0.0/16
KUBECONFIG_FILE=$DIR/admin.kubeconfig
ADVERTISE=${PRISM_APISERVER_ADVERTISE:-}

log() { echo "local-cluster: $*" >&2; }
# The cached tools first (start fails when one is missing; stop needs none of them).
if tools=$(bash scripts/control-plane-tools.sh --print-path kubernetes kubectl kwok 2>/dev/null); then PATH="$tools:$PATH"; fi

# A port free on 127.0.0.1 now (asked of the kernel), or the one given if it is free.
port() {
  node -e '
    const s = require("net").createServer().on("error", (e) => { console.error(`local-cluster: port ${process.argv[1]}: ${e.code}`); process.exit(1); });
    s.listen(Number(process.argv[1]), "127.0.0.1", () => { console.log(s.address().port); s.close(); });' "${1:-0}"
}
kc() { kubectl --kubeconfig "$KUBECONFIG_FILE" "$@"; }

# start_process <name> <command...>: runs it in the background with its log and pid file in $DIR.
start_process() {
  local name=$1
  shift
  "$@" >"$DIR/$name.log" 2>&1 &
  echo $! >"$DIR/$name.pid"
}

certificates() {
  local pki=$DIR/pki
  mkdir -p "$pki"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$pki/ca.key" -out "$pki/ca.crt" -days 3 -subj /CN=prism-local-ca 2>/dev/null
  # sign <name> <subject> <extensions>
  sign() {
    openssl req -newkey rsa:2048 -nodes -keyout "$pki/$1.key" -out "$pki/$1.csr" -subj "$2" 2>/dev/null
    printf '%b' "$3" >"$pki/$1.ext"
    openssl x509 -req -in "$pki/$1.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial -days 3 \
      -extfile "$pki/$1.ext" -out "$pki/$1.crt" 2>/dev/null
  }
  sign apiserver /CN=kube-apiserver \
    'subjectAltName=IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local\nextendedKeyUsage=serverAuth\n'
  sign admin '/O=system:masters/CN=prism-admin' 'extendedKeyUsage=clientAuth\n'
  # What the API server presents to kubelets (logs, exec, port-forward): kube-apiserver-kubelet-client's role.
  sign kubelet-client '/O=system:masters/CN=kube-apiserver-kubelet-client' 'extendedKeyUsage=clientAuth\n'
  openssl genrsa -out "$pki/sa.key" 2048 2>/dev/null
  openssl rsa -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null
  kubectl config --kubeconfig "$KUBECONFIG_FILE" set-cluster prism-local --server "https://127.0.0.1:$API_PORT" \
    --certificate-authority "$pki/ca.crt" --embed-certs >/dev/null
  kubectl config --kubeconfig "$KUBECONFIG_FILE" set-credentials prism-admin \
    --client-certificate "$pki/admin.crt" --client-key "$pki/admin.key" --embed-certs >/dev/null
  kubectl config --kubeconfig "$KUBECONFIG_FILE" set-context prism-local --cluster prism-local --user prism-admin >/dev/null
  kubectl config --kubeconfig "$KUBECONFIG_FILE" use-context prism-local >/dev/null
}

# Pod Security admission: *restricted* for every namespace that does not choose a level with its labels.
admission_config() {
  cat >"$DIR/admission.yaml" <<'EOF'
apiVersion: apiserver.config.k8s.io/v1
kind: AdmissionConfiguration
plugins:
  - name: PodSecurity
    configuration:
      apiVersion: pod-security.admission.config.k8s.io/v1
      kind: PodSecurityConfiguration
      defaults:
        enforce: restricted
        enforce-version: latest
        audit: restricted
        audit-version: latest
        warn: restricted
        warn-version: latest
      exemptions:
        usernames: []
        runtimeClasses: []
        namespaces: [kube-system]
EOF
}

# wait_for <what> <seconds> <command...>: until the command succeeds; fails at once when a process died.
wait_for() {
  local what=$1 tries=$2 pidfile
  shift 2
  for _ in $(seq "$tries"); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    for pidfile in "$DIR"/*.pid; do
      kill -0 "$(cat "$pidfile")" 2>/dev/null && continue
      log "$(basename "$pidfile" .pid) exited while waiting for $what; the end of its log:"
      tail -15 "${pidfile%.pid}.log" >&2
      return 1
    done
    sleep 1
  done
  log "timed out waiting for $what"
  return 1
}

nodes() {
  local i zone
  for i in $(seq 0 $((NODES - 1))); do
    zone=${ZONES[$((i % ${#ZONES[@]}))]}
    cat <<EOF
---
apiVersion: v1
kind: Node
metadata:
  name: kwok-node-$i
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    kubernetes.io/arch: amd64
    kubernetes.io/os: linux
    kubernetes.io/hostname: kwok-node-$i
    topology.kubernetes.io/zone: $zone
    topology.kubernetes.io/region: local
    type: kwok
status:
  allocatable: {cpu: "32", memory: 256Gi, pods: "110", ephemeral-storage: 1Ti}
  capacity: {cpu: "32", memory: 256Gi, pods: "110", ephemeral-storage: 1Ti}
  nodeInfo: {architecture: amd64, operatingSystem: linux, kubeletVersion: fake, kubeProxyVersion: fake}
EOF
  done
}

# Released or failed volumes (their claims were deleted with a namespace) are replaced, so every
# deployment finds $VOLUMES available ones. No StorageClass: claims without one bind to these.
volumes() {
  local released
  released=$(kc get pv -o jsonpath='{range .items[?(@.status.phase!="Available")]}{.metadata.name}{" "}{.status.phase}{"\n"}{end}' |
    awk '$2 == "Released" || $2 == "Failed" {print $1}')
  # shellcheck disable=SC2086
  [ -z "$released" ] || kc delete pv $released --wait=true >/dev/null
  local existing i manifest=
  existing=$(kc get pv -o name)
  for i in $(seq -w 1 "$VOLUMES"); do
    grep -qx "persistentvolume/prism-pv-$i" <<<"$existing" && continue
    # 0777, as the local-path provisioner (kind) makes them: a hostPath volume gets no fsGroup, and the
    # real-pods lane's non-root pods must write their data there.
    mkdir -p "$DIR/volumes/prism-pv-$i" && chmod 0777 "$DIR/volumes/prism-pv-$i"
    manifest+="---
apiVersion: v1
kind: PersistentVolume
metadata:
  name: prism-pv-$i
  labels: {app.kubernetes.io/part-of: prism-local-cluster}
spec:
  capacity: {storage: 1Ti}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  volumeMode: Filesystem
  hostPath: {path: $DIR/volumes/prism-pv-$i, type: DirectoryOrCreate}
"
  done
  [ -z "$manifest" ] || kc apply -f - <<<"$manifest" >/dev/null
  log "$(kc get pv --no-headers | awk '$5 == "Available"' | wc -l) volumes available"
}

# What an ingress controller does for the await logic of a deployer: publish an address in the status.
ingress_status_loop() {
  while true; do
    # (kubectl's JSONPath has no negation: list every Ingress with its first address, patch those without.)
    kc get ingress -A -o jsonpath='{range .items[*]}{.metadata.namespace}{" "}{.metadata.name}{" "}{.status.loadBalancer.ingress[0].ip}{"\n"}{end}' 2>/dev/null |
      while read -r ns name address; do
        if [ -z "$name" ] || [ -n "$address" ]; then continue; fi
        kc -n "$ns" patch ingress "$name" --subresource=status --type=merge \
          -p '{"status":{"loadBalancer":{"ingress":[{"ip":"127.0.0.1"}]}}}' >/dev/null 2>&1 || true
      done
    sleep 2
  done
}

start() {
  if [ -f "$DIR/kube-apiserver.pid" ] && kill -0 "$(cat "$DIR/kube-apiserver.pid")" 2>/dev/null; then
    log "already running ($DIR)"
    return 0
  fi
  command -v etcd >/dev/null || { log "etcd is missing: apt-get install etcd-server"; exit 1; }
  bash scripts/control-plane-tools.sh --print-path kubernetes kubectl kwok >/dev/null
  rm -rf "$DIR" && mkdir -p "$DIR"
  ETCD_PORT=$(port "${PRISM_ETCD_PORT:-}")
  ETCD_PEER_PORT=$(port "${PRISM_ETCD_PEER_PORT:-}")
  API_PORT=$(port "${PRISM_APISERVER_PORT:-}")
  certificates
  admission_config
  local pki=$DIR/pki
  log "etcd on 127.0.0.1:$ETCD_PORT"
  start_process etcd etcd --name prism --data-dir "$DIR/etcd" \
    --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "prism=http://127.0.0.1:$ETCD_PEER_PORT" --log-level warn
  wait_for etcd 60 curl -fsS "http://127.0.0.1:$ETCD_PORT/health"
  log "kube-apiserver on https://127.0.0.1:$API_PORT"
  start_process kube-apiserver kube-apiserver --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
    --bind-address "$([ -n "$ADVERTISE" ] && echo 0.0.0.0 || echo 127.0.0.1)" --advertise-address "${ADVERTISE:-127.0.0.1}" --secure-port "$API_PORT" \
    --kubelet-client-certificate "$pki/kubelet-client.crt" --kubelet-client-key "$pki/kubelet-client.key" \
    --kubelet-preferred-address-types InternalIP,Hostname \
    --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" --client-ca-file "$pki/ca.crt" \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "$pki/sa.pub" --service-account-signing-key-file "$pki/sa.key" \
    --service-cluster-ip-range "$SERVICE_CIDR" --authorization-mode Node,RBAC --allow-privileged=true \
    --admission-control-config-file "$DIR/admission.yaml" --profiling=false --cert-dir "$DIR/pki/serving"
  wait_for kube-apiserver 300 kc get --raw /readyz
  log "kube-controller-manager, kube-scheduler$([ "$NODES" -eq 0 ] || echo ', kwok')"
  start_process kube-controller-manager kube-controller-manager --kubeconfig "$KUBECONFIG_FILE" \
    --secure-port 0 --leader-elect=false --service-account-private-key-file "$pki/sa.key" --root-ca-file "$pki/ca.crt" \
    --cluster-signing-cert-file "$pki/ca.crt" --cluster-signing-key-file "$pki/ca.key" \
    --service-cluster-ip-range "$SERVICE_CIDR" --profiling=false
  start_process kube-scheduler kube-scheduler --kubeconfig "$KUBECONFIG_FILE" --secure-port 0 --leader-elect=false --profiling=false
  if [ "$NODES" -gt 0 ]; then
    start_process kwok kwok --kubeconfig "$KUBECONFIG_FILE" --manage-nodes-with-annotation-selector kwok.x-k8s.io/node=fake \
      --node-lease-duration-seconds 40 --cidr 10.244.0.1/16 --node-ip 127.0.0.1
    nodes | kc apply -f - >/dev/null
    wait_for "Ready nodes" 120 kc wait --for condition=Ready node --all --timeout 5s
  fi
  # The controllers create the default ServiceAccount of a namespace; wait for them to be working.
  wait_for "controller-manager" 120 kc -n default get serviceaccount default
  volumes
  start_process ingress-status bash "$0" ingress-status-loop
  log "ready: export KUBECONFIG=$KUBECONFIG_FILE ($NODES nodes in ${ZONES[*]})"
}

stop() {
  local name pid
  for name in ingress-status kwok kube-scheduler kube-controller-manager kube-apiserver etcd; do
    [ -f "$DIR/$name.pid" ] || continue
    pid=$(cat "$DIR/$name.pid")
    if kill "$pid" 2>/dev/null; then
      for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
      kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$DIR/$name.pid"
  done
  rm -rf "$DIR"
  log "stopped"
}

case ${1:-} in
  start) start ;;
  stop) stop ;;
  status) kc get nodes -L topology.kubernetes.io/zone && kc get pv --no-headers | awk '{print $5}' | sort | uniq -c ;;
  volumes) volumes ;;
  env) echo "export KUBECONFIG=$KUBECONFIG_FILE" ;;
  ingress-status-loop) ingress_status_loop ;;
  *) echo "usage: bash scripts/local-cluster.sh start | stop | status | volumes | env" >&2; exit 2 ;;
esac
