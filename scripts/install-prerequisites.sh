#!/usr/bin/env bash
# Installs, on Debian, everything the tests and the local platform need; `.ci/run` runs it. Idempotent:
# what is there is kept. Needs root (apt-get, /usr/local/bin) and Go (https://go.dev/dl) for the Go tools.
#   apt         postgresql, redis-server, nats-server, prometheus (promtool), prometheus-alertmanager, curl, make, openssl, git,
#               etcd-server (the local deploy test's control plane: scripts/local-cluster.sh),
#               python3-venv (Node.js 24 comes from PyPI into a virtual environment) and the shell linter;
#               buildah, podman, runc, debootstrap (the image test: scripts/image-test.sh), with their recommended
#               helpers (container networking, fuse-overlayfs), as proven here
#   Node.js 24  scripts/install-node.sh (node, npm, npx in /usr/local/bin)
#   Go tools    scripts/install-tools.sh: kube-score, upstream promtool, minio, mc, actionlint, Jaeger v2
# The distribution's own server instances are stopped: tests and the local platform start their own.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive

if [ "$(id -u)" != 0 ]; then
  echo "install-prerequisites: run as root (apt-get, /usr/local/bin), e.g. sudo bash $0" >&2
  exit 1
fi

echo "== OS packages"
need=()
for cmd in pg_ctlcluster:postgresql redis-server:redis-server nats-server:nats-server promtool:prometheus amtool:prometheus-alertmanager curl:curl \
  make:make openssl:openssl shellcheck:shellcheck git:git etcd:etcd-server; do
  command -v "${cmd%%:*}" >/dev/null 2>&1 || need+=("${cmd##*:}")
done
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || need+=(python3-venv)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
image_tools=()
for cmd in buildah podman runc debootstrap; do command -v "$cmd" >/dev/null 2>&1 || image_tools+=("$cmd"); done
if [ ${#image_tools[@]} -gt 0 ]; then
  [ ${#need[@]} -gt 0 ] || apt-get update -qq
  apt-get install -y -qq "${image_tools[@]}" >/dev/null
fi
for svc in postgresql redis-server nats-server prometheus prometheus-alertmanager etcd; do
  (command -v systemctl >/dev/null && systemctl stop "$svc" 2>/dev/null) || true
done

echo "== Node.js 24"
bash scripts/install-node.sh
hash -r

echo "== Go tools (kube-score, upstream promtool, minio, mc, actionlint, Jaeger v2)"
if ! command -v go >/dev/null 2>&1; then
  echo "install-prerequisites: go not found: install Go 1.24 or later (https://go.dev/dl), then run this again" >&2
  exit 1
fi
bash scripts/install-tools.sh
echo "prerequisites installed"
