# shellcheck shell=bash
# cert-manager (controller and webhook, v1.21.2) and approver-policy (v0.28.0) for the real-pods lane, as host processes
# like the kubelet, each with its own ServiceAccount token and the role scripts/cluster/cert-manager-rbac.yaml gives it
# (not cluster-admin). Binaries and CRDs: scripts/control-plane-tools.sh cert-manager approver-policy.
#   - the controller runs without its default approver (--controllers=*,-certificaterequests-approver, in its
#     configuration file), so approver-policy's CertificateRequestPolicies decide every request; it may `use` them only
#     through the stack's ClusterRoleBinding (prism-<env>-certificate-approval), bound to cert-manager/cert-manager;
#   - the webhook writes each CertificateRequest's requester (what approver-policy's RBAC check reads) and validates
#     cert-manager's objects; the API server calls it by URL (https://127.0.0.1:<port>) with a CA made here;
#   - the ClusterIssuer the stack's edge names (dev: `selfsigned`), which the stack expects an operator to provide, is
#     created here as a self-signed one (for prod's letsencrypt-prod that is a stand-in: no ACME here).
# Sourced by scripts/cluster-run.sh (after node.sh: start_bg, until_ok, stop_bg, kc, log and $STATE are its), or run
# against any control plane, the kwok one of scripts/local-cluster.sh too:
#   bash scripts/cluster/cert-manager.sh start|stop <admin kubeconfig> <state dir> [stack]
CM_NAMESPACE=cert-manager

# A TCP port free on 127.0.0.1 now (asked of the kernel).
cm_free_port() { node -e 's=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }

# cm_sa_kubeconfig <service account> <file>: a kubeconfig holding a token of the ServiceAccount (TokenRequest, 48 h: the
# lane's lifetime), readable by root alone; the token is never on a command line or in a log.
cm_sa_kubeconfig() {
  local sa=$1 file=$2 token server ca
  token=$(kc -n "$CM_NAMESPACE" create token "$sa" --duration 48h)
  server=$(kc config view --minify -o jsonpath='{.clusters[0].cluster.server}')
  ca=$(kc config view --raw --minify -o jsonpath='{.clusters[0].cluster.certificate-authority-data}')
  (
    umask 077
    cat >"$file" <<EOF
apiVersion: v1
kind: Config
clusters: [{name: local, cluster: {server: "$server", certificate-authority-data: "$ca"}}]
users: [{name: $sa, user: {token: "$token"}}]
contexts: [{name: local, context: {cluster: local, user: $sa, namespace: $CM_NAMESPACE}}]
current-context: local
EOF
  )
}

# The webhook's serving certificate: a CA of its own (the API server trusts it through the webhooks' caBundle).
cm_webhook_pki() {
  local pki=$1
  mkdir -p "$pki"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$pki/ca.key" -out "$pki/ca.crt" \
    -days 3 -subj /CN=prism-cert-manager-webhook-ca 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$pki/tls.key" -out "$pki/tls.csr" \
    -subj /CN=cert-manager-webhook 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$pki/tls.ext"
  openssl x509 -req -in "$pki/tls.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial -days 3 \
    -extfile "$pki/tls.ext" -out "$pki/tls.crt" 2>/dev/null
  chmod 600 "$pki"/*.key
}

# start_cert_manager [stack]: CRDs, namespace, identities, the three processes, and the stack's edge ClusterIssuer;
# returns when each answers its health check and the ClusterIssuer is Ready.
start_cert_manager() {
  local stack=${1:-dev} dir=$STATE/cert-manager tools cm ap issuer
  tools=$(bash scripts/control-plane-tools.sh --print-path cert-manager approver-policy)
  cm=${tools%%:*} ap=${tools##*:}
  PATH=$tools:$PATH
  mkdir -p "$dir"
  # Every cert-manager CRD (the deploy test installs only those the manifests use) and approver-policy's, from the
  # modules the binaries were built from.
  kc apply --server-side --force-conflicts -f "$cm/../share/crds" -f "$ap/../share/crds" >/dev/null
  kc wait --for condition=Established --timeout 60s crd/certificates.cert-manager.io crd/certificaterequests.cert-manager.io \
    crd/issuers.cert-manager.io crd/clusterissuers.cert-manager.io crd/orders.acme.cert-manager.io \
    crd/challenges.acme.cert-manager.io crd/certificaterequestpolicies.policy.cert-manager.io >/dev/null
  kc get namespace "$CM_NAMESPACE" >/dev/null 2>&1 || kc create namespace "$CM_NAMESPACE" >/dev/null
  kc apply -f scripts/cluster/cert-manager-rbac.yaml >/dev/null
  local name
  for name in cert-manager cert-manager-webhook cert-manager-approver-policy; do cm_sa_kubeconfig "$name" "$dir/$name.kubeconfig"; done

  local webhook_port webhook_health webhook_metrics controller_health ap_ready ap_webhook
  webhook_port=$(cm_free_port) webhook_health=$(cm_free_port) webhook_metrics=$(cm_free_port)
  controller_health=$(cm_free_port) ap_ready=$(cm_free_port) ap_webhook=$(cm_free_port)
  cm_webhook_pki "$dir/webhook-pki"
  cat >"$dir/webhook.yaml" <<EOF
apiVersion: webhook.config.cert-manager.io/v1alpha1
kind: WebhookConfiguration
kubeConfig: $dir/cert-manager-webhook.kubeconfig
securePort: $webhook_port
healthzPort: $webhook_health
metricsListenAddress: 127.0.0.1:$webhook_metrics
tlsConfig:
  filesystem: {certFile: $dir/webhook-pki/tls.crt, keyFile: $dir/webhook-pki/tls.key}
EOF
  start_bg cert-manager-webhook cert-manager-webhook --config "$dir/webhook.yaml"
  until_ok "cert-manager's webhook" 60 curl -fsS "http://127.0.0.1:$webhook_health/livez"
  sed "s#@URL@#https://127.0.0.1:$webhook_port#; s#@CA_BUNDLE@#$(base64 -w0 "$dir/webhook-pki/ca.crt")#" \
    scripts/cluster/cert-manager-webhooks.yaml | kc apply -f - >/dev/null

  cat >"$dir/controller.yaml" <<EOF
apiVersion: controller.config.cert-manager.io/v1alpha1
kind: ControllerConfiguration
kubeConfig: $dir/cert-manager.kubeconfig
clusterResourceNamespace: $CM_NAMESPACE
leaderElectionConfig: {enabled: true, namespace: $CM_NAMESPACE}
# Every default controller but the approver: approver-policy decides.
controllers: ["*", "-certificaterequests-approver"]
healthzListenAddress: 127.0.0.1:$controller_health
EOF
  start_bg cert-manager-controller cert-manager-controller --config "$dir/controller.yaml"
  start_bg approver-policy approver-policy --kubeconfig "$dir/cert-manager-approver-policy.kubeconfig" \
    --leader-election-namespace "$CM_NAMESPACE" --metrics-bind-address 0 \
    --readiness-probe-bind-address "127.0.0.1:$ap_ready" --webhook-host 127.0.0.1 --webhook-port "$ap_webhook" \
    --webhook-ca-secret-namespace "$CM_NAMESPACE"
  until_ok "cert-manager's controller" 90 curl -fsS "http://127.0.0.1:$controller_health/livez"
  until_ok approver-policy 90 curl -fsS "http://127.0.0.1:$ap_ready/readyz"

  issuer=$(PRISM_STACK=$stack npx tsx -e 'import { loadStack } from "./infra/config/load.ts";
    console.log(loadStack("stacks", process.env.PRISM_STACK).config.tls.clusterIssuer)' 2>/dev/null)
  [ -n "$issuer" ] || { log "cert-manager: no edge ClusterIssuer name in stacks/Pulumi.$stack.yaml"; return 1; }
  kc apply -f - >/dev/null <<EOF
apiVersion: cert-manager.io/v1
kind: ClusterIssuer
metadata: {name: $issuer, labels: {prism.local/cluster-run: operator}}
spec: {selfSigned: {}}
EOF
  until_ok "ClusterIssuer $issuer Ready" 60 kc wait --for condition=Ready "clusterissuer/$issuer" --timeout 2s
  log "$(basename "${cm%/bin}") (controller, webhook) and $(basename "${ap%/bin}") running, each as its ServiceAccount; ClusterIssuer $issuer Ready"
}

# Stops the three processes and removes the webhook configurations, so a control plane that stays up (the kwok one)
# does not call a webhook that is gone.
stop_cert_manager() {
  if [ -n "$(kc get --raw /readyz 2>/dev/null)" ]; then
    kc delete mutatingwebhookconfiguration,validatingwebhookconfiguration cert-manager-webhook --ignore-not-found >/dev/null 2>&1 || true
  fi
  stop_bg approver-policy
  stop_bg cert-manager-controller
  stop_bg cert-manager-webhook
}

# What of the three (of this state directory: their arguments name its files) is still running, for verify_down.
cert_manager_left() {
  local p
  for p in cert-manager-controller cert-manager-webhook approver-policy; do
    ! pgrep -f "^[^ ]*$p .*$STATE/cert-manager/" >/dev/null || printf ' process:%s' "$p"
  done
}

# Run directly: start|stop against the control plane of <admin kubeconfig>, state in <state dir>.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  cd "$(dirname "$0")/../.."
  [ $# -ge 3 ] || { echo "usage: bash scripts/cluster/cert-manager.sh start|stop <admin kubeconfig> <state dir> [stack]" >&2; exit 2; }
  KUBECONFIG_FILE=$(realpath "$2") STATE=$(realpath -m "$3")
  PATH=$(bash scripts/control-plane-tools.sh --print-path kubectl):$PATH
  log() { echo "cert-manager: $*" >&2; }
  kc() { kubectl --kubeconfig "$KUBECONFIG_FILE" "$@"; }
  # shellcheck source=scripts/cluster/node.sh
  . scripts/cluster/node.sh
  mkdir -p "$STATE"
  case $1 in
    start) start_cert_manager "${4:-dev}" ;;
    stop)
      stop_cert_manager
      left=$(cert_manager_left)
      [ -z "$left" ] || { log "left:$left"; exit 1; }
      ;;
    *) echo "usage: bash scripts/cluster/cert-manager.sh start|stop <admin kubeconfig> <state dir> [stack]" >&2; exit 2 ;;
  esac
fi
