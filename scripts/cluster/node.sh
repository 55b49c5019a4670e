# shellcheck shell=bash
# The real node of the real-pods lane (sourced by scripts/cluster-run.sh): containerd, kubelet, kube-proxy,
# kube-router, CoreDNS, and `down`, which takes all of it away again.

# start_bg <name> <command...>: in the background, with its log and pid file in $STATE.
start_bg() {
  local name=$1
  shift
  "$@" >"$STATE/$name.log" 2>&1 &
  echo $! >"$STATE/$name.pid"
}

# until_ok <what> <seconds> <command...>: until the command succeeds; fails at once when a process of ours died.
until_ok() {
  local what=$1 tries=$2 pidfile
  shift 2
  for _ in $(seq "$tries"); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    for pidfile in "$STATE"/*.pid; do
      [ -f "$pidfile" ] && ! kill -0 "$(cat "$pidfile")" 2>/dev/null || continue
      log "$(basename "$pidfile" .pid) exited while waiting for $what; the end of its log:"
      tail -20 "${pidfile%.pid}.log" >&2
      return 1
    done
    sleep 1
  done
  log "timed out waiting for $what"
  return 1
}

# The sysctls and iptables chains before `up`, so `down` restores the one and checks the other against it.
record_host_state() {
  [ -f "$STATE/sysctls.before" ] || for k in "${SYSCTLS[@]}"; do echo "$k=$(sysctl -n "$k")"; done >"$STATE/sysctls.before"
  [ -f "$STATE/chains.before" ] || iptables_chains >"$STATE/chains.before"
}
# KUBE-* and CNI-* chains that were not there before `up` (other chains belong to others: podman's NETAVARK-*).
new_chains() { iptables_chains | comm -13 "$STATE/chains.before" - | awk '$2 ~ /^(KUBE-|CNI-)/'; }
remove_new_chains() {
  local table chain rule
  [ -f "$STATE/chains.before" ] || return 0
  new_chains >"$STATE/chains.new"
  for table in $(cut -d' ' -f1 "$STATE/chains.new" | sort -u); do
    # Every rule (in any chain) that jumps to one of ours, then flush and delete ours.
    for chain in $(awk -v t="$table" '$1 == t {print $2}' "$STATE/chains.new"); do
      iptables-save -t "$table" | { grep -E -- "^-A .* -j $chain( |\$)" || true; } | sed 's/^-A/-D/' | while read -r rule; do
        # eval: iptables-save quotes comments with spaces (kube-router's), as a shell would
        eval "iptables -t $table $rule" 2>/dev/null || true
      done
    done
    for chain in $(awk -v t="$table" '$1 == t {print $2}' "$STATE/chains.new"); do iptables -t "$table" -F "$chain" 2>/dev/null || true; done
    for chain in $(awk -v t="$table" '$1 == t {print $2}' "$STATE/chains.new"); do iptables -t "$table" -X "$chain" 2>/dev/null || true; done
  done
}
iptables_chains() { for t in filter nat mangle raw; do iptables-save -t "$t" | sed -n "s/^:\([^ ]*\) .*/$t \1/p"; done | sort; }

start_containerd() {
  local dir=$STATE/containerd
  mkdir -p "$dir/root" "$dir/state" "$STATE/cni/net.d"
  cat >"$dir/config.toml" <<EOF
version = 2
root = "$dir/root"
state = "$dir/state"
[grpc]
  address = "$CONTAINERD_SOCK"
[ttrpc]
  address = "$CONTAINERD_SOCK.ttrpc"
[debug]
  address = "$CONTAINERD_SOCK.debug"
[plugins."io.containerd.internal.v1.opt"]
  path = "$dir/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  enable_selinux = false
  disable_apparmor = true
  # This machine withholds CAP_SYS_RESOURCE even from root (CapEff 000001fffeffffff), so runc cannot lower
  # oom_score_adj (the sandbox's -998 fails "can't get final child's PID from pipe"): keep every score at or
  # above containerd's own, as rootless setups do.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "$(command -v runc)"
        # cgroup v1 (the hierarchy here) and no systemd as PID 1: kubelet's cgroupfs driver, the same here.
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$STATE/cni/net.d"
EOF
  # One bridge for the node's pods; portmap for hostPort. The bridge and its addresses are this lane's alone.
  cat >"$STATE/cni/net.d/10-prism.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "prism",
  "plugins": [
    {"type": "bridge", "bridge": "$BRIDGE", "isGateway": true, "ipMasq": true, "hairpinMode": true,
     "ipam": {"type": "host-local", "ranges": [[{"subnet": "$POD_CIDR"}]], "routes": [{"dst": "0.0.0.0/0"}],
              "dataDir": "$STATE/cni/ipam"}},
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF
  start_bg containerd containerd --config "$dir/config.toml"
  until_ok containerd 60 ctr --address "$CONTAINERD_SOCK" version
  log "containerd $(containerd --version | awk '{print $3}') with runc, root $dir"
}

# client_cert <name> <subject>: a client certificate from the control plane's CA and a kubeconfig that uses it.
client_kubeconfig() {
  local name=$1 subject=$2 pki=$PRISM_CLUSTER_DIR/pki kubeconfig=$STATE/$1.kubeconfig server
  openssl req -newkey rsa:2048 -nodes -keyout "$STATE/pki/$name.key" -out "$STATE/pki/$name.csr" -subj "$subject" 2>/dev/null
  printf 'extendedKeyUsage=clientAuth\n' >"$STATE/pki/$name.ext"
  openssl x509 -req -in "$STATE/pki/$name.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial -days 3 \
    -extfile "$STATE/pki/$name.ext" -out "$STATE/pki/$name.crt" 2>/dev/null
  server=$(kc config view -o jsonpath='{.clusters[0].cluster.server}')
  kubectl config --kubeconfig "$kubeconfig" set-cluster local --server "$server" --certificate-authority "$pki/ca.crt" --embed-certs >/dev/null
  kubectl config --kubeconfig "$kubeconfig" set-credentials "$name" --client-certificate "$STATE/pki/$name.crt" \
    --client-key "$STATE/pki/$name.key" --embed-certs >/dev/null
  kubectl config --kubeconfig "$kubeconfig" set-context local --cluster local --user "$name" >/dev/null
  kubectl config --kubeconfig "$kubeconfig" use-context local >/dev/null
}

start_node() {
  mkdir -p "$STATE/pki" "$STATE/kubelet"
  # Each agent its own identity: the Node authorizer's for the kubelet, the built-in node-proxier role for
  # kube-proxy, a read-only role for kube-router (scripts/cluster/rbac.yaml).
  client_kubeconfig kubelet "/O=system:nodes/CN=system:node:$NODE"
  client_kubeconfig kube-proxy /CN=system:kube-proxy
  client_kubeconfig kube-router /CN=prism:kube-router
  kc apply -f scripts/cluster/rbac.yaml >/dev/null
  cat >"$STATE/kubelet/config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $HOST_IP
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $PRISM_CLUSTER_DIR/pki/ca.crt}
authorization: {mode: Webhook}
cgroupDriver: cgroupfs
containerRuntimeEndpoint: unix://$CONTAINERD_SOCK
clusterDNS: [$DNS_IP]
clusterDomain: cluster.local
failSwapOn: false
resolvConf: /etc/resolv.conf
podCIDR: $POD_CIDR
serializeImagePulls: false
# The machine is small and shared: no eviction because its disk or memory is fuller than a real node's would be.
evictionHard: {memory.available: "1Mi", nodefs.available: "1%", imagefs.available: "1%"}
imageGCHighThresholdPercent: 100
EOF
  start_bg kubelet kubelet --config "$STATE/kubelet/config.yaml" --kubeconfig "$STATE/kubelet.kubeconfig" \
    --root-dir "$STATE/kubelet/root" --hostname-override "$NODE" --node-ip "$HOST_IP" \
    --pod-infra-container-image "$PAUSE_IMAGE" --node-labels topology.kubernetes.io/zone=zone-a,topology.kubernetes.io/region=local
  until_ok "node $NODE Ready" 120 kc wait --for condition=Ready "node/$NODE" --timeout 2s
  log "kubelet: node $NODE Ready"
  # --conntrack-max-per-core 0: leave the kernel's conntrack table size alone (a shared machine).
  start_bg kube-proxy kube-proxy --kubeconfig "$STATE/kube-proxy.kubeconfig" --hostname-override "$NODE" \
    --proxy-mode iptables --cluster-cidr "$CLUSTER_CIDR" --conntrack-max-per-core 0 \
    --metrics-bind-address 127.0.0.1:10249 --healthz-bind-address 127.0.0.1:10256
  until_ok kube-proxy 60 curl -fsS http://127.0.0.1:10256/healthz
  # Only the NetworkPolicy controller: routing is the bridge's, Services are kube-proxy's.
  start_bg kube-router kube-router --kubeconfig "$STATE/kube-router.kubeconfig" --hostname-override "$NODE" \
    --run-firewall=true --run-router=false --run-service-proxy=false --enable-cni=false \
    --health-port 20244 --metrics-port 0
  until_ok kube-router 60 curl -fsS http://127.0.0.1:20244/healthz
  log "kube-proxy (iptables) and kube-router (NetworkPolicy) running"
}

cluster_addons() {
  sed "s#@DNS_IP@#$DNS_IP#; s#@IMAGE@#$COREDNS_IMAGE#" scripts/cluster/coredns.yaml | kc apply -f - >/dev/null
  until_ok CoreDNS 120 kc -n kube-system wait --for condition=Available deployment/coredns --timeout 2s
  log "CoreDNS Available at $DNS_IP"
}

# Stops a process of ours by its pid file: TERM, then KILL after 15 s.
stop_bg() {
  local name=$1 pid
  [ -f "$STATE/$name.pid" ] || return 0
  pid=$(cat "$STATE/$name.pid")
  if kill "$pid" 2>/dev/null; then
    for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$STATE/$name.pid"
}

# The hostPath directories the deployed stack had the node create (type DirectoryOrCreate: the log shipper's read
# positions), from the manifests the lane rendered for it.
created_host_paths() {
  [ -d "$STATE/synth" ] || return 0
  node -e '
    const fs = require("fs"), path = require("path"), yaml = require("yaml");
    const paths = new Set();
    for (const env of fs.readdirSync(process.argv[1]))
      for (const f of fs.readdirSync(path.join(process.argv[1], env)).filter((f) => f.endsWith(".yaml")))
        for (const doc of yaml.parseAllDocuments(fs.readFileSync(path.join(process.argv[1], env, f), "utf8")))
          for (const v of doc.toJS()?.spec?.template?.spec?.volumes ?? [])
            if (v.hostPath?.type === "DirectoryOrCreate") paths.add(v.hostPath.path);
    for (const p of paths) console.log(p);' "$STATE/synth"
}

down() {
  remove_hosts_block
  rm -rf "$ENDPOINTS_DIR"
  [ -d "$STATE" ] || { log "nothing to take down ($STATE)"; return 0; }
  PATH=$(bash scripts/control-plane-tools.sh --print-path kubernetes kubectl kubernetes-node coredns kube-router 2>/dev/null || true):$PATH
  # Pods first, through the kubelet, so the CNI plugins remove their veths, addresses and chains.
  if [ -f "$STATE/kubelet.pid" ] && kill -0 "$(cat "$STATE/kubelet.pid")" 2>/dev/null; then
    kc delete namespace -l prism.local/cluster-run=check --wait=false >/dev/null 2>&1 || true
    # Their controllers first, orphaning the pods, or the deployed stack's Deployments, StatefulSets and CronJobs
    # replace every deleted pod and the wait below runs out its 180 s (4-5 minutes of `down` at stop 33).
    kc delete deployments,statefulsets,daemonsets,replicasets,cronjobs,jobs -A --all --cascade=orphan --wait=false \
      >/dev/null 2>&1 || true
    kc delete pods -A --all --grace-period 5 --wait=false >/dev/null 2>&1 || true
    # Gone from the API and their addresses released (host-local keeps one file per address: a CNI DEL ran).
    until_ok "pods to stop" 180 sh -c "[ -z \"\$(kubectl --kubeconfig $KUBECONFIG_FILE get pods -A -o name)\" ] &&
      ! ls $STATE/cni/ipam/prism 2>/dev/null | grep -q '^[0-9]'" || true
  fi
  stop_cert_manager
  stop_bg alert-sink
  stop_bg kube-router
  stop_bg kube-proxy
  stop_bg kubelet
  # What the agents leave in iptables and ipset: each removes its own.
  if command -v kube-router >/dev/null; then kube-router --cleanup-config >/dev/null 2>&1 || true; fi
  if command -v kube-proxy >/dev/null; then kube-proxy --cleanup >/dev/null 2>&1 || true; fi
  # Sandboxes the kubelet did not stop (it was gone): their tasks and containers, then containerd.
  if [ -S "$CONTAINERD_SOCK" ]; then
    local c
    for c in $(ctr --address "$CONTAINERD_SOCK" -n k8s.io tasks ls -q 2>/dev/null); do
      ctr --address "$CONTAINERD_SOCK" -n k8s.io tasks kill -s KILL "$c" >/dev/null 2>&1 || true
    done
  fi
  stop_bg containerd
  # Shims outlive containerd by design; these are the ones serving our socket (by pid, after their tasks died).
  local shim
  for shim in $(pgrep -f "containerd-shim-runc-v2 .*-address $CONTAINERD_SOCK" || true); do kill "$shim" 2>/dev/null || true; done
  bash scripts/local-cluster.sh stop
  # Pod volumes, rootfs overlays, sandbox /dev/shm and network namespaces the kubelet did not tear down.
  local m
  for m in $(our_mounts | sort -r); do umount -l "$m" || true; done
  rm -f /run/netns/cni-*
  if ip link show "$BRIDGE" >/dev/null 2>&1; then ip link delete "$BRIDGE"; fi
  # What is left of the chains the kubelet (KUBE-FIREWALL, canaries), kube-proxy, kube-router and the CNI plugins
  # (CNI-<hash> of sandboxes deleted without a CNI DEL) made since `up`: jumps to them, then the chains.
  remove_new_chains
  # kube-router's ipsets that its own clean-up left (still referenced by rules until the chains above went).
  local set
  for set in $(ipset list -n 2>/dev/null | grep -E '^(KUBE-|kube-router)' || true); do ipset destroy "$set" 2>/dev/null || true; done
  local created
  mapfile -t CREATED_HOST_PATHS < <(created_host_paths)
  for created in "${CREATED_HOST_PATHS[@]}"; do rm -rf "$created"; done
  # cgroups the kubelet made (cgroupfs driver): deepest first.
  find /sys/fs/cgroup/*/kubepods -depth -type d -exec rmdir {} + 2>/dev/null || true
  # shellcheck disable=SC2046 # one key=value word per line
  if [ -f "$STATE/sysctls.before" ]; then sysctl -qw $(cat "$STATE/sysctls.before"); fi
  verify_down
}

# Mount points of the lane: under the state directory, and containerd's network namespaces (/run/netns/cni-*:
# the only containerd on this machine is ours).
our_mounts() { findmnt -rn -o TARGET | grep -E "^$STATE/|^/run/netns/cni-" || true; }

# What must be gone after `down`; prints what is not and fails.
verify_down() {
  local left=
  # Ours by their command lines (our state directory): another containerd (Docker's) or kind's kubelets may run here.
  for name in containerd kubelet kube-proxy kube-router; do
    ! pgrep -f "^[^ ]*$name .*$STATE/" >/dev/null || left+=" process:$name"
  done
  ! pgrep -f "containerd-shim-runc-v2 .*$CONTAINERD_SOCK" >/dev/null || left+=" process:containerd-shim"
  ! pgrep -f "scripts/cluster/alert-sink.mjs" >/dev/null || left+=" process:alert-sink"
  left+=$(cert_manager_left)
  [ -z "$(our_mounts)" ] || left+=" mounts"
  ip link show "$BRIDGE" >/dev/null 2>&1 && left+=" interface:$BRIDGE"
  ! ip -o link show type veth 2>/dev/null | grep -q "master $BRIDGE" || left+=" veths"
  local chains
  chains=$(new_chains | tr '\n' ',')
  [ -z "$chains" ] || left+=" iptables:$chains"
  ! ipset list -n 2>/dev/null | grep -qE '^(KUBE-|kube-router)' || left+=" ipsets"
  ! ss -ltnH | awk '{print $4}' | grep -qE ":(10250|10248|10249|10256|20244|$ALERT_SINK_PORT)\$" || left+=" ports"
  [ ! -d /sys/fs/cgroup/memory/kubepods ] || left+=" cgroups"
  ! grep -q "$HOSTS_MARK\$" /etc/hosts || left+=" /etc/hosts"
  local created
  for created in "${CREATED_HOST_PATHS[@]}"; do [ ! -e "$created" ] || left+=" $created"; done
  if [ -n "$left" ]; then log "down left:$left"; return 1; fi
  rm -rf "$STATE"
  log "down: no process, mount, network namespace, interface, iptables chain, ipset, port, cgroup, hostPath or /etc/hosts name of the lane left"
}
