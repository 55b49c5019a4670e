#!/usr/bin/env bash
# Installs the Go-built tools the tests and linters use, into /usr/local/bin (skips what is there):
#   kube-score  manifest linter (kube-linter and Polaris are not served by the Go module proxy here)
#   promtool    upstream build of the Prometheus release the model pins (infra/model/images.ts): Debian's
#               promtool is 2.x and lacks Kubernetes service discovery; a promtool of another version is replaced
#   alertmanager, amtool
#               the Alertmanager release the model pins, for the same reason (Debian's is 0.25)
#   minio, mc   the S3-compatible server the DB manager's backup tests store to (a test peer only, AGPL,
#               run as a separate process) and its client, which the MinIO set-up script uses
#   actionlint  checks the pull-request workflow (with shellcheck from Debian)
#   registry    CNCF Distribution, the registry npm run images:digests is tested against (Bearer tokens as
#               Docker Hub's)
#   jaeger      Jaeger v2, the local platform's trace backend (the journeys in npm test read their traces from it):
#               built and cached by scripts/control-plane-tools.sh (/var/cache/prism-tools/jaeger-<version>),
#               about 460 CPU-seconds once
#   consul      the Consul server of the Compose lane's images (control-plane-tools.sh, cached the same way; 472
#               CPU-seconds, 1760 s wall at nice 19 on 2 shared cores): test/consul/acl.test.ts runs it with ACLs
set -euo pipefail
export GOBIN=/usr/local/bin GOFLAGS=-mod=mod
KUBE_SCORE=v1.20.0
ACTIONLINT=v1.7.12
# The Prometheus project's releases the model pins (node strips the file's types): the checkers test what runs.
pinned() { node --input-type=module -e "const { THIRD_PARTY_IMAGES: i } = await import('./infra/model/images.ts'); console.log(i.$1.tag)"; }
cd "$(dirname "$0")/.."
PROMETHEUS=$(pinned prometheus)     # v3.13.5; its Go module is v0.313.5 (v3.X.Y -> v0.3XX.Y)
ALERTMANAGER=$(pinned alertmanager) # v0.35.0, module and release alike
MINIO=v0.0.0-20260212201848-7aac2a2c5b7c   # the Go proxy serves MinIO as pseudo-versions
MC=v0.0.0-20250313080218-cf909e1063a9
DISTRIBUTION=v3.1.2

have() { [ -x "/usr/local/bin/$1" ]; }
# has_version TOOL vX.Y.Z: installed and reporting that version (`TOOL --version`: "TOOL, version X.Y.Z (...)").
has_version() { have "$1" && "/usr/local/bin/$1" --version 2>&1 | grep -q "version ${2#v} "; }

# --missing: prints the names of those not installed (nothing when all are) and installs nothing.
if [ "${1:-}" = --missing ]; then
  for t in kube-score actionlint minio mc registry; do have "$t" || printf '%s ' "$t"; done
  has_version promtool "$PROMETHEUS" || printf 'promtool '
  for t in alertmanager amtool; do has_version "$t" "$ALERTMANAGER" || printf '%s ' "$t"; done
  bash scripts/control-plane-tools.sh --print-path jaeger >/dev/null 2>&1 || command -v jaeger >/dev/null || printf 'jaeger '
  bash scripts/control-plane-tools.sh --print-path consul >/dev/null 2>&1 || command -v consul >/dev/null || printf 'consul '
  exit 0
fi

have kube-score || go install "github.com/zegl/kube-score/cmd/kube-score@$KUBE_SCORE"
have actionlint || go install "github.com/rhysd/actionlint/cmd/actionlint@$ACTIONLINT"

# prometheus_build MODULE@VERSION RELEASE PACKAGE...: `go install` refuses the Prometheus project's modules (replace
# directives, a go.work): built inside a copy of the module, with the release as the version it reports.
prometheus_build() {
  local src work
  src=$(go mod download -json "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
  work=$(mktemp -d)
  cp -r "$src/." "$work" && chmod -R u+w "$work"
  # Alertmanager embeds its web UI's built assets, which the module leaves out (an npm build): an empty UI, the API
  # and the routing (what the tests use) are whole.
  if [ -d "$work/ui/app" ] && [ ! -d "$work/ui/app/dist" ]; then
    mkdir -p "$work/ui/app/dist/elm" "$work/ui/app/dist/mantine"
    echo '<p>Web UI not built (Go module build)</p>' | tee "$work/ui/app/dist/elm/index.html" >"$work/ui/app/dist/mantine/index.html"
  fi
  (cd "$work" && GOWORK=off go build -o /usr/local/bin/ -ldflags "-s -w -X github.com/prometheus/common/version.Version=${2#v}" "${@:3}")
  rm -rf "$work"
}
if ! has_version promtool "$PROMETHEUS"; then
  IFS=. read -r major minor patch <<<"${PROMETHEUS#v}"
  [ "$major" = 3 ] || { echo "install-tools: Prometheus $PROMETHEUS: only 3.x maps to a module version here" >&2; exit 1; }
  prometheus_build "github.com/prometheus/prometheus@v0.3$(printf %02d "$minor").$patch" "$PROMETHEUS" ./cmd/promtool
fi
if ! has_version alertmanager "$ALERTMANAGER" || ! has_version amtool "$ALERTMANAGER"; then
  prometheus_build "github.com/prometheus/alertmanager@$ALERTMANAGER" "$ALERTMANAGER" ./cmd/alertmanager ./cmd/amtool
fi

have minio || go install "github.com/minio/minio@$MINIO"
have mc || go install "github.com/minio/mc@$MC"
have registry || go install "github.com/distribution/distribution/v3/cmd/registry@$DISTRIBUTION"

bash scripts/control-plane-tools.sh jaeger consul
