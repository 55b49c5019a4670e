#!/usr/bin/env bash
# kube-score over every synthesized environment; any WARNING or CRITICAL fails.
# kube-linter and Polaris are not served by this machine's Go module proxy; kube-score is
# (go install github.com/zegl/kube-score/cmd/kube-score@v1.20.0).
# Deliberate exceptions, with their reasons:
#   - dev: `deployment-replicas` — dev runs one replica of each service on purpose (stacks/Pulumi.dev.yaml).
#   - dbmanager: `deployment-replicas`, `deployment-strategy` (annotation, every env) — a singleton that owns the
#     backup schedule; it rolls out with Recreate so that two never run at once.
#   - alertmanager, the exporters: `deployment-replicas`, `deployment-strategy` (annotation, singletons too) — a second Alertmanager needs clustering
#     or notifies twice; a second exporter doubles its store's series.
#   - alloy (log shipper DaemonSet): `container-security-context-user-group-id` (annotation) — node log files are root-owned.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v kube-score >/dev/null || { echo "kube-score is not installed: go install github.com/zegl/kube-score/cmd/kube-score@v1.20.0" >&2; exit 1; }
[ -d dist/k8s ] || CDK8S_CHECK_UPGRADE=false npx cdk8s synth >/dev/null
status=0
for dir in dist/k8s/*/; do
  env=$(basename "$dir")
  ignore=()
  [ "$env" = dev ] && ignore=(--ignore-test deployment-replicas)
  out=$(kube-score score "$dir"*.yaml -o ci "${ignore[@]}" | grep -E '^\[(WARNING|CRITICAL)\]' || true)
  if [ -n "$out" ]; then
    echo "kube-score: $env has findings:"; echo "$out"; status=1
  else
    echo "kube-score: $env: no findings"
  fi
done
exit $status
