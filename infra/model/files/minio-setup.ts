/**
 * The one-shot MinIO set-up: the backup bucket, and a least-privilege user whose policy
 * reaches that bucket only. Credentials come from the environment, never from this file.
 */
export function minioBucketPolicy(bucket: string): string {
  return `${JSON.stringify(
    {
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Action: ['s3:GetBucketLocation', 's3:ListBucket', 's3:ListBucketMultipartUploads'], Resource: [`arn:aws:s3:::${bucket}`] },
        {
          Effect: 'Allow',
          Action: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts'],
          Resource: [`arn:aws:s3:::${bucket}/*`],
        },
      ],
    },
    null,
    2,
  )}\n`;
}

export function minioSetupScript(o: { readonly endpoint: string; readonly bucket: string; readonly backupUser: string; readonly policyFile: string }): string {
  return `#!/bin/sh
# Rendered from the Prism platform model. Idempotent: safe to run on every deploy.
set -eu
: "\${MINIO_ROOT_USER:?MINIO_ROOT_USER is required}"
: "\${MINIO_ROOT_PASSWORD:?MINIO_ROOT_PASSWORD is required}"
: "\${MINIO_BACKUP_SECRET_KEY:?MINIO_BACKUP_SECRET_KEY is required}"
# The client keeps its aliases (with the root credentials) here: a private directory where one is given.
export MC_CONFIG_DIR="\${MC_CONFIG_DIR:-/tmp/.mc}"
until mc alias set prism "${o.endpoint}" "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD" >/dev/null 2>&1; do
  echo "waiting for MinIO at ${o.endpoint}"; sleep 2
done
mc mb --ignore-existing "prism/${o.bucket}"
mc version enable "prism/${o.bucket}"
mc admin policy create prism prism-backup "${o.policyFile}"
mc admin user add prism "${o.backupUser}" "$MINIO_BACKUP_SECRET_KEY"
mc admin policy attach prism prism-backup --user "${o.backupUser}" 2>/dev/null || true
echo "bucket ${o.bucket} and user ${o.backupUser} are ready"
`;
}
