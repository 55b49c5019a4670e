#!/usr/bin/env bash
# Installs, on Debian, everything the tests and the local platform (npm run local:up) need; the one
# script .ci/run uses too. Run as root (sudo). Skips what is already there.
#   apt-get   postgresql (server and backup tools), redis-server, nats-server, prometheus (promtool's
#             dependencies), shellcheck, curl, make, openssl, golang (for the tools below, when no go)
#   Node.js   24, from PyPI (scripts/install-node.sh)
#   go install kube-score, upstream promtool, minio and mc, actionlint (scripts/install-tools.sh)
# The distribution's own database and cache services are stopped: the tests and the local platform
# start their own instances on free ports.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive

echo "== OS packages"
need=()
for cmd in pg_ctlcluster:postgresql redis-server:redis-server nats-server:nats-server promtool:prometheus curl:curl make:make openssl:openssl shellcheck:shellcheck python3:python3; do
  command -v "${cmd%%:*}" >/dev/null 2>&1 || need+=("${cmd##*:}")
done
command -v go >/dev/null 2>&1 || [ -x /usr/local/go/bin/go ] || need+=(golang)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
for svc in postgresql redis-server nats-server prometheus; do
  (command -v systemctl >/dev/null && systemctl stop "$svc" 2>/dev/null) || true
done

echo "== Node.js 24"
bash scripts/install-node.sh
hash -r

echo "== Go tools (kube-score, upstream promtool, minio, mc, actionlint)"
PATH="$PATH:/usr/local/go/bin" bash scripts/install-tools.sh
