/**
 * The one-shot MinIO set-up: the backup bucket, and a least-privilege user whose policy
 * reaches that bucket only. Credentials come from the environment, never from this file.
 *
 * The backup user may write, read and delete objects, but a delete only adds a delete marker: the
 * bucket has object lock with a default GOVERNANCE retention of `backups.retentionDays`, so no
 * version can be removed before it is that old (the user has no bypass right, and every right over
 * versions, retention, lifecycle and the bucket itself is denied outright). The store itself frees the
 * space: its lifecycle rule removes versions a day after they stopped being current (never before
 * their retention ends) and the delete markers left alone.
 */

/** Rights over history and the bucket's rules, denied even if another policy granted them. */
const DENIED_OBJECT_ACTIONS = [
  's3:DeleteObjectVersion',
  's3:BypassGovernanceRetention',
  's3:PutObjectRetention',
  's3:PutObjectLegalHold',
];
const DENIED_BUCKET_ACTIONS = [
  's3:PutBucketObjectLockConfiguration',
  's3:PutLifecycleConfiguration',
  's3:PutBucketVersioning',
  's3:PutBucketPolicy',
  's3:DeleteBucket',
];

/** The store's own retention: versions no longer current go a day later (object lock holds them until their retention ends). */
const LIFECYCLE = {
  Rules: [
    {
      ID: 'prism-backup-retention',
      Status: 'Enabled',
      Filter: { Prefix: '' },
      NoncurrentVersionExpiration: { NoncurrentDays: 1 },
      Expiration: { ExpiredObjectDeleteMarker: true },
    },
  ],
};

export function minioBucketPolicy(bucket: string): string {
  return `${JSON.stringify(
    {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Action: ['s3:GetBucketLocation', 's3:ListBucket', 's3:ListBucketMultipartUploads'],
          Resource: [`arn:aws:s3:::${bucket}`],
        },
        {
          Effect: 'Allow',
          Action: [
            's3:GetObject',
            's3:PutObject',
            's3:DeleteObject',
            's3:AbortMultipartUpload',
            's3:ListMultipartUploadParts',
          ],
          Resource: [`arn:aws:s3:::${bucket}/*`],
        },
        { Effect: 'Deny', Action: DENIED_OBJECT_ACTIONS, Resource: [`arn:aws:s3:::${bucket}/*`] },
        { Effect: 'Deny', Action: DENIED_BUCKET_ACTIONS, Resource: [`arn:aws:s3:::${bucket}`] },
      ],
    },
    null,
    2,
  )}\n`;
}

/** The metrics user's policy: reading the Prometheus metrics with its token, nothing of any bucket. */
export const MINIO_METRICS_POLICY = `${JSON.stringify(
  { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['admin:Prometheus'] }] },
  null,
  2,
)}\n`;

export function minioSetupScript(o: {
  readonly endpoint: string;
  readonly bucket: string;
  readonly backupUser: string;
  readonly policyFile: string;
  readonly metricsUser: string;
  readonly metricsPolicyFile: string;
}): string {
  return `#!/bin/sh
# Rendered from the Prism platform model. Idempotent: safe to run on every deploy.
set -eu
: "\${MINIO_ROOT_USER:?MINIO_ROOT_USER is required}"
: "\${MINIO_ROOT_PASSWORD:?MINIO_ROOT_PASSWORD is required}"
: "\${MINIO_BACKUP_SECRET_KEY:?MINIO_BACKUP_SECRET_KEY is required}"
: "\${MINIO_METRICS_SECRET_KEY:?MINIO_METRICS_SECRET_KEY is required}"
: "\${BACKUP_RETENTION_DAYS:?BACKUP_RETENTION_DAYS is required}"
# The client keeps its aliases (with the root credentials) here: a private directory where one is given.
export MC_CONFIG_DIR="\${MC_CONFIG_DIR:-/tmp/.mc}"
# Keys go to mc on stdin, never as arguments: a generated key may begin with "-" (mc would read it
# as a flag), and arguments are visible to every process that can list this one's command line.
until printf '%s\\n%s\\n' "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD" | mc alias set prism "${o.endpoint}" >/dev/null 2>&1; do
  echo "waiting for MinIO at ${o.endpoint}"; sleep 2
done
# Object lock can only be chosen when a bucket is made: a bucket made without it is reported, not reused.
mc mb --ignore-existing --with-lock "prism/${o.bucket}"
mc version enable "prism/${o.bucket}"
mc retention set --default GOVERNANCE "\${BACKUP_RETENTION_DAYS}d" "prism/${o.bucket}" || {
  echo "bucket ${o.bucket} has no object lock: copy its objects to a bucket this script creates (mc mirror), then remove it" >&2; exit 1
}
mc ilm import "prism/${o.bucket}" <<'EOF'
${JSON.stringify(LIFECYCLE)}
EOF
mc admin policy create prism prism-backup "${o.policyFile}"
printf '%s\\n%s\\n' "${o.backupUser}" "$MINIO_BACKUP_SECRET_KEY" | mc admin user add prism
mc admin policy attach prism prism-backup --user "${o.backupUser}" 2>/dev/null || true
# Prometheus's identity: its token (derived from this key) reads the metrics and nothing else.
mc admin policy create prism prism-metrics "${o.metricsPolicyFile}"
printf '%s\\n%s\\n' "${o.metricsUser}" "$MINIO_METRICS_SECRET_KEY" | mc admin user add prism
mc admin policy attach prism prism-metrics --user "${o.metricsUser}" 2>/dev/null || true
echo "bucket ${o.bucket}, users ${o.backupUser} and ${o.metricsUser} are ready"
`;
}
