import { createHmac } from 'node:crypto';
import { MINIO_METRICS_USER, type SecretKey } from '../contract/index.js';

/**
 * The bearer token MinIO accepts on its metrics endpoints (MINIO_PROMETHEUS_AUTH_TYPE=jwt) for a user: an HS512
 * JWT `{ sub: <access key>, iss: "prometheus", exp }` signed with the user's secret key, what
 * `mc admin prometheus generate` prints. The user needs admin:Prometheus and nothing else. Deterministic (a fixed
 * expiry, 2100-01-01), so the local set-ups derive the same token from the same key on every run: rotating the
 * key rotates the token. Three HMAC lines; jose signs only asynchronously and the secret files are written
 * synchronously.
 */
export function minioMetricsToken(secretKey: string, accessKey = MINIO_METRICS_USER): string {
  const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const body = `${part({ alg: 'HS512', typ: 'JWT' })}.${part({ exp: 4102444800, sub: accessKey, iss: 'prometheus' })}`;
  return `${body}.${createHmac('sha512', secretKey).update(body).digest('base64url')}`;
}

/**
 * The secrets the local set-ups derive from another rather than generate: each follows its source (a rotated
 * key rotates its token), in `.env` and in the local platform alike.
 */
export const DERIVED_SECRETS: readonly { key: SecretKey; from: SecretKey; derive: (from: string) => string }[] = [
  { key: 'minio-metrics-token', from: 'minio-metrics-secret-key', derive: (key) => minioMetricsToken(key) },
];
