# shellcheck shell=bash
# The host's way into the stack on the real-pods lane (sourced by scripts/cluster-run.sh): the journeys' example
# upstream, an operator certificate from the cluster's mesh CA, and .prism-cluster/endpoints.json with the names
# it uses mapped in a marked block of /etc/hosts (which `down` removes).

HOSTS_MARK='# prism-cluster-run'
ENDPOINTS_DIR=$ROOT/.prism-cluster
OPERATOR=cluster-run # LANE_OPERATOR in infra/cli/cluster-endpoints.ts

# The local platform's echo upstream and its two gateway routes (infra/cli/cluster-echo.ts), then the gateway
# restarted to read them.
echo_upstream() {
  local image
  image=$(kc -n prism get deployment gateway -o jsonpath='{.spec.template.spec.containers[0].image}')
  # Server-side, taking the gateway's ConfigMap over from Pulumi's field manager (the lane's change, on purpose).
  node --import ./infra/cli/ts-loader.mjs infra/cli/cluster-echo.ts "$image" |
    kc apply --server-side --force-conflicts --field-manager prism-cluster-run -f - >/dev/null
  kc -n prism rollout restart deployment/gateway >/dev/null
  kc -n prism rollout status deployment/gateway --timeout 180s >/dev/null
  kc -n prism wait --for condition=Available deployment/echo --timeout 120s >/dev/null
}

# An operator's certificate, as docs/security.md has operators get one: a key made here that never leaves the
# host, a CertificateRequest against the mesh CA that approver-policy judges by prism-<env>-mesh-operators.
operator_certificate() {
  local dir=$ENDPOINTS_DIR/operator issuer csr
  issuer=$(kc -n prism get certificate gateway-mtls -o jsonpath='{.spec.issuerRef.name}')
  rm -rf "$dir" && mkdir -p "$dir" && chmod 700 "$dir"
  # No subject: the operators' policy allows the URI alone (a common name is refused).
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$dir/tls.key" -subj / \
    -addext "subjectAltName=URI:spiffe://prism/operator/$OPERATOR" -out "$dir/request.csr" 2>/dev/null
  csr=$(base64 -w0 "$dir/request.csr")
  kc -n prism delete certificaterequest "operator-$OPERATOR" --ignore-not-found >/dev/null
  kc apply -f - >/dev/null <<EOF2
apiVersion: cert-manager.io/v1
kind: CertificateRequest
metadata: {name: operator-$OPERATOR, namespace: prism}
spec:
  issuerRef: {name: $issuer, kind: ClusterIssuer, group: cert-manager.io}
  duration: 8h
  usages: [digital signature, client auth]
  request: $csr
EOF2
  # Ready, or Denied (approver-policy's reason printed): not a timeout.
  local cr=certificaterequest/operator-$OPERATOR state
  for _ in $(seq 120); do
    state=$(kc -n prism get "$cr" -o jsonpath='{range .status.conditions[?(@.status=="True")]}{.type}{" "}{end}')
    case " $state " in *" Ready "* | *" Denied "*) break ;; esac
    sleep 1
  done
  if [[ " $state " != *" Ready "* ]]; then
    log "the operator's CertificateRequest is not issued (${state:-no condition}): $(kc -n prism get "$cr" -o jsonpath='{.status.conditions[*].message}')"
    return 1
  fi
  kc -n prism get certificaterequest "operator-$OPERATOR" -o jsonpath='{.status.certificate}' | base64 -d >"$dir/tls.crt"
  kc -n prism get certificaterequest "operator-$OPERATOR" -o jsonpath='{.status.ca}' | base64 -d >"$dir/ca.crt"
  rm -f "$dir/request.csr"
  # The gateway's own certificate beside it: the journeys show it may read settings but never write them (a
  # copy of what the gateway's pod mounts, readable here by the cluster's admin only).
  local gw=$ENDPOINTS_DIR/gateway f
  rm -rf "$gw" && mkdir -p "$gw" && chmod 700 "$gw"
  for f in tls.crt tls.key ca.crt; do
    kc -n prism get secret gateway-mtls -o jsonpath="{.data.${f//./\\.}}" | base64 -d >"$gw/$f"
  done
}

# The names endpoints.json uses, in a marked block of /etc/hosts: Services at their cluster IPs, the two gateway
# names at one gateway pod each.
hosts_block() {
  local kind target index name ip block="" pods
  while read -r kind target index name; do
    case $kind in
      service) name=$index ip=$(kc -n prism get service "$target" -o jsonpath='{.spec.clusterIP}') ;;
      pod)
        # Ready and not terminating (a replaced pod stays Running while it drains).
        mapfile -t pods < <(kc -n prism get pods -l "app=$target" -o json | node -e '
          const pods = JSON.parse(require("fs").readFileSync(0, "utf8")).items.filter((p) => !p.metadata.deletionTimestamp &&
            (p.status.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True"));
          console.log(pods.map((p) => p.status.podIP).sort().join("\n"));')
        ip=${pods[$index]:-${pods[0]}}
        ;;
    esac
    [ -n "$ip" ] || { log "no address for $kind $target"; return 1; }
    block+="$ip $name $HOSTS_MARK"$'\n'
  done
  remove_hosts_block
  printf '%s' "$block" >>/etc/hosts
}
remove_hosts_block() {
  if grep -q "$HOSTS_MARK\$" /etc/hosts 2>/dev/null; then
    # In place (not a new file): /etc/hosts may be a bind mount.
    local kept
    kept=$(grep -v "$HOSTS_MARK\$" /etc/hosts)
    printf '%s\n' "$kept" >/etc/hosts
  fi
}

lane_endpoints() {
  echo_upstream
  operator_certificate
  node --import ./infra/cli/ts-loader.mjs infra/cli/cluster-endpoints.ts "$ENDPOINTS_DIR/endpoints.json" \
    "$ENDPOINTS_DIR/operator" "$(cat "$STATE/alert-sink.url")" | hosts_block
  log "endpoints: $ENDPOINTS_DIR/endpoints.json (names in /etc/hosts: $(grep -c "$HOSTS_MARK\$" /etc/hosts))"
}
