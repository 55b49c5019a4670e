#!/usr/bin/env bash
# Installs the Go-built tools the tests and linters use, into /usr/local/bin (skips what is there):
#   kube-score  manifest linter (kube-linter and Polaris are not served by the Go module proxy here)
#   promtool    upstream build: Debian's promtool lacks Kubernetes service discovery and rejects
#               the cluster's prometheus.yml
#   minio, mc   the S3-compatible server the DB manager's backup tests store to (a test peer only, AGPL,
#               run as a separate process) and its client, which the MinIO set-up script uses
#   actionlint  checks the pull-request workflow (with shellcheck from Debian)
#   jaeger      Jaeger v2, the local platform's trace backend (the journeys in npm test read their traces from it):
#               built and cached by scripts/control-plane-tools.sh (/var/cache/prism-tools/jaeger-<version>),
#               about 460 CPU-seconds once
set -euo pipefail
export GOBIN=/usr/local/bin GOFLAGS=-mod=mod
KUBE_SCORE=v1.20.0
ACTIONLINT=v1.7.12
PROMETHEUS=v0.55.1   # Prometheus 2.55.1
MINIO=v0.0.0-20260212201848-7aac2a2c5b7c   # the Go proxy serves MinIO as pseudo-versions
MC=v0.0.0-20250313080218-cf909e1063a9

have() { [ -x "/usr/local/bin/$1" ]; }

have kube-score || go install "github.com/zegl/kube-score/cmd/kube-score@$KUBE_SCORE"
have actionlint || go install "github.com/rhysd/actionlint/cmd/actionlint@$ACTIONLINT"

if ! have promtool; then
  # `go install` refuses Prometheus (its go.mod has replace directives): build inside the module.
  src=$(go mod download -json "github.com/prometheus/prometheus@$PROMETHEUS" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
  work=$(mktemp -d)
  cp -r "$src/." "$work" && chmod -R u+w "$work"
  (cd "$work" && go build -o /usr/local/bin/promtool ./cmd/promtool)
  rm -rf "$work"
fi

have minio || go install "github.com/minio/minio@$MINIO"
have mc || go install "github.com/minio/mc@$MC"

bash "$(dirname "$0")/control-plane-tools.sh" jaeger
