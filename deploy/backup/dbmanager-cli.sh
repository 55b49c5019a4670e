# shellcheck shell=bash
# Sourced by backup.sh and restore.sh: runs the DB manager's CLI wherever the DB manager is.
# The entry point is DBMANAGER_CLI.entry of infra/contract/commands.ts.
#   PRISM_BACKUP_MODE=compose  (default when a Docker engine answers) `docker compose exec` into the running
#                              dbmanager container, or `docker compose run --rm dbmanager` when it is not up;
#                              the compose files, project and .env are those of the Makefile.
#   PRISM_BACKUP_MODE=local    (default otherwise: no docker, or a docker CLI with no engine behind it) the CLI from this checkout with tsx; the PRISM_*
#                              variables of the dbmanager (databases, PRISM_S3_*) come from the environment,
#                              or, when they are not set, from the local platform of npm run local:up
#                              (PRISM_LOCAL_DIR, default .prism-local).
#   PRISM_BACKUP_MODE=kubernetes  `kubectl exec` into deploy/dbmanager (namespace: PRISM_NAMESPACE, default prism).
# Secrets never pass on a command line: the CLI reads them from its own environment.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CLI_ENTRY=(node build/services/dbmanager/src/cli.js)

dbmanager_cli() {
  local mode=${PRISM_BACKUP_MODE:-}
  if [ -z "$mode" ]; then
    # The Compose plugin alone proves nothing: the engine must answer (docker info), or nothing runs there.
    if command -v docker >/dev/null 2>&1 && docker compose version >/dev/null 2>&1 && docker info >/dev/null 2>&1; then mode=compose; else mode=local; fi
    echo "dbmanager-cli: PRISM_BACKUP_MODE=$mode (not set; $([ $mode = compose ] && echo 'a Docker engine answers' || echo 'no Docker engine answers'))" >&2
  fi
  case "$mode" in
    compose)
      local dir="$ROOT/deploy/docker-compose"
      local project
      project=$(sed -n 's/^PRISM_COMPOSE_PROJECT := //p' "$dir/services.mk")
      local compose=(docker compose --project-name "$project" --project-directory "$dir" --env-file "$dir/.env" -f "$dir/docker-compose.yml" -f "$dir/docker-compose.infra.yml")
      if [ -n "$("${compose[@]}" ps -q --status running dbmanager 2>/dev/null)" ]; then
        "${compose[@]}" exec -T dbmanager "${CLI_ENTRY[@]}" "$@"
      else
        # The image's entry point is the CLI: the arguments are its command.
        "${compose[@]}" run --rm -T dbmanager "$@"
      fi
      ;;
    kubernetes)
      kubectl -n "${PRISM_NAMESPACE:-prism}" exec -i deploy/dbmanager -- "${CLI_ENTRY[@]}" "$@"
      ;;
    local)
      local state=${PRISM_LOCAL_DIR:-$ROOT/.prism-local}
      if [ -z "${PRISM_AUTH_DB_HOST:-}" ] && [ ! -f "$state/state.json" ]; then
        echo "dbmanager-cli: no local platform in $state (start it: npm run local:up), and no PRISM_* database settings in the environment;" >&2
        echo "  with Docker: start the engine and the stack (make docker-up), or set PRISM_BACKUP_MODE=compose|local|kubernetes" >&2
        return 1
      fi
      if [ -z "${PRISM_AUTH_DB_HOST:-}" ]; then
        (cd "$ROOT" && node_modules/.bin/tsx infra/cli/local-platform.ts exec dbmanager --dir "$state" -- \
          node --import tsx services/dbmanager/src/cli.ts "$@")
      else
        (cd "$ROOT" && node_modules/.bin/tsx services/dbmanager/src/cli.ts "$@")
      fi
      ;;
    *)
      echo "PRISM_BACKUP_MODE must be compose, local or kubernetes, got \"$mode\"" >&2
      return 2
      ;;
  esac
}
