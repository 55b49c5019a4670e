import { DATABASES } from './commands.js';
import { PG_ROLES, PG_SETUP_WORKLOAD, type PgRole } from './postgres.js';

/**
 * The secrets of the platform, by reference only: the model never holds a value.
 * One catalog drives the ExternalSecret objects, the Pulumi secret config keys,
 * Compose's `.env.example` and the local secret generator.
 */

/** The Kubernetes Secret every workload reads from (the guide's `prism-secrets`). */
export const SECRET_NAME = 'prism-secrets';

export type SecretSource =
  /** A strong random password, generated for local set-ups. */
  | 'password'
  /** The JWT signing key pair, from `keys/` (see `make generate-keys`). */
  | 'jwt-private-key'
  | 'jwt-public-key'
  /** Derived: the bearer token MinIO accepts for its metrics user, signed with `minio-metrics-secret-key`. */
  | 'minio-metrics-token'
  /** A Consul ACL token's SecretID: a random UUID (Consul refuses any other form), generated like a password. */
  | 'consul-token'
  /** A value only its owner can give (OAuth client credentials); may stay empty locally. */
  | 'provided';

export interface SecretKeySpec {
  /** Key inside the Kubernetes Secret. */
  readonly key: string;
  /** Variable in Compose's `.env` (the guide's table where it names one). */
  readonly dotenv: string;
  /** Pulumi config key (`pulumi config set --secret prism:<pulumiKey>`). */
  readonly pulumiKey: string;
  readonly description: string;
  readonly source: SecretSource;
}

const spec = (
  key: string,
  dotenv: string,
  pulumiKey: string,
  description: string,
  source: SecretSource,
): SecretKeySpec => ({
  key,
  dotenv,
  pulumiKey,
  description,
  source,
});

export const SECRET_KEYS = [
  spec(
    'postgres-auth-password',
    'POSTGRES_AUTH_PASSWORD',
    'postgresAuthPassword',
    'Auth database superuser password (its server and db-migrate only)',
    'password',
  ),
  spec(
    'postgres-auth-app-password',
    'POSTGRES_AUTH_APP_PASSWORD',
    'postgresAuthAppPassword',
    'Auth database: role prism_auth_app (the auth service)',
    'password',
  ),
  spec(
    'postgres-auth-backup-password',
    'POSTGRES_AUTH_BACKUP_PASSWORD',
    'postgresAuthBackupPassword',
    'Auth database: role prism_auth_backup (replication, for the backup jobs)',
    'password',
  ),
  spec(
    'postgres-auth-monitor-password',
    'POSTGRES_AUTH_MONITOR_PASSWORD',
    'postgresAuthMonitorPassword',
    'Auth database: role prism_auth_monitor (pg_monitor, for its exporter)',
    'password',
  ),
  spec(
    'postgres-ops-password',
    'POSTGRES_OPS_PASSWORD',
    'postgresOpsPassword',
    'Operational database superuser password (its server and db-migrate only)',
    'password',
  ),
  spec(
    'postgres-ops-config-password',
    'POSTGRES_OPS_CONFIG_PASSWORD',
    'postgresOpsConfigPassword',
    'Operational database: role prism_ops_config (the config service)',
    'password',
  ),
  spec(
    'postgres-ops-catalog-password',
    'POSTGRES_OPS_CATALOG_PASSWORD',
    'postgresOpsCatalogPassword',
    "Operational database: role prism_ops_catalog (the DB manager's backup catalogue)",
    'password',
  ),
  spec(
    'postgres-ops-backup-password',
    'POSTGRES_OPS_BACKUP_PASSWORD',
    'postgresOpsBackupPassword',
    'Operational database: role prism_ops_backup (replication, for the backup jobs)',
    'password',
  ),
  spec(
    'postgres-ops-monitor-password',
    'POSTGRES_OPS_MONITOR_PASSWORD',
    'postgresOpsMonitorPassword',
    'Operational database: role prism_ops_monitor (pg_monitor, for its exporter)',
    'password',
  ),
  spec(
    'redis-password',
    'REDIS_PASSWORD',
    'redisPassword',
    'Redis operator password (ACL user prism-admin; no workload holds it)',
    'password',
  ),
  spec(
    'redis-gateway-password',
    'REDIS_GATEWAY_PASSWORD',
    'redisGatewayPassword',
    'Redis password of the gateway (ACL user gateway)',
    'password',
  ),
  spec(
    'redis-auth-password',
    'REDIS_AUTH_PASSWORD',
    'redisAuthPassword',
    'Redis password of auth (ACL user auth)',
    'password',
  ),
  spec(
    'redis-exporter-password',
    'REDIS_EXPORTER_PASSWORD',
    'redisExporterPassword',
    'Redis password of redis_exporter (ACL user exporter, statistics only)',
    'password',
  ),
  spec(
    'gateway-cache-key',
    'GATEWAY_CACHE_KEY',
    'gatewayCacheKey',
    "HMAC key of the gateway's cached API-key validations (Redis never holds it)",
    'password',
  ),
  spec('jwt-private-key', 'JWT_PRIVATE_KEY', 'jwtPrivateKey', 'RS256 signing key (PEM)', 'jwt-private-key'),
  spec('jwt-public-key', 'JWT_PUBLIC_KEY', 'jwtPublicKey', 'RS256 verification key (PEM)', 'jwt-public-key'),
  spec('minio-root-password', 'MINIO_ROOT_PASSWORD', 'minioRootPassword', 'MinIO admin password', 'password'),
  spec(
    'minio-backup-secret-key',
    'MINIO_BACKUP_SECRET_KEY',
    'minioBackupSecretKey',
    'Secret key of the least-privilege backup user',
    'password',
  ),
  spec(
    'minio-metrics-secret-key',
    'MINIO_METRICS_SECRET_KEY',
    'minioMetricsSecretKey',
    'Secret key of the metrics user (admin:Prometheus only)',
    'password',
  ),
  spec(
    'minio-metrics-token',
    'MINIO_METRICS_TOKEN',
    'minioMetricsToken',
    "Prometheus's bearer token for MinIO's metrics (derived from the metrics user's secret key: npm run -s minio-metrics-token < key)",
    'minio-metrics-token',
  ),
  spec(
    'consul-management-token',
    'CONSUL_MANAGEMENT_TOKEN',
    'consulManagementToken',
    "Consul's initial management token (Consul and its set-up task only)",
    'consul-token',
  ),
  spec(
    'consul-gateway-token',
    'CONSUL_GATEWAY_TOKEN',
    'consulGatewayToken',
    "Consul ACL token of the gateway (registers the gateway's name only)",
    'consul-token',
  ),
  spec(
    'consul-auth-token',
    'CONSUL_AUTH_TOKEN',
    'consulAuthToken',
    "Consul ACL token of auth (registers auth's name only)",
    'consul-token',
  ),
  spec(
    'consul-config-token',
    'CONSUL_CONFIG_TOKEN',
    'consulConfigToken',
    'Consul ACL token of the config service (registers its name only)',
    'consul-token',
  ),
  spec(
    'consul-dbmanager-token',
    'CONSUL_DBMANAGER_TOKEN',
    'consulDbmanagerToken',
    'Consul ACL token of the DB manager (registers its name only)',
    'consul-token',
  ),
  spec(
    'consul-metrics-token',
    'CONSUL_METRICS_TOKEN',
    'consulMetricsToken',
    "Prometheus's Consul ACL token (agent read: /v1/agent/metrics only)",
    'consul-token',
  ),
  spec(
    'grafana-admin-password',
    'GRAFANA_ADMIN_PASSWORD',
    'grafanaAdminPassword',
    'Grafana admin password',
    'password',
  ),
  spec('google-client-id', 'GOOGLE_CLIENT_ID', 'googleClientId', 'Google OAuth client ID', 'provided'),
  spec('google-client-secret', 'GOOGLE_CLIENT_SECRET', 'googleClientSecret', 'Google OAuth secret', 'provided'),
  spec('github-client-id', 'GITHUB_CLIENT_ID', 'githubClientId', 'GitHub OAuth client ID', 'provided'),
  spec('github-client-secret', 'GITHUB_CLIENT_SECRET', 'githubClientSecret', 'GitHub OAuth secret', 'provided'),
  spec(
    'alertmanager-slack-api-url',
    'ALERTMANAGER_SLACK_API_URL',
    'alertmanagerSlackApiUrl',
    'Slack incoming-webhook URL of the Slack receivers',
    'provided',
  ),
  spec(
    'alertmanager-pagerduty-routing-key',
    'ALERTMANAGER_PAGERDUTY_ROUTING_KEY',
    'alertmanagerPagerdutyRoutingKey',
    'PagerDuty Events API v2 routing key of the PagerDuty receivers',
    'provided',
  ),
  spec(
    'alertmanager-smtp-password',
    'ALERTMANAGER_SMTP_PASSWORD',
    'alertmanagerSmtpPassword',
    'SMTP password of the e-mail receivers',
    'provided',
  ),
  spec(
    'backup-offsite-access-key',
    'BACKUP_OFFSITE_ACCESS_KEY',
    'backupOffsiteAccessKey',
    'Access key of the off-site backup store (with backups.offsite)',
    'provided',
  ),
  spec(
    'backup-offsite-secret-key',
    'BACKUP_OFFSITE_SECRET_KEY',
    'backupOffsiteSecretKey',
    'Secret key of the off-site backup store (with backups.offsite)',
    'provided',
  ),
] as const satisfies readonly SecretKeySpec[];

export type SecretKey = (typeof SECRET_KEYS)[number]['key'];

/** A value the local set-ups make (generated, or derived from one that is), so `.env` must hold it. */
export const madeLocally = (s: SecretKeySpec): boolean =>
  s.source === 'password' || s.source === 'consul-token' || s.source === 'minio-metrics-token';

/** Keys that exist only with an off-site backup store (`backups.offsite`); a store need not hold them otherwise. */
export const OFFSITE_SECRET_KEYS: readonly SecretKey[] = ['backup-offsite-access-key', 'backup-offsite-secret-key'];

/** What a stack uses of the optional keys: the off-site store's credentials, its receivers' credentials. */
export interface OptionalSecretUse {
  readonly offsite: boolean;
  readonly alertingSecrets: readonly SecretKey[];
}

/** The keys `prism-secrets` carries for a stack: optional groups only when the stack uses them. */
export function stackSecretKeys(use: OptionalSecretUse): readonly SecretKeySpec[] {
  return SECRET_KEYS.filter(
    (k) =>
      (use.offsite || !OFFSITE_SECRET_KEYS.includes(k.key)) &&
      (!isAlertingSecret(k.key) || use.alertingSecrets.includes(k.key)),
  );
}

/** A reference to one key of {@link SECRET_NAME}. */
export interface SecretRef {
  readonly secret: SecretKey;
}

export function secretSpec(key: SecretKey): SecretKeySpec {
  const found = SECRET_KEYS.find((s) => s.key === key);
  if (!found) throw new Error(`unknown secret key ${key}`);
  return found;
}

/**
 * The store each credential opens (`offsite`: the off-site store, reached by external egress). A
 * workload may hold one only if it reaches that store; the checklist holds the manifests to it.
 */
export const STORE_CREDENTIALS: Partial<Record<SecretKey, string>> = {
  ...Object.fromEntries(
    Object.values(PG_ROLES as Record<string, PgRole>)
      .filter((r) => r.password)
      .map((r) => [r.password!, DATABASES[r.db].component]),
  ),
  'redis-password': 'redis',
  'redis-gateway-password': 'redis',
  'redis-auth-password': 'redis',
  'redis-exporter-password': 'redis',
  'minio-root-password': 'minio',
  'minio-backup-secret-key': 'minio',
  'minio-metrics-secret-key': 'minio',
  'minio-metrics-token': 'minio',
  'consul-management-token': 'consul',
  'consul-gateway-token': 'consul',
  'consul-auth-token': 'consul',
  'consul-config-token': 'consul',
  'consul-dbmanager-token': 'consul',
  'consul-metrics-token': 'consul',
  'backup-offsite-access-key': 'offsite',
  'backup-offsite-secret-key': 'offsite',
};

/** A store's administrator credentials: read by the store itself and its set-up task only, never by a client. */
export const OPERATOR_CREDENTIALS: Readonly<Partial<Record<SecretKey, readonly string[]>>> = {
  // The PostgreSQL superusers: the migration sets up the roles with them (see PG_ROLES).
  'postgres-auth-password': [DATABASES.auth.component, PG_SETUP_WORKLOAD],
  'postgres-ops-password': [DATABASES.ops.component, PG_SETUP_WORKLOAD],
  'redis-password': ['redis'],
  'minio-root-password': ['minio', 'minio-setup'],
  'consul-management-token': ['consul', 'consul-setup'],
};

/** Non-secret identities that go with the secrets (user names are not secret). */
export const MINIO_ROOT_USER = 'prism-admin';
export const MINIO_BACKUP_USER = 'prism-backup';
/** MinIO's metrics user: its only right is admin:Prometheus (reading the metrics with its token). */
export const MINIO_METRICS_USER = 'prism-metrics';

/**
 * The notification credentials, one per receiver kind. They exist in a store only when a receiver
 * of that kind is configured, so they are synced and mounted only then.
 */
export const ALERTING_SECRETS = {
  slack: 'alertmanager-slack-api-url',
  pagerduty: 'alertmanager-pagerduty-routing-key',
  email: 'alertmanager-smtp-password',
} as const satisfies Record<string, SecretKey>;

export const isAlertingSecret = (key: SecretKey): boolean =>
  (Object.values(ALERTING_SECRETS) as SecretKey[]).includes(key);
