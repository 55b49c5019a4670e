#!/usr/bin/env bash
# Installs, on Debian, everything the tests and the local platform need; `.ci/run` runs it. Idempotent:
# what is there is kept. Needs root (apt-get, /usr/local/bin) and Go (https://go.dev/dl) for the Go tools.
#   apt         postgresql, redis-server, nats-server, curl, make, openssl, git,
#               etcd-server (the local deploy test's control plane: scripts/local-cluster.sh),
#               python3-venv (Node.js 24 comes from PyPI into a virtual environment) and the shell linter;
#               buildah, podman, runc, debootstrap (the image test: scripts/image-test.sh), with their recommended
#               helpers (container networking, fuse-overlayfs), as proven here;
#               containerd, containernetworking-plugins, conntrack, ipset, iptables, busybox-static (the real-pods
#               lane: scripts/cluster-run.sh)
#   Node.js 24  scripts/install-node.sh (node, npm, npx in /usr/local/bin)
#   Go tools    scripts/install-tools.sh: kube-score, promtool, alertmanager and amtool (the pinned releases), minio,
#               mc, actionlint, Jaeger v2, Consul
# The distribution's own server instances are stopped: tests and the local platform start their own.
# With PRISM_TOOLCHAIN=download (scripts/toolchain.sh; the default on GitHub Actions) Node.js (actions/setup-node)
# and the image tools (Docker) come from the runner, and etcd is not needed (the deploy test uses kind): only the
# rest is installed. Go is needed only when a Go tool is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
# shellcheck source=scripts/toolchain.sh
. scripts/toolchain.sh
prism_toolchain

# Usage: bash scripts/install-prerequisites.sh [--without-go-tools]
#   --without-go-tools  everything but the Go tools (no Go needed): enough for npm run synth and the local platform
#                       without MinIO; npm test needs them.
# As root, or as a user who may sudo (it re-runs itself with sudo).
WITHOUT_GO_TOOLS=no
case "${1:-}" in
  '') ;;
  --without-go-tools) WITHOUT_GO_TOOLS=yes ;;
  *) echo "usage: bash scripts/install-prerequisites.sh [--without-go-tools]" >&2; exit 2 ;;
esac
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    echo "install-prerequisites: not root: running it with sudo (apt-get, /usr/local/bin)" >&2
    exec sudo env "PATH=$PATH" ${PRISM_TOOLCHAIN:+"PRISM_TOOLCHAIN=$PRISM_TOOLCHAIN"} bash "$0" "$@"
  fi
  echo "install-prerequisites: run it as root (apt-get, /usr/local/bin): su -c 'bash $0'" >&2
  exit 1
fi

echo "== OS packages"
need=()
for cmd in pg_ctlcluster:postgresql redis-server:redis-server nats-server:nats-server curl:curl \
  make:make openssl:openssl shellcheck:shellcheck git:git etcd:etcd-server; do
  [ "$PRISM_TOOLCHAIN:${cmd%%:*}" != download:etcd ] || continue
  command -v "${cmd%%:*}" >/dev/null 2>&1 || need+=("${cmd##*:}")
done
[ "$PRISM_TOOLCHAIN" = download ] || python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || need+=(python3-venv)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
image_tools=()
if [ "$PRISM_TOOLCHAIN" = source ]; then
  for cmd in buildah podman runc debootstrap containerd conntrack ipset iptables; do command -v "$cmd" >/dev/null 2>&1 || image_tools+=("$cmd"); done
  [ -x /usr/lib/cni/bridge ] || image_tools+=(containernetworking-plugins)
  { [ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1; } || image_tools+=(busybox-static) # static: it runs in pods as it is
fi
if [ ${#image_tools[@]} -gt 0 ]; then
  [ ${#need[@]} -gt 0 ] || apt-get update -qq
  apt-get install -y -qq "${image_tools[@]}" >/dev/null
fi
for svc in postgresql redis-server nats-server etcd; do
  (command -v systemctl >/dev/null && systemctl stop "$svc" 2>/dev/null) || true
done

if [ "$PRISM_TOOLCHAIN" = source ]; then
  echo "== Node.js 24"
  bash scripts/install-node.sh
  hash -r
else
  require_on_path node npm
fi

echo "== Go tools (kube-score, promtool, alertmanager, amtool, minio, mc, actionlint, Jaeger v2, Consul)"
go_missing=$(bash scripts/install-tools.sh --missing)
if [ $WITHOUT_GO_TOOLS = yes ]; then
  echo "skipped (--without-go-tools)${go_missing:+; not installed: $go_missing(npm test needs them: install Go 1.24+, https://go.dev/dl, and run this again without the option)}"
elif [ -z "$go_missing" ]; then
  echo "all installed"
elif ! command -v go >/dev/null 2>&1; then
  echo "install-prerequisites: go not found, needed for $go_missing: install Go 1.24 or later (https://go.dev/dl), then run this again" >&2
  exit 1
else
  bash scripts/install-tools.sh
fi
echo "prerequisites installed"
