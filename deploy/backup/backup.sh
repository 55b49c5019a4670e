#!/usr/bin/env bash
# Backups of Prism's databases, taken by the DB manager (services/dbmanager) into the S3 bucket.
#   ./deploy/backup/backup.sh <auth|ops> full    pg_basebackup (SHA-256 manifest), checked with pg_verifybackup, then stored
#   ./deploy/backup/backup.sh <auth|ops> delta   a base backup storing only the files changed since the previous one
#   ./deploy/backup/backup.sh <auth|ops> wal     store all WAL written until now (the DB manager also archives continuously)
#   ./deploy/backup/backup.sh list [auth|ops] [--from in-cluster|offsite]
#                                                backups with size, time and WAL range; with --from, read
#                                                from that store's objects (when the catalog is lost)
# Where the DB manager runs (compose, local, kubernetes): see dbmanager-cli.sh beside this file.
set -euo pipefail
. "$(dirname "$0")/dbmanager-cli.sh"

usage() {
  echo "usage: $0 <auth|ops> <full|delta|wal> | $0 list [auth|ops] [--from in-cluster|offsite]" >&2
  exit 2
}

case "${1:-}" in
  list)
    shift
    args=()
    while [ $# -gt 0 ]; do
      case "$1" in
        auth|ops) args+=("$1") ;;
        --from) [ $# -ge 2 ] || usage; args+=(--from "$2"); shift ;;
        --from=*) args+=("$1") ;;
        *) usage ;;
      esac
      shift
    done
    dbmanager_cli backup list ${args[@]+"${args[@]}"}
    ;;
  auth|ops)
    [ $# -eq 2 ] || usage
    case "$2" in full|delta|wal) ;; *) echo "backup kind must be full, delta or wal, got \"$2\"" >&2; usage ;; esac
    dbmanager_cli backup "$1" "$2"
    ;;
  *) usage ;;
esac
