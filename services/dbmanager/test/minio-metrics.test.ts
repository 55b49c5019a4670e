import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { minioMetricsToken } from '#infra/local/minio-token';
import { loadStack } from '#infra/config/index';
import { buildPlatform, component } from '#infra/model/index';
import { provisionBucket } from './s3-support.js';

/**
 * MinIO's metrics behind a bearer token (issue 22 item 20), against the real MinIO set up by the model's own
 * script: the metrics endpoints refuse anyone without the metrics user's token, and that user's key reads no
 * backup. The deployments' MinIO ran with MINIO_PROMETHEUS_AUTH_TYPE=public: every path below answered anyone.
 */
let s3: Awaited<ReturnType<typeof provisionBucket>>;
const PATHS = ['/minio/v2/metrics/cluster', '/minio/v2/metrics/node', '/minio/v2/metrics/bucket'];
const get = (path: string, token?: string) =>
  fetch(`${s3.config.endpoint}${path}`, token ? { headers: { authorization: `Bearer ${token}` } } : {});

beforeAll(async () => {
  s3 = await provisionBucket();
});
afterAll(() => s3?.cleanup());

describe("MinIO's metrics", () => {
  it('the model runs MinIO with token-only metrics and gives Prometheus the token, in every environment', () => {
    for (const env of ['dev', 'staging', 'prod']) {
      const p = buildPlatform(env, loadStack('stacks', env).config);
      const minio = component(p, 'minio');
      expect(minio.env.MINIO_PROMETHEUS_AUTH_TYPE, env).toEqual({ value: 'jwt' });
      expect(minio.metricsToken, env).toBe('minio-metrics-token');
      expect(component(p, 'prometheus').secretFiles?.items, env).toContainEqual({
        secret: 'minio-metrics-token',
        file: 'minio-metrics-token',
      });
    }
  });

  it.each(PATHS)('%s: refused without a token, with a forged one, and with another user’s', async (path) => {
    expect((await get(path)).status).toBe(403);
    expect((await get(path, minioMetricsToken('not the key', s3.metrics.user))).status).toBe(403);
    // A correctly signed token of a user without admin:Prometheus (the backup user's own key).
    expect((await get(path, minioMetricsToken(s3.config.secretAccessKey, s3.config.accessKeyId))).status).toBe(403);
  });

  it.each(PATHS)("%s: served for the metrics user's token", async (path) => {
    const res = await get(path, minioMetricsToken(s3.metrics.secretKey, s3.metrics.user));
    expect(res.status).toBe(200);
    expect(await res.text()).toMatch(/^minio_\w+/m);
  });

  it("the metrics user's key reads, lists and writes no backup", async () => {
    await new S3Client({
      endpoint: s3.config.endpoint,
      region: s3.config.region,
      forcePathStyle: true,
      credentials: { accessKeyId: s3.config.accessKeyId, secretAccessKey: s3.config.secretAccessKey },
    }).send(new PutObjectCommand({ Bucket: s3.config.bucket, Key: 'auth/backup', Body: 'data' }));
    const metrics = new S3Client({
      endpoint: s3.config.endpoint,
      region: s3.config.region,
      forcePathStyle: true,
      credentials: { accessKeyId: s3.metrics.user, secretAccessKey: s3.metrics.secretKey },
      maxAttempts: 1,
    });
    const denied = { name: 'AccessDenied' };
    await expect(metrics.send(new ListObjectsV2Command({ Bucket: s3.config.bucket }))).rejects.toMatchObject(denied);
    await expect(
      metrics.send(new GetObjectCommand({ Bucket: s3.config.bucket, Key: 'auth/backup' })),
    ).rejects.toMatchObject(denied);
    await expect(
      metrics.send(new PutObjectCommand({ Bucket: s3.config.bucket, Key: 'x', Body: 'x' })),
    ).rejects.toMatchObject(denied);
  });
});
