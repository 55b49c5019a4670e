#!/usr/bin/env bash
# Builds, once, the tools of the local deploy test (scripts/deploy-test.sh) from the Go module proxy, and
# caches each under $PRISM_TOOLS_CACHE/<name>-<version>/bin (default /var/cache/prism-tools); a tool whose
# directory is there is skipped. None of them is downloadable as a binary here (see ../shared/notes.md).
#   kubernetes-v1.31.0                kube-apiserver, kube-controller-manager, kube-scheduler (one go build)
#   kubectl-v1.31.0                   kubectl of the same release (Debian's kubernetes-client is 1.20)
#   kwok-v0.7.0                       kwok: fake nodes and pod status, so workloads go Ready with no kubelet
#   pulumi-v3.274.1                   the Pulumi CLI and its Node.js language host (vendored source: the
#                                     language host's module is not served)
#   pulumi-resource-kubernetes-<v>    the Kubernetes provider at the version package-lock.json asks for
#   jaeger-v2.13.0                    Jaeger v2 (cmd/jaeger, on the OpenTelemetry Collector): the local platform's
#                                     trace backend. Not one of the default five: scripts/install-tools.sh builds it
#                                     before the tests, which need it (the journeys read their traces back from it)
#   kubernetes-node-v1.31.0           kubelet and kube-proxy of the same release: the real-pods lane
#                                     (scripts/cluster-run.sh); built only when named, like the two below
#   coredns-v1.11.3                   CoreDNS, the cluster DNS of the real-pods lane (the release kubeadm v1.31 deploys)
#   kube-router-v2.1.0                kube-router, as the real-pods lane's NetworkPolicy enforcer only (iptables +
#                                     ipset; the newest release the module proxy lists)
#   cert-manager-v1.21.2              cert-manager's controller and webhook (bin/cert-manager-{controller,webhook}) and
#                                     its CRDs (share/crds), the version scripts/deploy-test.sh pins: upstream's command
#                                     modules (cmd/controller, ".../controller-binary"; cmd/webhook) are not on the
#                                     module proxy, so scripts/cluster/cert-manager-{controller,webhook}/main.go are
#                                     built inside a copy of the root module, which holds every controller, issuer and
#                                     admission plugin (the real-pods lane: scripts/cluster/cert-manager.sh)
#   approver-policy-v0.28.0           cert-manager approver-policy (bin/approver-policy) and its CRD (share/crds)
#   The Compose lane's (scripts/compose-run.sh; not among the default five either):
#   docker-compose-v2.40.3            Docker Compose v2, the `docker compose` CLI plugin
#   nats-server-v2.15.3, consul-v1.20.1, traefik-v3.2.1, loki-v3.7.8
#                                     the programs of the stand-in images (scripts/standin-images.sh): the pinned
#                                     releases, but Consul (1.20.1 is the newest that builds from the proxy; the
#                                     images pin 2.0) and Traefik (the proxy's newest is v3.7.13; the images pin v3.7.14)
#   The real-pods lane's stand-in images (scripts/cluster/stack-images.sh), besides Loki and Jaeger above:
#   prometheus-v3.13.5                the Prometheus server (cmd/prometheus) of the release infra/model/images.ts pins,
#                                     without its web UI's assets (an npm build the module leaves out)
#   redis_exporter-v1.97.0            the Redis exporter: the only version the module proxy serves (images pin 1.92)
#   alloy-v1.5.1                      Grafana Alloy, the log shipper: the newest v1 release the module proxy serves (the
#                                     images pin v1.21.2), with only the components Prism's configurations use (see
#                                     build_alloy)
# Usage: bash scripts/control-plane-tools.sh [TOOL ...]
#        bash scripts/control-plane-tools.sh --print-path [TOOL ...]
#   TOOL: kubernetes kubectl kwok pulumi pulumi-resource-kubernetes jaeger kubernetes-node coredns kube-router cert-manager
#         approver-policy docker-compose nats-server consul traefik loki prometheus redis_exporter alloy
#   Without names, builds the first five. Concurrent runs do not build the same tool twice (one waits on the other's lock).
#   --print-path  prints the PATH entries of the cached tools (all, or those named; fails if one is missing)
#                 and builds nothing.
# Builds run at nice 19; each directory gets build-seconds (wall) and cpu-seconds files for its build.
# With PRISM_TOOLCHAIN=download (scripts/toolchain.sh; the default on GitHub Actions) nothing is built: each
# named tool must already be on PATH (kubectl from helm/kind-action, pulumi from pulumi/actions, ...), the
# provider plugin is installed the ordinary way (pulumi plugin install), Jaeger and Consul are their release binaries
# (Consul at the version the images pin; into the same cache), and --print-path prints only their directories.
# cert-manager and approver-policy are refused there: no host binary of either is released (images, manifests and
# charts only), and the real-pods lane there would be kind, running them from cert-manager.yaml and the chart.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
# shellcheck source=scripts/toolchain.sh
. scripts/toolchain.sh
prism_toolchain
CACHE=${PRISM_TOOLS_CACHE:-/var/cache/prism-tools}
KUBERNETES=v1.31.0   # staging modules stay on v0.31.0: v0.31.14 of some is refused
KWOK=v0.7.0
COREDNS=v1.11.3
KUBE_ROUTER=v2.1.0
# The versions whose CRDs the deploy test installs: one place for both.
CERT_MANAGER=$(sed -n 's/^CERT_MANAGER=\(v[0-9.]*\).*/\1/p' scripts/deploy-test.sh)
APPROVER_POLICY=$(sed -n 's/^APPROVER_POLICY=\(v[0-9.]*\).*/\1/p' scripts/deploy-test.sh)
PULUMI=v3.274.1
# The only pseudo-version of the provider module the proxy serves; it builds with sdk/v4 v4.24.0.
K8S_PROVIDER_MODULE=v4.0.0-20260115033456-f47bc2d6f199
K8S_PROVIDER_SDK=v4.24.0
K8S_PROVIDER=$(node -p 'require("./package-lock.json").packages["node_modules/@pulumi/kubernetes"].version')
# Jaeger v2.13.0: the module proxy serves it as v1.76.0 (one tag pair per release; the module path has no /v2).
JAEGER=v2.13.0
JAEGER_MODULE=v1.76.0
# The Compose lane's: the Compose plugin, and the programs of its stand-in images at the versions the Compose files pin.
COMPOSE=v2.40.3
NATS_SERVER=v2.15.3
CONSUL=v1.20.1       # the newest the module proxy builds; the images pin 2.0.x (download mode runs that release)
TRAEFIK=v3.2.1
LOKI=v3.7.8
REDIS_EXPORTER=v1.97.0
ALLOY=v1.5.1
LANGUAGE_HOST_SRC=${PULUMI_LANGUAGE_NODEJS_SRC:-$ROOT/../shared/vendor/pulumi-language-nodejs}

# Download mode: the commands each tool name stands for must be on PATH; the provider is a Pulumi plugin.
if [ "$PRISM_TOOLCHAIN" = download ]; then
  print=no path=
  [ "${1:-}" != --print-path ] || { print=yes && shift; }
  [ $# -gt 0 ] || set -- kubernetes kubectl kwok pulumi pulumi-resource-kubernetes
  for tool in "$@"; do
    case $tool in
      jaeger)
        dir=$CACHE/jaeger-$JAEGER/bin
        if [ $print = yes ]; then
          [ -x "$dir/jaeger" ] || { echo "control-plane-tools: $dir/jaeger is missing; run bash scripts/control-plane-tools.sh jaeger" >&2; exit 1; }
          path="$path${path:+:}$dir"
        elif [ ! -x "$dir/jaeger" ]; then
          mkdir -p "$dir"
          curl -fsSL "https://github.com/jaegertracing/jaeger/releases/download/$JAEGER/jaeger-${JAEGER#v}-linux-amd64.tar.gz" |
            tar -xz -C "$dir" --strip-components 1 --wildcards '*/jaeger'
          echo "== jaeger-$JAEGER: downloaded (release binary)"
        fi
        ;;
      # The Compose lane pulls the real images in download mode: only the plugin must be there.
      docker-compose) docker compose version >/dev/null || { echo "control-plane-tools: download mode: no docker compose plugin" >&2; exit 1; } ;;
      # test/consul runs the release the images pin (infra/model/images.ts), from HashiCorp's release site.
      consul)
        release=$(node --input-type=module -e "const { THIRD_PARTY_IMAGES: i } = await import('./infra/model/images.ts'); console.log(i.consul.tag)")
        dir=$CACHE/consul-v$release/bin
        if [ $print = yes ]; then
          [ -x "$dir/consul" ] || { echo "control-plane-tools: $dir/consul is missing; run bash scripts/control-plane-tools.sh consul" >&2; exit 1; }
          path="$path${path:+:}$dir"
        elif [ ! -x "$dir/consul" ]; then
          mkdir -p "$dir"
          curl -fsSLo "$dir/consul.zip" "https://releases.hashicorp.com/consul/$release/consul_${release}_linux_amd64.zip"
          unzip -qo "$dir/consul.zip" consul -d "$dir" && rm "$dir/consul.zip"
          echo "== consul-v$release: downloaded (release binary)"
        fi
        ;;
      nats-server | traefik | loki | prometheus | redis_exporter | alloy) ;;
      cert-manager | approver-policy)
        echo "control-plane-tools: download mode: no $tool host binary is released; the real-pods lane is kind there (cert-manager.yaml, approver-policy's chart)" >&2
        exit 1
        ;;
      kubernetes) require_on_path kube-apiserver kube-controller-manager kube-scheduler ;;
      kubectl | kwok | pulumi | coredns | kube-router) require_on_path "$tool" ;;
      kubernetes-node) require_on_path kubelet kube-proxy ;;
      pulumi-resource-kubernetes)
        require_on_path pulumi
        if [ $print = no ]; then
          pulumi plugin install resource kubernetes "v$K8S_PROVIDER" >&2
        else
          pulumi plugin ls 2>/dev/null | grep -Eq "^kubernetes +resource +$K8S_PROVIDER " ||
            { echo "control-plane-tools: the kubernetes provider plugin $K8S_PROVIDER is not installed (pulumi plugin install resource kubernetes v$K8S_PROVIDER)" >&2; exit 1; }
        fi
        ;;
      *) echo "control-plane-tools: unknown tool $tool (kubernetes, kubectl, kwok, pulumi, pulumi-resource-kubernetes, jaeger, kubernetes-node, coredns, kube-router, cert-manager, approver-policy, docker-compose, nats-server, consul, traefik, loki, prometheus, redis_exporter, alloy)" >&2; exit 2 ;;
    esac
  done
  if [ $print = yes ]; then echo "$path"; fi
  exit 0
fi

# The real-pods lane's: Prometheus at the release the model pins (its Go module is v0.3XX.Y for v3.XX.Y); read here,
# after download mode, which needs no node of this version (the model is TypeScript).
PROMETHEUS=$(node --input-type=module -e "const { THIRD_PARTY_IMAGES: i } = await import('./infra/model/images.ts'); console.log(i.prometheus.tag)")
names=("kubernetes-$KUBERNETES" "kubectl-$KUBERNETES" "kwok-$KWOK" "pulumi-$PULUMI" "pulumi-resource-kubernetes-$K8S_PROVIDER" "jaeger-$JAEGER"
  "kubernetes-node-$KUBERNETES" "coredns-$COREDNS" "kube-router-$KUBE_ROUTER" "cert-manager-$CERT_MANAGER" "approver-policy-$APPROVER_POLICY"
  "docker-compose-$COMPOSE" "nats-server-$NATS_SERVER" "consul-$CONSUL" "traefik-$TRAEFIK" "loki-$LOKI"
  "prometheus-$PROMETHEUS" "redis_exporter-$REDIS_EXPORTER" "alloy-$ALLOY")

if [ "${1:-}" = --print-path ]; then
  shift
  path=
  for n in "${names[@]}"; do
    if [ $# -gt 0 ]; then
      want=no
      for w in "$@"; do case $n in "$w"-v[0-9]* | "$w"-[0-9]*) want=yes ;; esac; done
      [ $want = yes ] || continue
    fi
    [ -d "$CACHE/$n/bin" ] || { echo "control-plane-tools: $CACHE/$n is missing; run bash scripts/control-plane-tools.sh" >&2; exit 1; }
    path="$path${path:+:}$CACHE/$n/bin"
  done
  echo "$path"
  exit 0
fi

export GOFLAGS=-mod=mod CGO_ENABLED=0 GOTOOLCHAIN=local
mkdir -p "$CACHE"

# User + system seconds of this shell's finished children, from a file `times` wrote (line 2: 1m2.5s 0m3.25s;
# `times` must run in this shell itself, not in a command substitution).
children_cpu() { awk 'NR == 2 { t = 0; for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); t += a[1] * 60 + a[2] } printf "%d\n", t }' "$1"; }

# build <name> <function>: runs the function in a scratch module directory; its binaries go to ./bin (and data, if
# any, to ./share), which become $CACHE/<name>/bin (and share) only when the whole build succeeded.
build() {
  local name=$1 fn=$2 work start lock
  exec {lock}>"$CACHE/.$name.lock"
  if ! flock -n "$lock"; then
    echo "== $name: being built by another run; waiting"
    flock "$lock"
  fi
  if [ -d "$CACHE/$name/bin" ]; then echo "== $name: cached"; exec {lock}>&-; return; fi
  echo "== $name: building ($(date -u +%H:%M:%S))"
  rm -rf "$CACHE/.build-$name."* # what a failed build left (the lock is ours: nothing else builds it)
  work=$(mktemp -d "$CACHE/.build-$name.XXXX")
  start=$(date +%s)
  # The CPU time (user + system of every process of the build) says more than the wall time on a busy machine.
  times >"$work/times-before"
  (cd "$work" && mkdir bin && "$fn")
  times >"$work/times-after"
  mkdir -p "$work/out" && mv "$work/bin" "$work/out/bin"
  if [ -d "$work/share" ]; then mv "$work/share" "$work/out/share"; fi
  echo $(( $(date +%s) - start )) > "$work/out/build-seconds"
  echo $(( $(children_cpu "$work/times-after") - $(children_cpu "$work/times-before") )) > "$work/out/cpu-seconds"
  rm -rf "${CACHE:?}/$name" && mv "$work/out" "$CACHE/$name" && rm -rf "$work"
  echo "== $name: built in $(cat "$CACHE/$name/build-seconds") s ($(cat "$CACHE/$name/cpu-seconds") CPU-seconds)"
  exec {lock}>&-
}

# k8s.io/kubernetes replaces its staging modules with local paths, so `go install` refuses it: a wrapper
# module requires it and points every staging module at its published v0.x twin.
kubernetes_module() {
  go mod init prism.local/kubernetes-tools >/dev/null 2>&1
  go mod edit -require="k8s.io/kubernetes@$KUBERNETES"
  local gomod staging
  gomod=$(go mod download -json "k8s.io/kubernetes@$KUBERNETES" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).GoMod))')
  staging=$(sed -n 's#^\s*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#\1#p' "$gomod")
  for m in $staging; do go mod edit -replace="$m=$m@v0${KUBERNETES#v1}"; done
}

build_kubernetes() {
  kubernetes_module
  nice -n 19 go build -o bin/ -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=$KUBERNETES" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kube-scheduler
}

# The node components: a cache entry of their own so the kwok lane never builds them.
build_kubernetes_node() {
  kubernetes_module
  nice -n 19 go build -o bin/ -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=$KUBERNETES" \
    k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-proxy
}

build_coredns() {
  GOBIN=$PWD/bin nice -n 19 go install -ldflags "-s -w" "github.com/coredns/coredns@$COREDNS"
}

build_kube_router() {
  GOBIN=$PWD/bin nice -n 19 go install \
    -ldflags "-s -w -X github.com/cloudnativelabs/kube-router/v2/pkg/version.Version=$KUBE_ROUTER" \
    "github.com/cloudnativelabs/kube-router/v2/cmd/kube-router@$KUBE_ROUTER"
}

# Upstream's command modules are not served (see the header): ours (the controller; the webhook, which writes each
# CertificateRequest's requester, as approver-policy's RBAC check needs), inside a copy of the root module so they may
# import cert-manager's internal packages as upstream's do; the CRDs of the same module beside them. The Venafi
# issuer's library (github.com/Venafi/vcert/v5 v5.13.7) is refused by the module proxy here (403), so it is left out
# always (the same binary everywhere; the platform's issuers are self-signed, CA and ACME): its two controllers'
# names, which the configuration defaults take from its packages, are written as the names themselves.
build_cert_manager() {
  module_copy "github.com/cert-manager/cert-manager@$CERT_MANAGER"
  local defaults=module/internal/apis/config/controller/v1alpha1/defaults.go
  sed -i -e '\#"github.com/cert-manager/cert-manager/pkg/controller/certificate[a-z]*requests/venafi"$#d' \
    -e 's/crvenaficontroller\.CRControllerName/"certificaterequests-issuer-venafi"/; s/csrvenaficontroller\.CSRControllerName/"certificatesigningrequests-issuer-venafi"/' "$defaults"
  ! grep -q '/venafi"$' "$defaults" || { echo "control-plane-tools: $defaults still imports the Venafi controllers" >&2; return 1; }
  local c
  for c in controller webhook; do
    mkdir -p "module/cmd/prism-$c" && cp "$ROOT/scripts/cluster/cert-manager-$c/main.go" "module/cmd/prism-$c/"
    (cd module && nice -n 19 go build -o "../bin/cert-manager-$c" \
      -ldflags "-s -w -X github.com/cert-manager/cert-manager/pkg/util.AppVersion=$CERT_MANAGER" "./cmd/prism-$c")
  done
  mkdir share && cp -r module/deploy/crds share/crds
  rm -rf module
}

# Its main package is ./cmd (a binary named cmd with go install): built in a copy of the module, named for what it is.
build_approver_policy() {
  module_copy "github.com/cert-manager/approver-policy@$APPROVER_POLICY"
  mkdir share
  (cd module && nice -n 19 go build -o ../bin/approver-policy -ldflags "-s -w" ./cmd)
  cp -r module/deploy/crds share/crds
  rm -rf module
}

# Its own build and cache entry (the Go build cache shares what it has in common with the control plane).
build_kubectl() {
  kubernetes_module
  nice -n 19 go build -o bin/ -ldflags "-s -w -X k8s.io/client-go/pkg/version.gitVersion=$KUBERNETES -X k8s.io/component-base/version.gitVersion=$KUBERNETES" \
    k8s.io/kubernetes/cmd/kubectl
}

build_kwok() {
  GOBIN=$PWD/bin nice -n 19 go install -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK"
}

# The CLI and the language host in one module and one go build, so the SDK compiles once.
build_pulumi() {
  [ -f "$LANGUAGE_HOST_SRC/main.go" ] || { echo "control-plane-tools: no language host source at $LANGUAGE_HOST_SRC (set PULUMI_LANGUAGE_NODEJS_SRC)" >&2; return 1; }
  go mod init prism.local/pulumi-tools >/dev/null 2>&1
  go mod edit -require="github.com/pulumi/pulumi/pkg/v3@$PULUMI" -require="github.com/pulumi/pulumi/sdk/v3@$PULUMI" \
    -replace=github.com/atotto/clipboard=github.com/tgummerer/clipboard@v0.0.0-20241001131231-d02d263e614e
  mkdir pulumi-language-nodejs && cp "$LANGUAGE_HOST_SRC"/*.go pulumi-language-nodejs/
  nice -n 19 go build -o bin/ -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI" \
    github.com/pulumi/pulumi/pkg/v3/cmd/pulumi ./pulumi-language-nodejs
}

build_provider() {
  go mod init prism.local/pulumi-kubernetes-provider >/dev/null 2>&1
  go mod edit -require="github.com/pulumi/pulumi-kubernetes/provider/v4@$K8S_PROVIDER_MODULE" \
    -require="github.com/pulumi/pulumi-kubernetes/sdk/v4@$K8S_PROVIDER_SDK"
  # Its main package embeds schema-embed.json and terraform-mapping-embed.json, which upstream's go:generate
  # writes (git-ignored, so not in the module): the same files, written here with node (the schema with the
  # provider's version, as generate.go does), beside a copy of main.go.
  local src
  src=$(go mod download -json "github.com/pulumi/pulumi-kubernetes/provider/v4@$K8S_PROVIDER_MODULE" |
    node -e 'let s="";process.stdin.on("data",(d)=>(s+=d)).on("end",()=>console.log(JSON.parse(s).Dir))')/cmd/pulumi-resource-kubernetes
  mkdir pulumi-resource-kubernetes && cp "$src/main.go" pulumi-resource-kubernetes/
  node -e '
    const fs = require("fs"); const [src, out, version] = process.argv.slice(1);
    const schema = JSON.parse(fs.readFileSync(`${src}/schema.json`, "utf8"));
    fs.writeFileSync(`${out}/schema-embed.json`, JSON.stringify({ ...schema, version }));
    fs.writeFileSync(`${out}/terraform-mapping-embed.json`, JSON.stringify(JSON.parse(fs.readFileSync(`${src}/terraform-mapping.json`, "utf8"))));
  ' "$src" pulumi-resource-kubernetes "$K8S_PROVIDER"
  nice -n 19 go build -o bin/ \
    -ldflags "-s -w -X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=$K8S_PROVIDER" \
    ./pulumi-resource-kubernetes
}

# Its go.mod has a replace directive, so `go install` refuses it: built inside a copy of the module. Without the
# UI's assets (a separate npm build upstream), which the query API does not need: / serves a placeholder page.
build_jaeger() {
  local src
  src=$(go mod download -json "github.com/jaegertracing/jaeger@$JAEGER_MODULE" |
    node -e 'let s="";process.stdin.on("data",(d)=>(s+=d)).on("end",()=>console.log(JSON.parse(s).Dir))')
  cp -r "$src" module && chmod -R u+w module
  (cd module && nice -n 19 go build -o ../bin/ -ldflags "-s -w -X github.com/jaegertracing/jaeger/internal/version.latestVersion=$JAEGER" ./cmd/jaeger)
  rm -rf module
}

# module_copy <module@version>: a writable copy of the module in ./module. A replace directive pointing at a
# directory the module zip leaves out (a nested module: consul's ./api, loki's ./pkg/push) is dropped, so the
# published version the go.mod requires is used instead; every other replace is kept.
module_copy() {
  local src r
  src=$(go mod download -json "$1" | node -e 'let s="";process.stdin.on("data",(d)=>(s+=d)).on("end",()=>console.log(JSON.parse(s).Dir))')
  cp -r "$src" module && chmod -R u+w module
  for r in $(cd module && go mod edit -json | node -e 'let s="";process.stdin.on("data",(d)=>(s+=d)).on("end",()=>{for(const r of JSON.parse(s).Replace??[])if(r.New.Path.startsWith("./"))console.log(r.Old.Path+"="+r.New.Path)})'); do
    [ -d "module/${r#*=}" ] || (cd module && go mod edit -dropreplace="${r%%=*}")
  done
}

# go install refuses its exclude directives: built inside a copy of the module.
build_compose() {
  module_copy "github.com/docker/compose/v2@$COMPOSE"
  (cd module && nice -n 19 go build -o ../bin/docker-compose -ldflags "-s -w -X github.com/docker/compose/v2/internal.Version=$COMPOSE" ./cmd)
  rm -rf module
}

build_nats_server() {
  GOBIN=$PWD/bin nice -n 19 go install -ldflags "-s -w" "github.com/nats-io/nats-server/v2@$NATS_SERVER"
}

build_consul() {
  module_copy "github.com/hashicorp/consul@$CONSUL"
  (cd module && nice -n 19 go build -o ../bin/consul -ldflags "-s -w" .)
  rm -rf module
}

build_traefik() {
  module_copy "github.com/traefik/traefik/v3@$TRAEFIK"
  (cd module && nice -n 19 go build -o ../bin/traefik -ldflags "-s -w -X github.com/traefik/traefik/v3/pkg/version.Version=$TRAEFIK" ./cmd/traefik)
  rm -rf module
}

build_loki() {
  module_copy "github.com/grafana/loki/v3@$LOKI"
  (cd module && nice -n 19 go build -o ../bin/loki -ldflags "-s -w -X github.com/grafana/loki/v3/pkg/util/build.Version=$LOKI" ./cmd/loki)
  rm -rf module
}

build_prometheus() {
  local minor patch
  IFS=. read -r _ minor patch <<<"${PROMETHEUS#v}"
  module_copy "github.com/prometheus/prometheus@v0.3$(printf %02d "$minor").$patch"
  (cd module && GOWORK=off nice -n 19 go build -o ../bin/ -ldflags "-s -w -X github.com/prometheus/common/version.Version=${PROMETHEUS#v}" ./cmd/prometheus)
  rm -rf module
}

build_redis_exporter() {
  GOBIN=$PWD/bin nice -n 19 go install -ldflags "-s -w -X main.BuildVersion=$REDIS_EXPORTER" "github.com/oliver006/redis_exporter@$REDIS_EXPORTER"
}

# Alloy's own binary, built inside a copy of its module with three changes, none to what `alloy run` does with the
# components it has: the component list (internal/component/all) holds only those the rendered configurations use
# (infra/model/files/alloy.ts; the full list links hundreds of exporters and collectors), main.go drops the static
# integrations and extra discovery mechanisms it registers for them; the tree's own ./syntax module is not in the
# module zip, so the published syntax v0.1.1 is used, and the one call of v1.5.1 it lacks (NewScopeWithParent: a
# scope that falls back to the module's) is made with a copy of the parent's variables, which looks up alike; and
# `alloy convert` loses its Datadog receiver conversion (that receiver is a nested module the zip leaves out too).
ALLOY_COMPONENTS=(discovery/docker discovery/kubernetes discovery/relabel local/file_match loki/process
  loki/source/docker loki/source/file loki/write)
build_alloy() {
  local c
  module_copy "github.com/grafana/alloy@$ALLOY"
  (
    cd module
    {
      echo '// Package all imports the components Prism'"'"'s log-shipping configurations use (scripts/control-plane-tools.sh).'
      echo 'package all'
      echo 'import ('
      for c in "${ALLOY_COMPONENTS[@]}"; do echo "	_ \"github.com/grafana/alloy/internal/component/$c\""; done
      echo ')'
    } >internal/component/all/all.go
    rm -f internal/component/all/all_test.go internal/converter/internal/otelcolconvert/converter_datadogreceiver.go
    sed -i -e '\#promtail/discovery/consulagent"#d' -e '\#prometheus/discovery/install"#d' \
      -e '\#internal/static/integrations/install"#d' main.go
    sed -i 's#^\tscope := vm.NewScopeWithParent(vc.scope, make(map\[string\]interface{}))$#\tvariables := make(map[string]interface{})\n\tif vc.scope != nil {\n\t\tfor k, v := range vc.scope.Variables {\n\t\t\tvariables[k] = v\n\t\t}\n\t}\n\tscope := vm.NewScope(variables)#' \
      internal/runtime/internal/controller/value_cache.go
    ! grep -rq NewScopeWithParent --include='*.go' internal || { echo "build_alloy: NewScopeWithParent still called" >&2; exit 1; }
    go mod edit -require=github.com/grafana/alloy/syntax@v0.1.1 \
      -dropreplace=github.com/open-telemetry/opentelemetry-collector-contrib/receiver/datadogreceiver \
      -droprequire=github.com/open-telemetry/opentelemetry-collector-contrib/receiver/datadogreceiver
    GOFLAGS=-mod=mod nice -n 19 go build -o ../bin/alloy -ldflags "-s -w -X github.com/grafana/alloy/internal/build.Version=$ALLOY" .
  )
  rm -rf module
}

[ $# -gt 0 ] || set -- kubernetes kubectl kwok pulumi pulumi-resource-kubernetes
for tool in "$@"; do
  case $tool in
    kubernetes) build "kubernetes-$KUBERNETES" build_kubernetes ;;
    kubectl) build "kubectl-$KUBERNETES" build_kubectl ;;
    kwok) build "kwok-$KWOK" build_kwok ;;
    pulumi) build "pulumi-$PULUMI" build_pulumi ;;
    pulumi-resource-kubernetes) build "pulumi-resource-kubernetes-$K8S_PROVIDER" build_provider ;;
    jaeger) build "jaeger-$JAEGER" build_jaeger ;;
    kubernetes-node) build "kubernetes-node-$KUBERNETES" build_kubernetes_node ;;
    coredns) build "coredns-$COREDNS" build_coredns ;;
    kube-router) build "kube-router-$KUBE_ROUTER" build_kube_router ;;
    cert-manager) build "cert-manager-$CERT_MANAGER" build_cert_manager ;;
    approver-policy) build "approver-policy-$APPROVER_POLICY" build_approver_policy ;;
    docker-compose) build "docker-compose-$COMPOSE" build_compose ;;
    nats-server) build "nats-server-$NATS_SERVER" build_nats_server ;;
    consul) build "consul-$CONSUL" build_consul ;;
    traefik) build "traefik-$TRAEFIK" build_traefik ;;
    loki) build "loki-$LOKI" build_loki ;;
    prometheus) build "prometheus-$PROMETHEUS" build_prometheus ;;
    redis_exporter) build "redis_exporter-$REDIS_EXPORTER" build_redis_exporter ;;
    alloy) build "alloy-$ALLOY" build_alloy ;;
    *) echo "control-plane-tools: unknown tool $tool (kubernetes, kubectl, kwok, pulumi, pulumi-resource-kubernetes, jaeger, kubernetes-node, coredns, kube-router, cert-manager, approver-policy, docker-compose, nats-server, consul, traefik, loki, prometheus, redis_exporter, alloy)" >&2; exit 2 ;;
  esac
done
