#!/usr/bin/env bash
# Backups of Prism's databases, taken by the DB manager (services/dbmanager) into the S3 bucket.
#   ./deploy/backup/backup.sh <auth|ops> full    pg_basebackup (SHA-256 manifest), checked with pg_verifybackup, then stored
#   ./deploy/backup/backup.sh <auth|ops> delta   a base backup storing only the files changed since the previous one
#   ./deploy/backup/backup.sh <auth|ops> wal     store all WAL written until now (the DB manager also archives continuously)
#   ./deploy/backup/backup.sh list [auth|ops]    backups with size, time and WAL range
# Where the DB manager runs (compose, local, kubernetes): see dbmanager-cli.sh beside this file.
set -euo pipefail
. "$(dirname "$0")/dbmanager-cli.sh"

usage() {
  echo "usage: $0 <auth|ops> <full|delta|wal> | $0 list [auth|ops]" >&2
  exit 2
}

case "${1:-}" in
  list) [ $# -le 2 ] || usage; dbmanager_cli backup list ${2:+"$2"} ;;
  auth|ops)
    [ $# -eq 2 ] || usage
    case "$2" in full|delta|wal) ;; *) echo "backup kind must be full, delta or wal, got \"$2\"" >&2; usage ;; esac
    dbmanager_cli backup "$1" "$2"
    ;;
  *) usage ;;
esac
