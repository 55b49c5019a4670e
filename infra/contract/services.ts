import { z } from 'zod';
import { ENV, type EnvName } from './env.js';
import { PORTS } from './ports.js';
import { PG_LOGIN_ROLES, pgPasswordVar } from './postgres.js';

export const SERVICE_NAMES = ['gateway', 'auth', 'config', 'dbmanager'] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

/** What a Prism service serves and reads: the one contract of services and manifests. */
export interface ServiceContract {
  readonly ports: { readonly http?: number; readonly grpc?: number; readonly metrics: number };
  /** Every variable the service reads; the model must supply the required ones. */
  readonly env: readonly EnvName[];
}

const COMMON: readonly EnvName[] = [
  'PRISM_ENVIRONMENT',
  'PRISM_LOG_LEVEL',
  'PRISM_METRICS_PORT',
  'PRISM_BIND_ADDRESS',
  'PRISM_SHUTDOWN_TIMEOUT_SECONDS',
  'PRISM_OTLP_ENDPOINT',
  'PRISM_TRACE_SAMPLE_RATIO',
  'PRISM_CONSUL_ADDRESS',
  'PRISM_CONSUL_TOKEN',
  'PRISM_NATS_URL',
  'PRISM_TLS_ENABLED',
  'PRISM_TLS_CERT_FILE',
  'PRISM_TLS_KEY_FILE',
  'PRISM_TLS_MIN_VERSION',
  'PRISM_TLS_CLIENT_AUTH',
  'PRISM_TLS_CLIENT_CA_FILE',
  'PRISM_MTLS_ENABLED',
  'PRISM_MTLS_CERT_FILE',
  'PRISM_MTLS_KEY_FILE',
  'PRISM_MTLS_CA_FILE',
];

/** TLS to PostgreSQL (libpq's variables), for every service that has a database. */
const PG_TLS = ['PGSSLMODE', 'PGSSLROOTCERT'] as const;
const AUTH_DB = [
  ...PG_TLS,
  'PRISM_AUTH_DB_HOST',
  'PRISM_AUTH_DB_PORT',
  'PRISM_AUTH_DB_NAME',
  'PRISM_AUTH_DB_USER',
  'PRISM_AUTH_DB_PASSWORD',
] as const;
const OPS_DB = [
  ...PG_TLS,
  'PRISM_OPS_DB_HOST',
  'PRISM_OPS_DB_PORT',
  'PRISM_OPS_DB_NAME',
  'PRISM_OPS_DB_USER',
  'PRISM_OPS_DB_PASSWORD',
] as const;

/** The DB manager's object-storage variables: backups need them, migrations do not. */
export const OBJECT_STORAGE_ENV = [
  'PRISM_S3_ENDPOINT',
  'PRISM_S3_REGION',
  'PRISM_S3_BUCKET',
  'PRISM_S3_ACCESS_KEY',
  'PRISM_S3_SECRET_KEY',
] as const satisfies readonly EnvName[];

export const SERVICES: Record<ServiceName, ServiceContract> = {
  gateway: {
    ports: { http: PORTS.gatewayHttp, metrics: PORTS.metrics },
    env: [
      ...COMMON,
      'PRISM_HTTP_PORT',
      'PRISM_AUTH_GRPC_ADDRESS',
      'PRISM_CONFIG_GRPC_ADDRESS',
      'PRISM_REDIS_ADDRESS',
      'PRISM_REDIS_USERNAME',
      'PRISM_REDIS_PASSWORD',
      'PRISM_GATEWAY_CACHE_KEY',
      'PRISM_GATEWAY_CONFIG_FILE',
      'PRISM_JWT_ISSUER',
      'PRISM_JWT_AUDIENCE',
      'PRISM_JWT_PUBLIC_KEY_FILE',
      'PRISM_AUTH_JWKS_URL',
      'PRISM_NATS_STREAM_REPLICAS',
    ],
  },
  auth: {
    ports: { http: PORTS.authHttp, grpc: PORTS.authGrpc, metrics: PORTS.metrics },
    env: [
      ...COMMON,
      'PRISM_HTTP_PORT',
      'PRISM_GRPC_PORT',
      ...AUTH_DB,
      'PRISM_REDIS_ADDRESS',
      'PRISM_REDIS_USERNAME',
      'PRISM_REDIS_PASSWORD',
      'PRISM_JWT_ISSUER',
      'PRISM_JWT_AUDIENCE',
      'PRISM_JWT_PRIVATE_KEY_FILE',
      'PRISM_JWT_PUBLIC_KEY_FILE',
      'PRISM_ACCESS_TOKEN_TTL_SECONDS',
      'PRISM_REFRESH_TOKEN_TTL_SECONDS',
      'PRISM_PUBLIC_BASE_URL',
      'PRISM_TRUSTED_PROXIES',
      'PRISM_AUTH_RATE_LIMIT_RPS',
      'PRISM_AUTH_RATE_LIMIT_BURST',
      'PRISM_AUTH_REFRESH_CONCURRENCY',
      'PRISM_GOOGLE_CLIENT_ID',
      'PRISM_GOOGLE_CLIENT_SECRET',
      'PRISM_GITHUB_CLIENT_ID',
      'PRISM_GITHUB_CLIENT_SECRET',
      'PRISM_NATS_STREAM_REPLICAS',
    ],
  },
  config: {
    ports: { grpc: PORTS.configGrpc, metrics: PORTS.metrics },
    env: [...COMMON, 'PRISM_GRPC_PORT', ...OPS_DB],
  },
  dbmanager: {
    ports: { grpc: PORTS.dbmanagerGrpc, metrics: PORTS.metrics },
    env: [
      ...COMMON,
      'PRISM_GRPC_PORT',
      // Where prism_auth is; the roles it logs in as there are PG_ROLES' (their passwords below).
      'PRISM_AUTH_DB_HOST',
      'PRISM_AUTH_DB_PORT',
      'PRISM_AUTH_DB_NAME',
      // PRISM_OPS_DB_USER/PASSWORD: the backup catalogue's role.
      ...OPS_DB,
      ...PG_LOGIN_ROLES.map(pgPasswordVar),
      ...OBJECT_STORAGE_ENV,
      'PRISM_DBMANAGER_SCRATCH_DIR',
      'PRISM_PG_BIN_DIR',
      'PRISM_OFFSITE_S3_ENDPOINT',
      'PRISM_OFFSITE_S3_REGION',
      'PRISM_OFFSITE_S3_BUCKET',
      'PRISM_OFFSITE_S3_ACCESS_KEY',
      'PRISM_OFFSITE_S3_SECRET_KEY',
      'PRISM_BACKUP_RETENTION_DAYS',
      'PRISM_MIGRATE_ON_START',
    ],
  },
};

/** The variables a service cannot start without. */
export function requiredEnv(service: ServiceName): EnvName[] {
  return SERVICES[service].env.filter((name) => !('optional' in ENV[name] && ENV[name].optional));
}

/**
 * The zod schema of a service's environment. Port variables default to the contract's
 * ports, so a service started with no port variables listens where the manifests say.
 */
export function serviceEnvSchema(service: ServiceName) {
  const { ports, env } = SERVICES[service];
  const portDefaults: Partial<Record<EnvName, number | undefined>> = {
    PRISM_HTTP_PORT: ports.http,
    PRISM_GRPC_PORT: ports.grpc,
    PRISM_METRICS_PORT: ports.metrics,
  };
  const shape: Record<string, z.ZodType> = {};
  for (const name of env) {
    const spec = ENV[name];
    const fallback = portDefaults[name];
    let schema: z.ZodType = spec.schema;
    if (fallback !== undefined) schema = (schema as z.ZodNumber).default(fallback);
    else if ('optional' in spec && spec.optional && !(schema instanceof z.ZodDefault)) schema = schema.optional();
    shape[name] = schema;
  }
  return z.object(shape);
}
