#!/usr/bin/env bash
# Restores a backup of a Prism database with the DB manager (services/dbmanager).
#   ./deploy/backup/restore.sh <auth|ops> <BACKUP_NAME> --dry-run [--target-time T]
#       verifies the backup against object storage (every file against the manifest's SHA-256, every
#       WAL segment's checksum and header, WAL continuity up to the target) and writes nothing
#   ./deploy/backup/restore.sh <auth|ops> <BACKUP_NAME> [--target-time T] [--target-dir DIR]
#   ... [--from offsite]   read the backup from the off-site store alone (the in-cluster store is lost)
#       restores into a fresh data directory, runs pg_verifybackup, replays WAL to the target time
#       (default: the end of the archived WAL) on a private server and reads every row back before
#       declaring it done; the summary says how to put the directory in place
# T is ISO 8601 (2026-11-25T17:00:00Z). Backup names: ./deploy/backup/backup.sh list
set -euo pipefail
. "$(dirname "$0")/dbmanager-cli.sh"

usage() {
  echo "usage: $0 <auth|ops> <BACKUP_NAME> [--dry-run] [--target-time T] [--target-dir DIR] [--from in-cluster|offsite]" >&2
  exit 2
}

[ $# -ge 2 ] || usage
case "$1" in auth|ops) ;; *) echo "database must be auth or ops, got \"$1\"" >&2; usage ;; esac
db=$1 name=$2
shift 2
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) args+=(--dry-run) ;;
    --target-time|--target-dir|--from)
      [ $# -ge 2 ] || { echo "$1 needs a value" >&2; usage; }
      args+=("$1" "$2"); shift ;;
    --target-time=*|--target-dir=*|--from=*) args+=("$1") ;;
    *) echo "unknown option $1" >&2; usage ;;
  esac
  shift
done
dbmanager_cli restore "$db" "$name" ${args[@]+"${args[@]}"}
