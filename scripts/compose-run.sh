#!/usr/bin/env bash
# The dev stack on a real container engine with Docker Compose v2, started with the documented commands:
#   up     make docker-infra-up, make docker-up, the Traefik overlay (the guide's `docker compose -f …` command),
#          then make docker-obs-up, until every service with a health check is healthy; writes .prism-compose/endpoints.json
#          (the format of .prism-local/endpoints.json, addresses through the published ports on 127.0.0.1) and
#          returns, leaving the stack running; the local platform's example upstream (echo) and its two gateway
#          routes come from a generated override (infra/cli/compose-echo.ts), so the journeys have their routes:
#          PRISM_ENDPOINTS_FILE=.prism-compose/endpoints.json npx vitest run test/local-platform/journeys.test.ts
#   journeys  the journeys against the running stack (test/local-platform/journeys.test.ts with
#          PRISM_ENDPOINTS_FILE, and the engine's DOCKER_HOST for the backup scripts)
#   down   removes every container, network and volume of the project, and the engine this script started, then
#          fails if anything of the lane is left (scripts/compose-leftovers.sh: a container, network or volume of
#          the project, a process of the engine or of a container, a mount, a published port still listening)
# The engine, by scripts/toolchain.sh's switch:
#   PRISM_TOOLCHAIN=download   the ordinary Docker engine with its compose plugin (DOCKER_HOST as set), real images
#   PRISM_TOOLCHAIN=source     Compose built from its Go module and podman's Docker API on a socket of its own
#                              (.prism-compose/podman.sock, with its own containers.conf: runc, the ulimits and
#                              unprivileged-port sysctl Docker gives), behind scripts/compose-engine.mjs (podman
#                              4.3's health-check workarounds); stand-in images from scripts/compose-images.sh
# Usage: bash scripts/compose-run.sh up|journeys|down
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
# shellcheck source=scripts/toolchain.sh
. scripts/toolchain.sh
# shellcheck source=scripts/compose-leftovers.sh
. scripts/compose-leftovers.sh
prism_toolchain
STATE=$ROOT/.prism-compose
DIR=deploy/docker-compose
mkdir -p "$STATE"
# Source mode: the stand-ins are tagged name:tag (they cannot have the pinned digests), so every Compose command of
# the lane, the Makefile's included, loads after each file a generated override dropping its digests
# (scripts/compose-standin-refs.mjs); the committed files keep their pins. Download mode runs the files as they are.
nd() { if [ "$PRISM_TOOLCHAIN" = source ]; then echo "-f $STATE/nodigest/${1%.yml}.nodigest.yml"; fi; }
MK_INFRA="-f $DIR/docker-compose.infra.yml $(nd docker-compose.infra.yml)"
# The journeys' example upstream (infra/cli/compose-echo.ts): the echo service and the gateway.yaml with its routes.
ECHO_OVERRIDE=$STATE/echo/echo.override.yml
MK_CORE="-f $DIR/docker-compose.yml $(nd docker-compose.yml) -f $ECHO_OVERRIDE $MK_INFRA"
MK_OBS="-f $DIR/docker-compose.observability.yml $(nd docker-compose.observability.yml)"
MK_EDGE="-f deploy/traefik/docker-compose.traefik.yml $(nd docker-compose.traefik.yml)"
read -ra CORE_FILES <<<"$MK_CORE"
read -ra EDGE_FILES <<<"$MK_CORE $MK_EDGE"
read -ra ALL_FILES <<<"$MK_CORE $MK_EDGE $MK_OBS"
lane_make() { make --no-print-directory INFRA="$MK_INFRA" CORE="$MK_CORE" OBS="$MK_OBS" EDGE="$MK_EDGE" "$@"; }

# The podman service and the shim in front of it, each recorded by PID (down stops exactly those).
engine_up() {
  if [ "$PRISM_TOOLCHAIN" = download ]; then
    docker compose version >/dev/null || { echo "compose-run: download mode: no docker compose plugin" >&2; exit 1; }
    return 0
  fi
  export DOCKER_HOST=unix://$STATE/docker.sock DOCKER_CONFIG=$STATE/docker
  # The log shipper reads the containers' logs from podman's own Docker API (.env's DOCKER_SOCKET names the engine's).
  export DOCKER_SOCKET=$STATE/podman.sock
  # No buildx plugin and no BuildKit image here: Compose builds through the engine's own build API (podman's).
  export COMPOSE_BAKE=false DOCKER_BUILDKIT=0
  require_on_path docker podman runc node
  bash scripts/control-plane-tools.sh docker-compose nats-server consul traefik
  mkdir -p "$DOCKER_CONFIG/cli-plugins"
  ln -sf "$(bash scripts/control-plane-tools.sh --print-path docker-compose)/docker-compose" "$DOCKER_CONFIG/cli-plugins/docker-compose"
  cat >"$STATE/containers.conf" <<'EOF'
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]
default_sysctls = ["net.ipv4.ip_unprivileged_port_start=0"]
[engine]
runtime = "runc"
EOF
  export CONTAINERS_CONF=$STATE/containers.conf
  if ! alive podman; then
    rm -f "$STATE/podman.sock"
    podman system service --time=0 "unix://$STATE/podman.sock" >"$STATE/podman.log" 2>&1 &
    echo $! >"$STATE/podman.pid"
  fi
  if ! alive engine; then
    for _ in $(seq 100); do [ -S "$STATE/podman.sock" ] && break; sleep 0.2; done
    node scripts/compose-engine.mjs "$STATE/docker.sock" "$STATE/podman.sock" >"$STATE/engine.log" 2>&1 &
    echo $! >"$STATE/engine.pid"
  fi
  for _ in $(seq 100); do docker version >/dev/null 2>&1 && break; sleep 0.3; done
  docker version --format 'engine: {{.Server.Version}} (API {{.Server.APIVersion}})'
  docker compose version
  node scripts/compose-standin-refs.mjs overrides "$STATE/nodigest" "$DIR"/docker-compose*.yml \
    deploy/traefik/docker-compose.traefik.yml >/dev/null
  bash scripts/compose-images.sh
}
alive() { [ -f "$STATE/$1.pid" ] && kill -0 "$(cat "$STATE/$1.pid")" 2>/dev/null; }

project() { sed -n 's/^PRISM_COMPOSE_PROJECT := //p' "$DIR/services.mk"; }
compose() {
  docker compose --project-name "$(project)" \
    --project-directory "$DIR" --env-file "$DIR/.env" "$@"
}

lane_files() { node --import ./infra/cli/ts-loader.mjs infra/cli/compose-echo.ts "$STATE/echo"; }

up() {
  local start
  start=$(date +%s)
  engine_up
  lane_files
  lane_make docker-infra-up
  if [ "$PRISM_TOOLCHAIN" = download ]; then
    lane_make docker-up
  else
    # make docker-up's command without --build: the images are compose-images.sh's (podman's build API ran
    # `npm ci` for over 10 minutes here, uncached, where buildah reuses its layers).
    make --no-print-directory keys/private.pem local-certs
    read -ra core <<<"$(sed -n 's/^PRISM_CORE_SERVICES := //p' "$DIR/services.mk")"
    compose "${CORE_FILES[@]}" up -d --wait --wait-timeout 300 "${core[@]}"
  fi
  compose "${CORE_FILES[@]}" up -d --wait --wait-timeout 120 echo
  # The guide's overlay command (make docker-full-up would add the observability stack too); with it the backup
  # scheduler, which `docker compose up` of the files starts and make docker-up does not: its health check is
  # proven too, while the edge's runs (the first at 30 s, its interval).
  COMPOSE_IGNORE_ORPHANS=true compose "${EDGE_FILES[@]}" up -d --wait --wait-timeout 300 edge backup-scheduler
  # The observability stack (make docker-full-up's third file): the journeys read the traces from its Jaeger and the
  # log lines Alloy ships to its Loki.
  lane_make docker-obs-up
  unhealthy=$(docker ps --filter "label=com.docker.compose.project=$(project)" --format '{{.Names}} {{.Status}}' | grep -v '(healthy)' | grep '(' || true)
  [ -z "$unhealthy" ] || { echo "compose-run: not healthy:"$'\n'"$unhealthy" >&2; exit 1; }
  node --import ./infra/cli/ts-loader.mjs infra/cli/compose-endpoints.ts "$STATE/endpoints.json"
  echo "compose-run: up in $(($(date +%s) - start)) s; endpoints: $STATE/endpoints.json"
}

down() {
  export DOCKER_HOST=unix://$STATE/docker.sock DOCKER_CONFIG=$STATE/docker CONTAINERS_CONF=$STATE/containers.conf
  [ "$PRISM_TOOLCHAIN" = source ] || unset DOCKER_HOST DOCKER_CONFIG
  rm -f "$STATE/leftovers"
  if docker version >/dev/null 2>&1 && [ -f "$DIR/.env" ]; then
    leftovers_record "$STATE/leftovers"
    node scripts/compose-standin-refs.mjs overrides "$STATE/nodigest" "$DIR"/docker-compose*.yml \
      deploy/traefik/docker-compose.traefik.yml >/dev/null
    lane_files
    COMPOSE_IGNORE_ORPHANS=true compose "${ALL_FILES[@]}" \
      down --volumes --remove-orphans --timeout 20
  fi
  for p in engine podman; do
    if alive "$p"; then
      kill "$(cat "$STATE/$p.pid")"
      for _ in $(seq 50); do alive "$p" || break; sleep 0.2; done
    fi
    rm -f "$STATE/$p.pid"
  done
  rm -f "$STATE/podman.sock" "$STATE/docker.sock" "$STATE/endpoints.json"
  [ "$PRISM_TOOLCHAIN" = download ] || leftovers_reap "$STATE/leftovers"
  leftovers_check "$STATE/leftovers" "$STATE"
  echo "compose-run: down; nothing of the lane left (containers, networks, volumes, processes, mounts, ports)"
}

journeys() {
  [ -f "$STATE/endpoints.json" ] || { echo "compose-run: not up (no $STATE/endpoints.json)" >&2; exit 1; }
  # The backup journey runs deploy/backup's scripts, which detect the engine: they need the lane's socket and
  # its compose plugin, as every docker command against the lane does.
  [ "$PRISM_TOOLCHAIN" = download ] || export DOCKER_HOST=unix://$STATE/docker.sock DOCKER_CONFIG=$STATE/docker
  PRISM_ENDPOINTS_FILE=$STATE/endpoints.json npx vitest run test/local-platform/journeys.test.ts && return 0
  # A CI log is all there is once down has run: what the services warned of while the journeys ran (a gateway's 503
  # right after a login, once in a CI run of 2026-12-07, left nothing else to read).
  local c
  for c in $(docker ps -aq --filter "label=com.docker.compose.project=$(project)" 2>/dev/null); do
    echo "== $(docker inspect --format '{{.Name}}' "$c"): its last warnings and errors"
    docker logs --tail 500 "$c" 2>&1 | grep -E '"level":"(warn|error|fatal)"|level=(warn|error)|ERR|WRN' | tail -15 | cut -c1-400 || true
  done >&2
  return 1
}

# When up fails: each container of the project that is not running healthy, with its last health checks and log
# lines (a CI log is all there is once down has run).
diagnose() {
  local c state checks
  for c in $(docker ps -aq --filter "label=com.docker.compose.project=$(project)" 2>/dev/null); do
    # The API shim's list shows no health in its status: the inspection has it.
    state=$(docker inspect --format '{{.Name}} {{.State.Status}} {{.State.ExitCode}} {{if .State.Health}}{{.State.Health.Status}}{{end}}' "$c")
    checks=$(docker inspect --format '{{if .State.Health}}{{range .State.Health.Log}}[exit {{.ExitCode}}] {{.Output}} {{end}}{{end}}' "$c" | tr '\n' ' ')
    case ${state#* } in
      "running 0 " | "exited 0 ") continue ;;
      # Healthy by now, but Compose may have given up on it while it was not: its failed checks still say why.
      "running 0 healthy") [[ $checks == *"[exit "[1-9]* ]] || continue ;;
    esac
    echo "== $state: ${checks:0:600}"
    docker logs --tail 20 "$c" 2>&1 | cut -c1-300
  done >&2
}

diagnose_on_failure() {
  local rc=$?
  [ $rc = 0 ] || diagnose
  exit $rc
}

case ${1:-} in
  up)
    trap 'diagnose_on_failure' EXIT
    up
    ;;
  journeys) journeys ;;
  down) down ;;
  *) echo "usage: bash scripts/compose-run.sh up|journeys|down" >&2; exit 2 ;;
esac
