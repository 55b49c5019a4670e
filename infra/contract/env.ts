import { z } from 'zod';
import { addressListEnv } from './network.js';
import { PG_LOGIN_ROLES, PG_ROLES, pgPasswordVar, type PgPasswordVar } from './postgres.js';

/**
 * Every environment variable a Prism service reads. The services validate their
 * environment with {@link serviceEnvSchema}; the renderers take the names from here
 * and the platform model must supply every required one (checked when the model is built).
 */
export interface EnvVarSpec {
  readonly description: string;
  /** Parses the raw string from the environment. */
  readonly schema: z.ZodType;
  /** The value is a secret: renderers must reference it, never write it. */
  readonly secret?: boolean;
  /** The service starts without it (a default or a feature switched off). */
  readonly optional?: boolean;
}

const hostPort = z.string().regex(/^[A-Za-z0-9.-]+:\d{1,5}$/, 'expected host:port, for example redis:6379');
const port = z.coerce.number().int().min(1).max(65535);
const positiveInt = z.coerce.number().int().positive();
const bool = z
  .enum(['true', 'false', '1', '0'], { message: 'expected true or false' })
  .transform((v) => v === 'true' || v === '1');
const url = z.url({ message: 'expected a URL' });
const nonEmpty = z.string().min(1, 'must not be empty');
const filePath = z.string().startsWith('/', 'expected an absolute file path');

type DbVar<P extends string> = `PRISM_${P}_DB_${'HOST' | 'PORT' | 'NAME' | 'USER' | 'PASSWORD'}`;

function dbVars<P extends 'AUTH' | 'OPS'>(prefix: P, what: string): Record<DbVar<P>, EnvVarSpec> {
  const v = (suffix: string) => `PRISM_${prefix}_DB_${suffix}` as DbVar<P>;
  return {
    [v('HOST')]: { description: `${what} PostgreSQL host`, schema: nonEmpty },
    [v('PORT')]: { description: `${what} PostgreSQL port`, schema: port },
    [v('NAME')]: { description: `${what} database name`, schema: nonEmpty },
    [v('USER')]: { description: `${what} database user`, schema: nonEmpty },
    [v('PASSWORD')]: { description: `${what} database password`, schema: nonEmpty, secret: true },
  } as unknown as Record<DbVar<P>, EnvVarSpec>;
}

/**
 * The DB manager's PostgreSQL passwords, one variable per role of PG_ROLES (it takes the role names from
 * there): its backup jobs get their database's backup role, the migration every role (it sets them).
 */
const pgPasswordVars = Object.fromEntries(
  PG_LOGIN_ROLES.map((id) => [
    pgPasswordVar(id),
    {
      description: `Password of PostgreSQL role ${PG_ROLES[id].name} (${id.replace('_', ' ')}), for the DB manager`,
      schema: nonEmpty,
      secret: true,
      optional: true,
    },
  ]),
) as unknown as Record<PgPasswordVar, EnvVarSpec>;

export const ENV = {
  // Common to every service.
  PRISM_ENVIRONMENT: { description: 'Environment name (dev, staging, prod, ...)', schema: nonEmpty },
  PRISM_LOG_LEVEL: {
    description: 'pino log level',
    schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info'),
    optional: true,
  },
  PRISM_METRICS_PORT: { description: 'Port of /metrics and /health/*', schema: port, optional: true },
  PRISM_BIND_ADDRESS: {
    description:
      "Address every listener of the service binds (HTTP, gRPC, metrics); unset: all interfaces (a container's own network). The local platform sets 127.0.0.1",
    schema: z.union([z.ipv4(), z.ipv6()]),
    optional: true,
  },
  PRISM_SHUTDOWN_TIMEOUT_SECONDS: {
    description: 'Time allowed for in-flight work after SIGTERM; below the pod grace period',
    schema: positiveInt.default(20),
    optional: true,
  },
  PRISM_OTLP_ENDPOINT: {
    description: 'OTLP/HTTP traces endpoint (Jaeger); tracing is off when unset',
    schema: url,
    optional: true,
  },
  PRISM_TRACE_SAMPLE_RATIO: {
    description:
      "Share of the traces starting at the service that are recorded (0 to 1, by trace id); a request with a traceparent follows its caller's decision",
    schema: z.coerce.number().min(0).max(1).default(1),
    optional: true,
  },
  PRISM_CONSUL_ADDRESS: {
    description: 'Consul HTTP host:port; registration is off when unset',
    schema: hostPort,
    optional: true,
  },
  PRISM_CONSUL_TOKEN: {
    description: "The service's Consul ACL token (registers its own name only); sent as X-Consul-Token",
    schema: nonEmpty,
    optional: true,
  },
  PRISM_NATS_URL: { description: 'NATS URL(s), comma-separated', schema: nonEmpty },
  PRISM_NATS_STREAM_REPLICAS: {
    // JetStream replicates a stream on at most 5 servers; more replicas than servers fails at creation.
    description:
      'Replicas of the JetStream stream the service creates (1..5, at most the NATS cluster size); an existing stream with fewer is raised where the NATS user may update it (an operator step in the platform)',
    schema: z
      .string()
      .regex(/^[1-5]$/, 'expected a whole number from 1 to 5')
      .transform(Number)
      .default(1),
    optional: true,
  },
  PRISM_TLS_ENABLED: { description: 'Serve TLS on the service port', schema: bool.default(false), optional: true },
  PRISM_TLS_CERT_FILE: { description: 'TLS certificate (PEM)', schema: filePath, optional: true },
  PRISM_TLS_KEY_FILE: { description: 'TLS private key (PEM)', schema: filePath, optional: true },
  PRISM_TLS_MIN_VERSION: {
    description: 'Minimum TLS version',
    schema: z.enum(['1.2', '1.3']).default('1.2'),
    optional: true,
  },
  PRISM_TLS_CLIENT_AUTH: {
    description: 'Require client certificates (mutual TLS)',
    schema: bool.default(false),
    optional: true,
  },
  PRISM_TLS_CLIENT_CA_FILE: { description: 'CA bundle for client certificates', schema: filePath, optional: true },
  PRISM_MTLS_ENABLED: {
    description:
      'Service-to-service mutual TLS: gRPC servers require and authorize client certificates, gRPC clients present theirs',
    schema: bool.default(false),
    optional: true,
  },
  PRISM_MTLS_CERT_FILE: {
    description: "This workload's certificate (PEM, URI SAN spiffe://prism/<service>); re-read when it changes",
    schema: filePath,
    optional: true,
  },
  PRISM_MTLS_KEY_FILE: {
    description: "This workload's private key (PEM); re-read when it changes",
    schema: filePath,
    optional: true,
  },
  PRISM_MTLS_CA_FILE: {
    description: "The platform's internal CA (PEM bundle); peers are verified against it",
    schema: filePath,
    optional: true,
  },

  // Listening ports (default: the contract's port for that service).
  PRISM_HTTP_PORT: { description: 'HTTP port', schema: port, optional: true },
  PRISM_GRPC_PORT: { description: 'gRPC port', schema: port, optional: true },

  // Peers.
  PRISM_AUTH_GRPC_ADDRESS: { description: 'Auth gRPC host:port', schema: hostPort },
  PRISM_CONFIG_GRPC_ADDRESS: { description: 'Config gRPC host:port', schema: hostPort },
  PRISM_REDIS_ADDRESS: { description: 'Redis host:port', schema: hostPort },
  PRISM_REDIS_PASSWORD: { description: 'Redis password (of PRISM_REDIS_USERNAME)', schema: nonEmpty, secret: true },
  PRISM_REDIS_USERNAME: {
    description: "Redis ACL user (see REDIS_USERS); Redis's default user when absent",
    schema: nonEmpty,
    optional: true,
  },
  PRISM_GATEWAY_CACHE_KEY: {
    description: "HMAC key of the gateway's cached API-key validations; Redis never holds it",
    schema: z.string().min(16, 'at least 16 characters'),
    secret: true,
  },

  // Gateway.
  PRISM_GATEWAY_CONFIG_FILE: { description: 'Path of gateway.yaml (routes, rate limit)', schema: filePath },
  PRISM_AUTH_JWKS_URL: {
    description: "Auth service's JWKS URL (keys are cached and rotated)",
    schema: url,
    optional: true,
  },

  // JWT.
  PRISM_JWT_ISSUER: { description: 'JWT `iss`', schema: nonEmpty },
  PRISM_JWT_AUDIENCE: { description: 'JWT `aud`', schema: nonEmpty },
  PRISM_JWT_PUBLIC_KEY_FILE: { description: 'RS256 public key (PEM)', schema: filePath, optional: true },
  PRISM_JWT_PRIVATE_KEY_FILE: { description: 'RS256 private key (PEM)', schema: filePath },
  PRISM_ACCESS_TOKEN_TTL_SECONDS: {
    description: 'Access token lifetime',
    schema: positiveInt.default(900),
    optional: true,
  },
  PRISM_REFRESH_TOKEN_TTL_SECONDS: {
    description: 'Refresh token lifetime',
    schema: positiveInt.default(30 * 24 * 3600),
    optional: true,
  },

  // Auth: client addresses.
  PRISM_TRUSTED_PROXIES: {
    description:
      'Addresses or CIDR blocks (comma-separated) of the forwarders whose X-Forwarded-For auth believes (the gateway, the edge proxy); the client is the right-most untrusted hop. Empty: the socket address, always',
    schema: addressListEnv.default([]),
    optional: true,
  },

  // Auth: the gateway's per-address limit, for /auth requests that reach auth straight from the edge.
  PRISM_AUTH_RATE_LIMIT_RPS: {
    description:
      "Requests per second per client address to /auth (the gateway's rate; shared by the replicas through Redis). Unset: no limit in auth",
    schema: positiveInt,
    optional: true,
  },
  PRISM_AUTH_RATE_LIMIT_BURST: {
    description: "Requests a client address may send at once above the rate (the gateway's burst)",
    schema: positiveInt.default(1),
    optional: true,
  },

  // Auth: load.
  PRISM_AUTH_REFRESH_CONCURRENCY: {
    description:
      'Token refreshes in progress at once; the others wait (a free slot to the address served longest ago), beyond 64 per slot 503 + Retry-After. Unset: the cores available (availableParallelism(); a CPU limit may not count: under cgroup v1 a 1-CPU quota still gave 2 on a 2-core machine, so set it where the limit is below the node cores)',
    schema: positiveInt,
    optional: true,
  },

  // Auth: OAuth.
  PRISM_PUBLIC_BASE_URL: { description: 'Public base URL (OAuth redirect URIs are built from it)', schema: url },
  PRISM_GOOGLE_CLIENT_ID: { description: 'Google OAuth client id', schema: nonEmpty, secret: true, optional: true },
  PRISM_GOOGLE_CLIENT_SECRET: {
    description: 'Google OAuth client secret',
    schema: nonEmpty,
    secret: true,
    optional: true,
  },
  PRISM_GITHUB_CLIENT_ID: { description: 'GitHub OAuth client id', schema: nonEmpty, secret: true, optional: true },
  PRISM_GITHUB_CLIENT_SECRET: {
    description: 'GitHub OAuth client secret',
    schema: nonEmpty,
    secret: true,
    optional: true,
  },

  // Databases.
  ...dbVars('AUTH', 'Auth'),
  ...dbVars('OPS', 'Ops'),
  // TLS to PostgreSQL: libpq's own names (PG_TLS_ENV in postgres-tls.ts), read alike by the services' client and
  // the PostgreSQL programs the DB manager runs. Unset: plaintext (tests' private servers only).
  PGSSLMODE: {
    description: 'TLS to PostgreSQL: verify-full (TLS, the chain against PGSSLROOTCERT, the host name) or disable',
    schema: z.enum(['verify-full', 'disable']),
    optional: true,
  },
  PGSSLROOTCERT: {
    description: "The CA certificate PostgreSQL's server certificate must chain to (the mesh CA)",
    schema: filePath,
    optional: true,
  },

  // DB manager: object storage for backups.
  PRISM_S3_ENDPOINT: { description: 'S3-compatible endpoint (MinIO)', schema: url },
  PRISM_S3_REGION: { description: 'S3 region', schema: nonEmpty.default('us-east-1'), optional: true },
  PRISM_S3_BUCKET: { description: 'Backup bucket', schema: nonEmpty },
  PRISM_S3_ACCESS_KEY: { description: 'Access key (user name) of the least-privilege backup user', schema: nonEmpty },
  PRISM_S3_SECRET_KEY: { description: 'Least-privilege backup user secret key', schema: nonEmpty, secret: true },
  PRISM_DBMANAGER_SCRATCH_DIR: {
    description:
      'Scratch space for staged base backups, restores and the WAL spool (default: /var/lib/prism/scratch when it exists, else <tmpdir>/prism-scratch)',
    schema: filePath,
    optional: true,
  },
  PRISM_PG_BIN_DIR: {
    description:
      "Directory of the PostgreSQL programs (pg_basebackup, pg_receivewal, pg_verifybackup, pg_waldump, pg_ctl, pg_dumpall, pg_dump, postgres) (default: found for the server's major version: /usr/lib/postgresql/<major>/bin, then PATH)",
    schema: filePath,
    optional: true,
  },
  // Off-site copy of every backup and WAL segment (another S3-compatible store); all four or none.
  PRISM_OFFSITE_S3_ENDPOINT: {
    description: 'Off-site S3-compatible endpoint; every backup and WAL segment is also written there',
    schema: url,
    optional: true,
  },
  PRISM_OFFSITE_S3_REGION: { description: 'Off-site S3 region', schema: nonEmpty.default('us-east-1'), optional: true },
  PRISM_OFFSITE_S3_BUCKET: { description: 'Off-site backup bucket', schema: nonEmpty, optional: true },
  PRISM_OFFSITE_S3_ACCESS_KEY: {
    description: 'Off-site store access key',
    schema: nonEmpty,
    secret: true,
    optional: true,
  },
  PRISM_OFFSITE_S3_SECRET_KEY: {
    description: 'Off-site store secret key',
    schema: nonEmpty,
    secret: true,
    optional: true,
  },
  PRISM_BACKUP_RETENTION_DAYS: {
    description: 'Days a backup is kept',
    schema: positiveInt.default(14),
    optional: true,
  },
  PRISM_MIGRATE_ON_START: { description: 'Run migrations at start-up', schema: bool.default(true), optional: true },
  ...pgPasswordVars,
} as const satisfies Record<string, EnvVarSpec>;

export type EnvName = keyof typeof ENV;
