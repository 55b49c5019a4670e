#!/bin/sh
# Rendered from the Prism platform model. Idempotent: safe to run on every deploy.
set -eu
: "${MINIO_ROOT_USER:?MINIO_ROOT_USER is required}"
: "${MINIO_ROOT_PASSWORD:?MINIO_ROOT_PASSWORD is required}"
: "${MINIO_BACKUP_SECRET_KEY:?MINIO_BACKUP_SECRET_KEY is required}"
: "${MINIO_METRICS_SECRET_KEY:?MINIO_METRICS_SECRET_KEY is required}"
: "${BACKUP_RETENTION_DAYS:?BACKUP_RETENTION_DAYS is required}"
# The client keeps its aliases (with the root credentials) here: a private directory where one is given.
export MC_CONFIG_DIR="${MC_CONFIG_DIR:-/tmp/.mc}"
# Keys go to mc on stdin, never as arguments: a generated key may begin with "-" (mc would read it
# as a flag), and arguments are visible to every process that can list this one's command line.
until printf '%s\n%s\n' "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD" | mc alias set prism "http://minio:9000" >/dev/null 2>&1; do
  echo "waiting for MinIO at http://minio:9000"; sleep 2
done
# Object lock can only be chosen when a bucket is made: a bucket made without it is reported, not reused.
mc mb --ignore-existing --with-lock "prism/prism-backups"
mc version enable "prism/prism-backups"
mc retention set --default GOVERNANCE "${BACKUP_RETENTION_DAYS}d" "prism/prism-backups" || {
  echo "bucket prism-backups has no object lock: copy its objects to a bucket this script creates (mc mirror), then remove it" >&2; exit 1
}
mc ilm import "prism/prism-backups" <<'EOF'
{"Rules":[{"ID":"prism-backup-retention","Status":"Enabled","Filter":{"Prefix":""},"NoncurrentVersionExpiration":{"NoncurrentDays":1},"Expiration":{"ExpiredObjectDeleteMarker":true}}]}
EOF
mc admin policy create prism prism-backup "/etc/minio-setup/backup-policy.json"
printf '%s\n%s\n' "prism-backup" "$MINIO_BACKUP_SECRET_KEY" | mc admin user add prism
mc admin policy attach prism prism-backup --user "prism-backup" 2>/dev/null || true
# Prometheus's identity: its token (derived from this key) reads the metrics and nothing else.
mc admin policy create prism prism-metrics "/etc/minio-setup/metrics-policy.json"
printf '%s\n%s\n' "prism-metrics" "$MINIO_METRICS_SECRET_KEY" | mc admin user add prism
mc admin policy attach prism prism-metrics --user "prism-metrics" 2>/dev/null || true
echo "bucket prism-backups, users prism-backup and prism-metrics are ready"
