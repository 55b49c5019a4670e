#!/usr/bin/env bash
# Resilience of the stack on the real-pods lane (bash scripts/cluster-run.sh resilience; `up` runs it):
#   1. a rolling update of the gateway (kubectl rollout restart: every replica replaced, maxUnavailable 0) under a
#      steady load through the gateway's Service (kube-proxy spreading it over the replicas) fails no request:
#      every answer 200, no connection error;
#   2. deleting a pod of each service (gateway, auth, config, dbmanager) recovers: the Deployment is Available again
#      with a new pod Ready by its probes, and a request that needs that service succeeds through the gateway.
# Needs the endpoints `up` wrote (.prism-cluster/endpoints.json and its /etc/hosts names); the gateway pods are new
# afterwards, so `bash scripts/cluster-run.sh resilience` maps their names again.
set -euo pipefail
cd "$(dirname "$0")/../.."
STATE=${PRISM_CLUSTER_RUN_DIR:-${TMPDIR:-/tmp}/prism-cluster-run}
PATH=$(bash scripts/control-plane-tools.sh --print-path kubectl):$PATH
k() { kubectl --kubeconfig "$STATE/control-plane/admin.kubeconfig" -n prism "$@"; }
log() { echo "cluster-run resilience: $*" >&2; }
ENDPOINTS=.prism-cluster/endpoints.json
[ -f "$ENDPOINTS" ] || { log "no $ENDPOINTS: bash scripts/cluster-run.sh up first"; exit 1; }
ep() { node -p "require('./$ENDPOINTS').$1"; }
CA=$(ep operator_mtls.ca_file)
SERVICE_URL="https://gateway.prism.svc.cluster.local:$(ep 'gateways[0]' | sed 's/.*://')"
PUBLIC="$SERVICE_URL$(ep routes.echo_public)/steady"

# 1. Rolling update under load: 20 requests/s (under the dev stack's per-address limit).
node scripts/cluster/steady-load.mjs "$PUBLIC" "$CA" 20 >"$STATE/steady-load.json" &
load=$!
sleep 5
start=$SECONDS
k rollout restart deployment/gateway >/dev/null
k rollout status deployment/gateway --timeout 300s >/dev/null
log "gateway rolled over in $((SECONDS - start)) s under load"
sleep 5
kill -TERM "$load"
wait "$load" || true
result=$(cat "$STATE/steady-load.json")
# shellcheck disable=SC2016 # JavaScript
node -e '
  const r = JSON.parse(process.argv[1]);
  const ok = r.statuses["200"] ?? 0;
  if (ok !== r.sent || Object.keys(r.errors).length) {
    console.error(`cluster-run resilience: FAILED: rolling update under load: ${JSON.stringify(r)}`);
    process.exit(1);
  }
  console.error(`cluster-run resilience: rolling update under load: ${ok} of ${r.sent} requests answered 200, no error`);
' "$result"

# 2. A pod of each service deleted: the Deployment recovers, and the service answers through the gateway again.
for service in gateway auth config dbmanager; do
  pod=$(k get pods -l "app=$service" -o jsonpath='{.items[0].metadata.name}')
  start=$SECONDS
  k delete pod "$pod" --wait=false >/dev/null
  # The old pod gone from the Deployment's ready count, then Available again with a new one.
  for _ in $(seq 60); do
    k get pod "$pod" >/dev/null 2>&1 || break
    sleep 1
  done
  k wait --for condition=Available "deployment/$service" --timeout 180s >/dev/null
  k rollout status "deployment/$service" --timeout 180s >/dev/null
  log "$service: pod $pod deleted; Available again with $(k get pods -l "app=$service" --field-selector status.phase=Running -o name | wc -l) pod(s) in $((SECONDS - start)) s"
done
# Each service in use after its pod's replacement: a public route (gateway), a login (auth), the settings (config),
# the backups list (dbmanager), as the journeys do them.
gw=$SERVICE_URL
curl -sS --fail-with-body --cacert "$CA" "$gw$(ep routes.echo_public)/after" >/dev/null
email="resilience-$RANDOM@example.com"
body="{\"email\":\"$email\",\"password\":\"correct horse battery staple\"}"
curl -sS --fail-with-body --cacert "$CA" -H 'content-type: application/json' -d "$body" "$gw/api/auth/register" >/dev/null
curl -sS --fail-with-body --cacert "$CA" -H 'content-type: application/json' -d "$body" "$gw/api/auth/login" | grep -q access_token
op=(--cert "$(ep operator_mtls.cert_file)" --key "$(ep operator_mtls.key_file)" --ca "$CA")
node --import tsx services/config/src/cli.ts list --service gateway --address "$(ep config_grpc)" --environment dev "${op[@]}" >/dev/null
PRISM_BACKUP_MODE=kubernetes KUBECONFIG=$STATE/control-plane/admin.kubeconfig bash deploy/backup/backup.sh list auth >/dev/null
log "after the deletions: the gateway routes, auth registers and logs in, config lists settings, dbmanager lists backups"
log "passed"
