import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  ListObjectVersionsCommand,
  PutBucketLifecycleConfigurationCommand,
  PutObjectCommand,
  PutObjectRetentionCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StorageConfig } from '../src/storage/object-store.js';
import { provisionBucket } from './s3-support.js';

/**
 * The backup user's credentials in an attacker's hands, against the real MinIO set up by the model's
 * own script: history cannot be destroyed, only hidden, and the store keeps every version for the
 * retention period whatever that user asks.
 */
let s3: Awaited<ReturnType<typeof provisionBucket>>;
let user: S3Client;
let root: S3Client;

const client = (c: StorageConfig) =>
  new S3Client({
    endpoint: c.endpoint,
    region: c.region,
    forcePathStyle: true,
    credentials: { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey },
    maxAttempts: 1,
  });
const text = async (c: S3Client, Bucket: string, Key: string, VersionId: string) =>
  (await c.send(new GetObjectCommand({ Bucket, Key, VersionId }))).Body!.transformToString();

beforeAll(async () => {
  s3 = await provisionBucket();
  user = client(s3.config);
  root = client({
    ...s3.config,
    accessKeyId: process.env.PRISM_TEST_MINIO_ROOT_USER!,
    secretAccessKey: process.env.PRISM_TEST_MINIO_ROOT_PASSWORD!,
  });
});

afterAll(async () => {
  user?.destroy();
  root?.destroy();
  await s3?.cleanup();
});

describe('attack: the backup user destroys the backups', () => {
  it('cannot delete an object version (DeleteObject and DeleteObjects with versionId), even asking to bypass governance; the data survives', async () => {
    const Bucket = s3.config.bucket;
    const Key = 'auth/base/20260101T000000Z/backup.json';
    await user.send(new PutObjectCommand({ Bucket, Key, Body: '{"precious":true}' }));
    const versions = await root.send(new ListObjectVersionsCommand({ Bucket, Prefix: Key }));
    const VersionId = versions.Versions![0]!.VersionId!;

    await expect(user.send(new DeleteObjectCommand({ Bucket, Key, VersionId }))).rejects.toThrow(
      /Access Denied|AccessDenied/,
    );
    await expect(
      user.send(new DeleteObjectCommand({ Bucket, Key, VersionId, BypassGovernanceRetention: true })),
    ).rejects.toThrow(/Access Denied|AccessDenied/);
    const batch = await user.send(new DeleteObjectsCommand({ Bucket, Delete: { Objects: [{ Key, VersionId }] } }));
    expect(batch.Errors?.[0]?.Code).toBe('AccessDenied');
    expect(batch.Deleted ?? []).toEqual([]);
    // Nor shorten the version's retention, nor replace the store's lifecycle rule.
    await expect(
      user.send(
        new PutObjectRetentionCommand({
          Bucket,
          Key,
          VersionId,
          Retention: { Mode: 'GOVERNANCE', RetainUntilDate: new Date(Date.now() + 1000) },
        }),
      ),
    ).rejects.toThrow();
    await expect(
      user.send(
        new PutBucketLifecycleConfigurationCommand({
          Bucket,
          LifecycleConfiguration: {
            Rules: [{ ID: 'wipe', Status: 'Enabled', Filter: { Prefix: '' }, Expiration: { Days: 1 } }],
          },
        }),
      ),
    ).rejects.toThrow(/Access Denied|AccessDenied/);

    // A plain delete only hides the object behind a delete marker; the version is still there.
    await user.send(new DeleteObjectCommand({ Bucket, Key }));
    expect(await text(root, Bucket, Key, VersionId)).toBe('{"precious":true}');
  });

  it('the store holds every version for the retention period: even the root user cannot delete one without the governance bypass', async () => {
    const Bucket = s3.config.bucket;
    const Key = 'ops/wal/0000000100000000000000AA';
    await user.send(new PutObjectCommand({ Bucket, Key, Body: 'wal' }));
    const VersionId = (await root.send(new ListObjectVersionsCommand({ Bucket, Prefix: Key }))).Versions![0]!
      .VersionId!;
    await expect(root.send(new DeleteObjectCommand({ Bucket, Key, VersionId }))).rejects.toThrow(
      /WORM|protected|AccessDenied|Access Denied/i,
    );
    expect(await text(root, Bucket, Key, VersionId)).toBe('wal');
  });
});
