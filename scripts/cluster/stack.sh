# shellcheck shell=bash
# The stack on the real-pods lane (sourced by scripts/cluster-run.sh): `pulumi up -s <stack>` through the deploy
# test's existing-cluster mode, kept deployed, with the lane's images and its API server's address.

STACK_DIR=$STATE/stack

# deploy_stack <stack>: the images its manifests name (scripts/cluster/stack-images.sh, digest-pinned ones also
# under their digest name), volumes, then the deploy test's dry runs and `pulumi up` of <stack> (every Deployment and
# StatefulSet Available by its real probes, every Job complete), a preview that must show no change, kept deployed.
deploy_stack() {
  local stack=$1 api settings
  # The lane's settings of the stack, `<key> <value>` a line as `pulumi config set --path` takes them. Prometheus
  # reaches the API server at its endpoint (NetworkPolicy egress sees the address after the Service's DNAT): the
  # lane's, as an operator sets their cluster's. Two gateways, so the journeys meet two replicas sharing Redis and the
  # revocation feed (dev runs one). The pods' log lines shipped to Loki with Alloy, as staging and prod do (dev does
  # not), so the journeys watch lines arrive; the shipper asks for 10m of CPU instead of 50m: with 50m the pods'
  # requests came to 96% of the node's two cores, and a rolling update of the gateway found no room for its surge pod.
  # Alertmanager's receivers: two webhooks of the lane's alert sink on the node's address (outside the pod network,
  # like an incident tool), the always-firing watchdog to `heartbeat` every minute, everything else to `team`; the
  # node's address is all Alertmanager may reach, on the sink's port only.
  api=$(kc get endpoints kubernetes -o jsonpath='{.subsets[0].addresses[0].ip} {.subsets[0].ports[0].port}')
  settings="prism:cluster.apiServer.cidrs[0] ${api% *}/32
prism:cluster.apiServer.port ${api#* }
prism:services.gateway.replicas 2
prism:observability.logShipping true
prism:resources.logShipper.requests.cpu 10m
prism:resources.logShipper.requests.memory 64Mi
prism:resources.logShipper.limits.cpu 250m
prism:resources.logShipper.limits.memory 256Mi
prism:alerting.receivers[0].name heartbeat
prism:alerting.receivers[0].webhook.url http://$HOST_IP:$ALERT_SINK_PORT/heartbeat
prism:alerting.receivers[1].name team
prism:alerting.receivers[1].webhook.url http://$HOST_IP:$ALERT_SINK_PORT/team
prism:alerting.defaultReceiver team
prism:alerting.heartbeat.receiver heartbeat
prism:alerting.heartbeat.interval 1m
prism:alerting.egressCidrs[0] $HOST_IP/32"
  # The images are those of the stack file with these settings (the log shipper's is not in dev's own).
  mkdir -p "$STATE/stacks"
  node scripts/cluster/stack-settings.mjs "stacks/Pulumi.$stack.yaml" "$STATE/stacks/Pulumi.$stack.yaml" <<<"$settings"
  PRISM_STACKS=$STATE/stacks PRISM_OUT=$STATE/synth npx tsx -e \
    'import { synthesizeEnvironments } from "./infra/k8s/charts/environments.ts"; synthesizeEnvironments(process.env.PRISM_STACKS, process.env.PRISM_OUT);'
  stack_images "$CONTAINERD_SOCK" "$STATE/synth/$stack"
  bash scripts/local-cluster.sh volumes
  KUBECONFIG=$KUBECONFIG_FILE PRISM_DEPLOY_TEST_REGISTRY=ghcr.io/prism-platform PRISM_DEPLOY_TEST_TAG=$(node -p 'require("./package.json").version') \
    PRISM_DEPLOY_TEST_CONFIG=$settings bash scripts/deploy-test.sh --existing-cluster --keep "$STACK_DIR" "$stack"
}
