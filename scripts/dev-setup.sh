#!/usr/bin/env bash
# make dev-setup: the guide's six steps.
#   1. check prerequisites   2. create .env with generated passwords   3. generate the JWT keys
#   4. start the infrastructure   5. run the database migrations   6. build the services
# --local-only runs steps 1-3 without Docker (prerequisites other than Docker, .env, keys).
# Safe to re-run: .env and keys are never overwritten.
set -euo pipefail
cd "$(dirname "$0")/.."

LOCAL_ONLY=0
case "${1:-}" in
  "") ;;
  --local-only) LOCAL_ONLY=1 ;;
  *) echo "usage: scripts/dev-setup.sh [--local-only]" >&2; exit 2 ;;
esac

NODE_MIN=24
COMPOSE_MIN=2.20
MAKE_CMD="${MAKE:-make}"

step() { printf '\n==> %s\n' "$*"; }

# "a.b.c" >= "x.y" ?
version_at_least() {
  local have="$1" want="$2"
  [ "$(printf '%s\n%s\n' "$want" "$have" | sort -V | head -n1)" = "$want" ]
}

step "1/6 Checking prerequisites"
missing=()
if ! command -v node >/dev/null 2>&1; then
  missing+=("node: Node.js ${NODE_MIN} or later is needed to generate .env and the JWT keys (https://nodejs.org)")
else
  node_version="$(node -p 'process.versions.node')"
  version_at_least "$node_version" "$NODE_MIN" || missing+=("node: found ${node_version}, need ${NODE_MIN} or later (https://nodejs.org)")
fi
command -v npm >/dev/null 2>&1 || missing+=("npm: comes with Node.js; installs the tools that render and generate files")
command -v "$MAKE_CMD" >/dev/null 2>&1 || missing+=("make: GNU Make runs the docker-* targets")
if [ "$LOCAL_ONLY" = 0 ]; then
  if ! command -v docker >/dev/null 2>&1; then
    missing+=("docker: install Docker Engine or Docker Desktop (https://docs.docker.com/get-docker/)")
  elif ! compose_version="$(docker compose version --short 2>/dev/null)"; then
    missing+=("docker compose: the Compose v2 plugin is not installed (https://docs.docker.com/compose/install/); the old docker-compose v1 is not enough")
  else
    compose_version="${compose_version#v}"
    version_at_least "$compose_version" "$COMPOSE_MIN" || missing+=("docker compose: found ${compose_version}, need ${COMPOSE_MIN} or later")
    docker info >/dev/null 2>&1 || missing+=("docker engine: not reachable (docker info failed); start Docker Desktop or the docker service")
  fi
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "Missing prerequisites:" >&2
  printf '  - %s\n' "${missing[@]}" >&2
  if [[ "${missing[*]}" == *docker* ]]; then
    echo "Without Docker, the whole platform runs as local processes: make local-up (npm run local:up; README, \"Run it locally without Docker\")," >&2
    echo "and backups go to it: make backup-list picks PRISM_BACKUP_MODE=local when no Docker engine answers." >&2
  fi
  exit 1
fi
echo "ok"

if [ ! -x node_modules/.bin/tsx ]; then
  step "Installing npm dependencies"
  npm ci --no-audit --no-fund
fi

step "2/6 Creating deploy/docker-compose/.env"
node_modules/.bin/tsx infra/cli/local.ts env

step "3/6 Generating the JWT keys"
node_modules/.bin/tsx infra/cli/local.ts keys

if [ "$LOCAL_ONLY" = 1 ]; then
  printf '\nLocal files are ready (--local-only: Docker steps skipped).\n'
  exit 0
fi

step "4/6 Starting the infrastructure"
"$MAKE_CMD" --no-print-directory docker-infra-up

step "5/6 Running the database migrations"
"$MAKE_CMD" --no-print-directory docker-migrate

step "6/6 Building the services"
"$MAKE_CMD" --no-print-directory docker-build

cat <<'DONE'

Done. Next:
  make docker-up        start gateway, auth, config, dbmanager
  make docker-obs-up    start Prometheus, Jaeger, Loki, Grafana
  make docker-full-up   everything, with Traefik on https://localhost
DONE
