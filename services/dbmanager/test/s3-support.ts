import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { MINIO_METRICS_POLICY, minioBucketPolicy, minioSetupScript } from '#infra/model/files/minio-setup';
import { ObjectStore, type StorageConfig } from '../src/storage/object-store.js';

const exec = promisify(execFile);

function s3Endpoint(): { endpoint: string; rootUser: string; rootPassword: string } {
  const endpoint = process.env.PRISM_TEST_MINIO_ENDPOINT;
  const rootUser = process.env.PRISM_TEST_MINIO_ROOT_USER;
  const rootPassword = process.env.PRISM_TEST_MINIO_ROOT_PASSWORD;
  if (!endpoint || !rootUser || !rootPassword)
    throw new Error('PRISM_TEST_MINIO_* are not set: run the tests through vitest (the test servers include MinIO)');
  return { endpoint, rootUser, rootPassword };
}

/**
 * Runs the platform model's own MinIO set-up script (the one the deployments run) against the test
 * MinIO: a bucket and a user whose policy reaches that bucket only. Returns that user's storage
 * configuration and a root client, which the tests use only to damage objects on purpose.
 */
export async function provisionBucket(): Promise<{
  config: StorageConfig;
  root: ObjectStore;
  otherBucket: string;
  /** The metrics user the script made (admin:Prometheus only) and its secret key. */
  metrics: { user: string; secretKey: string };
  cleanup: () => Promise<void>;
}> {
  const { endpoint, rootUser, rootPassword } = s3Endpoint();
  const suffix = randomBytes(4).toString('hex');
  const bucket = `prism-backups-${suffix}`;
  const user = `prism-backup-${suffix}`;
  // Keys that begin like one of mc's flags (-H): the generator (base64url) makes such keys, and the
  // script once passed them as arguments, which mc refused.
  const secret = `-H${randomBytes(18).toString('base64url')}`;
  const metricsSecret = `-H${randomBytes(18).toString('base64url')}`;
  const dir = await mkdtemp(join(tmpdir(), 'prism-minio-setup-'));
  await writeFile(join(dir, 'backup-policy.json'), minioBucketPolicy(bucket));
  await writeFile(join(dir, 'metrics-policy.json'), MINIO_METRICS_POLICY);
  // The deployments have one policy, prism-backup; test files run in parallel, each with its own
  // bucket, so each names its own policy (nothing else of the script changes).
  const script = minioSetupScript({
    endpoint,
    bucket,
    backupUser: user,
    policyFile: join(dir, 'backup-policy.json'),
    metricsUser: `prism-metrics-${suffix}`,
    metricsPolicyFile: join(dir, 'metrics-policy.json'),
  }).replaceAll('prism prism-backup ', `prism prism-backup-${suffix} `);
  if (!script.includes(`policy create prism prism-backup-${suffix} `))
    throw new Error('the MinIO set-up script no longer names its policy as expected');
  await writeFile(join(dir, 'setup.sh'), script);
  const env = {
    ...process.env,
    MINIO_ROOT_USER: rootUser,
    MINIO_ROOT_PASSWORD: rootPassword,
    MINIO_BACKUP_SECRET_KEY: secret,
    MINIO_METRICS_SECRET_KEY: metricsSecret,
    BACKUP_RETENTION_DAYS: '1',
  };
  await exec('sh', [join(dir, 'setup.sh')], { env });
  // Another bucket the backup user must not reach.
  const otherBucket = `prism-other-${suffix}`;
  await exec('sh', ['-c', `MC_CONFIG_DIR=${tmpdir()}/.mc mc mb --ignore-existing prism/${otherBucket}`], { env });
  const base = { endpoint, region: 'us-east-1' };
  return {
    config: { ...base, bucket, accessKeyId: user, secretAccessKey: secret },
    root: new ObjectStore({ ...base, bucket, accessKeyId: rootUser, secretAccessKey: rootPassword }),
    otherBucket,
    metrics: { user: `prism-metrics-${suffix}`, secretKey: metricsSecret },
    cleanup: async () => {
      await exec(
        'sh',
        [
          '-c',
          `MC_CONFIG_DIR=${tmpdir()}/.mc mc rb --force prism/${bucket} prism/${otherBucket}; MC_CONFIG_DIR=${tmpdir()}/.mc mc admin user remove prism ${user}; MC_CONFIG_DIR=${tmpdir()}/.mc mc admin user remove prism prism-metrics-${suffix}; MC_CONFIG_DIR=${tmpdir()}/.mc mc admin policy remove prism prism-backup-${suffix}`,
        ],
        { env },
      ).catch(() => {});
      await rm(dir, { recursive: true, force: true });
    },
  };
}
