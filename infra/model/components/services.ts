import {
  AUTH_JWKS_PATH,
  BACKUP_BUCKET,
  CONSUL_SERVICE_TOKENS,
  DATABASES,
  type DatabaseId,
  DBMANAGER_CLI,
  MTLS_DIR,
  SERVICE_ENTRY,
  MTLS_FILES,
  PORTS,
  SERVICES,
  type ServiceName,
  workloadSpiffeId,
  MINIO_BACKUP_USER,
  OBJECT_STORAGE_ENV,
  PG_LOGIN_ROLES,
  PG_ROLES,
  type PgLoginRoleId,
  type PgRole,
  pgPasswordVar,
  pgTlsEnv,
  REDIS_USERS,
} from '../../contract/index.js';
import { gatewayYaml } from '../files/gateway.js';
import { bytes, cpuMillis } from '../../config/index.js';
import type { Component, EnvValue, Flow, Image, Task } from '../types.js';
import {
  type BuildContext,
  RUN_AS,
  exec,
  probe,
  ref,
  refAddress,
  secret,
  serviceProbes,
  value,
  TMP,
} from './common.js';

const KEYS_DIR = '/etc/prism/keys';
const SERVICE_DOCKERFILE = 'services/Dockerfile';
/** The DB manager's working space: staged base backups, restores being verified, the WAL spool. */
const SCRATCH_DIR = '/var/lib/prism/scratch';

const largerQuantity = (a: string, b: string): string => ((bytes(a) ?? 0) >= (bytes(b) ?? 0) ? a : b);
const GATEWAY_CONFIG_DIR = '/etc/prism/gateway';

function serviceImage(ctx: BuildContext, name: ServiceName): Image {
  const { registry, tag } = ctx.config.images;
  return {
    repository: `${registry}/prism-${name}`,
    tag,
    // node trixie-slim: no wget or curl. Not offered to the volume-permission one-shot, which runs as root.
    tools: { httpCheck: 'node', shell: false },
    entrypoint: SERVICE_ENTRY[name],
    // One Dockerfile for the four services; the context is the repository root (images carry the shared
    // runtime and the contract). The DB manager's stage adds the PostgreSQL programs.
    build: {
      context: '.',
      dockerfile: SERVICE_DOCKERFILE,
      args: { SERVICE: name },
      target: name === 'dbmanager' ? 'dbmanager' : 'service',
    },
  };
}

function ports(name: ServiceName) {
  const p = SERVICES[name].ports;
  return [
    ...(p.http ? [{ name: 'http', port: p.http, publish: true }] : []),
    ...(p.grpc ? [{ name: 'grpc', port: p.grpc, publish: true }] : []),
    { name: 'metrics', port: p.metrics },
  ];
}

/** Mutual TLS between the services, on in every environment: the files of the workload's certificate. */
const MTLS_ENV: Record<string, EnvValue> = {
  PRISM_MTLS_ENABLED: value('true'),
  PRISM_MTLS_CERT_FILE: value(`${MTLS_DIR}/${MTLS_FILES.cert}`),
  PRISM_MTLS_KEY_FILE: value(`${MTLS_DIR}/${MTLS_FILES.key}`),
  PRISM_MTLS_CA_FILE: value(`${MTLS_DIR}/${MTLS_FILES.ca}`),
};

/**
 * HTTPS on a service's HTTP port, with the same certificate as its mutual TLS (it names the service as
 * peers dial it). No client certificates: the edge proxy and the gateway reach these ports.
 */
const HTTPS_ENV: Record<string, EnvValue> = {
  PRISM_TLS_ENABLED: value('true'),
  PRISM_TLS_CERT_FILE: value(`${MTLS_DIR}/${MTLS_FILES.cert}`),
  PRISM_TLS_KEY_FILE: value(`${MTLS_DIR}/${MTLS_FILES.key}`),
};

/** Environment and flows every Prism service shares. */
function common(ctx: BuildContext): { env: Record<string, EnvValue>; flows: Flow[] } {
  const obs = ctx.config.observability.enabled;
  return {
    env: {
      PRISM_ENVIRONMENT: value(ctx.environment),
      PRISM_LOG_LEVEL: value(ctx.environment === 'dev' ? 'debug' : 'info'),
      PRISM_SHUTDOWN_TIMEOUT_SECONDS: value(20),
      // tls://: the services connect with their mesh certificate, which names their NATS user.
      PRISM_NATS_URL: ref('nats', 'client', { scheme: 'tls' }),
      PRISM_CONSUL_ADDRESS: ref('consul', 'http'),
      ...(obs
        ? {
            PRISM_OTLP_ENDPOINT: ref('jaeger', 'otlp-http', { scheme: 'http', path: '/v1/traces' }),
            PRISM_TRACE_SAMPLE_RATIO: value(ctx.config.observability.traceSampleRatio),
          }
        : {}),
      ...MTLS_ENV,
    },
    flows: [
      { to: 'nats', port: 'client' },
      { to: 'consul', port: 'http' },
      ...(obs ? [{ to: 'jaeger' as const, port: 'otlp-http' }] : []),
    ],
  };
}

/** Streams the services create are replicated on every NATS server, up to JetStream's maximum of 5. */
const streamReplicas = (ctx: BuildContext): EnvValue => value(Math.min(ctx.config.nats.replicas, 5));

/** TLS to PostgreSQL (verify-full against the mesh CA, which every service mounts): for the services and libpq alike. */
const PG_TLS: Record<string, EnvValue> = Object.fromEntries(
  Object.entries(pgTlsEnv()).map(([name, v]) => [name, value(v)]),
);

/** Where a database is and, with `role`, who the service logs in as there (its role of PG_ROLES). */
function dbEnv(db: DatabaseId, role?: PgRole): Record<string, EnvValue> {
  const d = DATABASES[db];
  const P = db.toUpperCase();
  return {
    ...PG_TLS,
    [`PRISM_${P}_DB_HOST`]: value(d.component),
    [`PRISM_${P}_DB_PORT`]: value(db === 'auth' ? PORTS.postgresAuth : PORTS.postgresOps),
    [`PRISM_${P}_DB_NAME`]: value(d.name),
    ...(role ? { [`PRISM_${P}_DB_USER`]: value(role.name), [`PRISM_${P}_DB_PASSWORD`]: secret(role.password!) } : {}),
  };
}

/** The DB manager's role passwords (PRISM_PG_<ROLE>_PASSWORD; it takes the role names from the contract). */
const pgPasswords = (ids: readonly PgLoginRoleId[]): Record<string, EnvValue> =>
  Object.fromEntries(ids.map((id) => [pgPasswordVar(id), secret(PG_ROLES[id].password)]));
const PG_PASSWORD_VARS = new Set<string>(PG_LOGIN_ROLES.map(pgPasswordVar));

function service(
  ctx: BuildContext,
  name: ServiceName,
  spec: Pick<Component, 'description' | 'env' | 'flows' | 'tier'> & Partial<Component>,
): Component {
  const cfg = ctx.config.services[name];
  const base = common(ctx);
  return {
    name,
    layer: 'core',
    image: serviceImage(ctx, name),
    ports: ports(name),
    ...serviceProbes(),
    resources: cfg.resources,
    scaling: { replicas: cfg.replicas, ...(cfg.autoscaling ? { autoscaling: cfg.autoscaling } : {}) },
    configFiles: [],
    writablePaths: [TMP],
    metricsPort: 'metrics',
    tasks: [],
    terminationGracePeriodSeconds: 30,
    user: RUN_AS,
    contract: SERVICES[name].env,
    // Peers dial it by its component name (see resolveRef); renderers add their own forms of it.
    identity: { uri: workloadSpiffeId(name), dnsNames: [name], mountPath: MTLS_DIR },
    ...spec,
    env: {
      ...base.env,
      // Its own Consul ACL token: registers this service's name, nothing else (Consul denies by default).
      PRISM_CONSUL_TOKEN: secret(CONSUL_SERVICE_TOKENS[name]),
      ...(SERVICES[name].ports.http ? HTTPS_ENV : {}),
      ...spec.env,
    },
    flows: [...base.flows, ...spec.flows],
  };
}

const jwtFiles = (withPrivate: boolean) => ({
  mountPath: KEYS_DIR,
  items: [
    ...(withPrivate ? [{ secret: 'jwt-private-key' as const, file: 'private.pem' }] : []),
    { secret: 'jwt-public-key' as const, file: 'public.pem' },
  ],
});

export function gateway(ctx: BuildContext): Component {
  // Its HTTPS origin of auth (/api/auth is proxied there), written as every renderer writes references.
  const authHttp = { component: 'auth', port: 'http', scheme: 'https' } as const;
  return service(ctx, 'gateway', {
    description: 'API gateway: routing, JWT and API-key auth, Redis rate limiting, circuit breakers',
    tier: 'frontend',
    env: {
      PRISM_AUTH_GRPC_ADDRESS: ref('auth', 'grpc'),
      PRISM_CONFIG_GRPC_ADDRESS: ref('config', 'grpc'),
      PRISM_REDIS_ADDRESS: ref('redis', 'redis'),
      PRISM_REDIS_USERNAME: value(REDIS_USERS.gateway.name),
      PRISM_REDIS_PASSWORD: secret(REDIS_USERS.gateway.password),
      PRISM_GATEWAY_CACHE_KEY: secret('gateway-cache-key'),
      PRISM_GATEWAY_CONFIG_FILE: value(`${GATEWAY_CONFIG_DIR}/gateway.yaml`),
      PRISM_JWT_ISSUER: value(ctx.config.jwt.issuer),
      PRISM_JWT_AUDIENCE: value(ctx.config.jwt.audience),
      PRISM_JWT_PUBLIC_KEY_FILE: value(`${KEYS_DIR}/public.pem`),
      PRISM_AUTH_JWKS_URL: ref('auth', 'http', { scheme: 'https', path: AUTH_JWKS_PATH }),
      PRISM_NATS_STREAM_REPLICAS: streamReplicas(ctx),
    },
    flows: [
      { to: 'auth', port: 'grpc' },
      { to: 'auth', port: 'http' },
      { to: 'config', port: 'grpc' },
      { to: 'redis', port: 'redis' },
    ],
    configFiles: [
      {
        name: 'gateway.yaml',
        mountPath: GATEWAY_CONFIG_DIR,
        content: gatewayYaml(ctx.config, refAddress(authHttp, PORTS.authHttp), `${MTLS_DIR}/${MTLS_FILES.ca}`),
        refs: [authHttp],
      },
    ],
    secretFiles: jwtFiles(false),
  });
}

/**
 * Token refreshes in progress at once, from auth's CPU limit (rounded up, at least 2): unset, the service takes the
 * cores it sees, which under cgroup v1 are the node's whatever the limit. Two in flight already reach the refresh
 * rate of two cores (services/auth/README.md); more only lengthen each turn of the event loop.
 */
function refreshConcurrency(ctx: BuildContext): number {
  return Math.max(2, Math.ceil(cpuMillis(ctx.config.services.auth.resources.limits.cpu)! / 1000));
}

export function auth(ctx: BuildContext): Component {
  return service(ctx, 'auth', {
    description: 'Users, sessions, API keys, OAuth, RS256 JWT signing (HTTP /auth/* and gRPC)',
    tier: 'backend',
    env: {
      ...dbEnv('auth', PG_ROLES.auth_app),
      PRISM_REDIS_ADDRESS: ref('redis', 'redis'),
      PRISM_REDIS_USERNAME: value(REDIS_USERS.auth.name),
      PRISM_REDIS_PASSWORD: secret(REDIS_USERS.auth.password),
      PRISM_JWT_ISSUER: value(ctx.config.jwt.issuer),
      PRISM_JWT_AUDIENCE: value(ctx.config.jwt.audience),
      PRISM_JWT_PRIVATE_KEY_FILE: value(`${KEYS_DIR}/private.pem`),
      PRISM_JWT_PUBLIC_KEY_FILE: value(`${KEYS_DIR}/public.pem`),
      PRISM_ACCESS_TOKEN_TTL_SECONDS: value(ctx.config.jwt.accessTokenTtlSeconds),
      PRISM_PUBLIC_BASE_URL: value(`https://${ctx.config.domain}`),
      // The edge proxy (/auth) and the gateway (/api/auth) forward to auth.
      PRISM_TRUSTED_PROXIES: value(ctx.config.ingress.trustedProxies.join(',')),
      // The edge sends /auth straight here: auth applies the gateway's per-address limit itself.
      ...(ctx.config.rateLimit.enabled
        ? {
            PRISM_AUTH_RATE_LIMIT_RPS: value(ctx.config.rateLimit.requestsPerSecond),
            PRISM_AUTH_RATE_LIMIT_BURST: value(ctx.config.rateLimit.burst),
          }
        : {}),
      PRISM_GOOGLE_CLIENT_ID: secret('google-client-id'),
      PRISM_GOOGLE_CLIENT_SECRET: secret('google-client-secret'),
      PRISM_GITHUB_CLIENT_ID: secret('github-client-id'),
      PRISM_GITHUB_CLIENT_SECRET: secret('github-client-secret'),
      PRISM_NATS_STREAM_REPLICAS: streamReplicas(ctx),
      PRISM_AUTH_REFRESH_CONCURRENCY: value(refreshConcurrency(ctx)),
    },
    flows: [
      { to: 'postgres-auth', port: 'postgres' },
      { to: 'redis', port: 'redis' },
    ],
    secretFiles: jwtFiles(true),
    externalEgress: [{ port: 443, reason: 'OAuth code exchange with Google and GitHub' }],
  });
}

export function config(ctx: BuildContext): Component {
  return service(ctx, 'config', {
    description: 'Configuration values and feature flags per environment and service (gRPC)',
    tier: 'backend',
    env: dbEnv('ops', PG_ROLES.ops_config),
    flows: [{ to: 'postgres-ops', port: 'postgres' }],
  });
}

const urlPort = (u: string): number => {
  const url = new URL(u);
  return url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
};

export function dbmanager(ctx: BuildContext): Component {
  const offsite = ctx.config.backups.offsite;
  const env: Record<string, EnvValue> = {
    ...dbEnv('auth'),
    // The backup catalogue's role; the service streams WAL and takes backups as each database's backup role.
    ...dbEnv('ops', PG_ROLES.ops_catalog),
    ...pgPasswords(['auth_backup', 'ops_backup']),
    // The roles are set up by db-migrate (which alone holds the superusers' passwords), not at start-up.
    PRISM_MIGRATE_ON_START: value('false'),
    PRISM_S3_ENDPOINT: ref('minio', 'api', { scheme: 'http' }),
    PRISM_S3_BUCKET: value(BACKUP_BUCKET),
    PRISM_S3_ACCESS_KEY: value(MINIO_BACKUP_USER),
    PRISM_S3_SECRET_KEY: secret('minio-backup-secret-key'),
    ...(offsite
      ? {
          PRISM_OFFSITE_S3_ENDPOINT: value(offsite.endpoint),
          PRISM_OFFSITE_S3_REGION: value(offsite.region),
          PRISM_OFFSITE_S3_BUCKET: value(offsite.bucket),
          PRISM_OFFSITE_S3_ACCESS_KEY: secret('backup-offsite-access-key'),
          PRISM_OFFSITE_S3_SECRET_KEY: secret('backup-offsite-secret-key'),
        }
      : {}),
    PRISM_BACKUP_RETENTION_DAYS: value(ctx.config.backups.retentionDays),
    PRISM_DBMANAGER_SCRATCH_DIR: value(SCRATCH_DIR),
  };
  // The off-site store is outside the platform: egress to its port on public addresses.
  const offsiteEgress = offsite
    ? [{ port: urlPort(offsite.endpoint), reason: `off-site backup copies (${new URL(offsite.endpoint).host})` }]
    : [];
  const flows: Flow[] = [
    { to: 'postgres-auth', port: 'postgres' },
    { to: 'postgres-ops', port: 'postgres' },
    { to: 'minio', port: 'api' },
  ];
  const { schedule, walSchedule, verifySchedule } = ctx.config.backups;
  // A backup or verification task reaches only its own database and the object store. Only base
  // backups and restore verification need the large scratch space; the others spool a few WAL segments.
  const small = [TMP, { path: SCRATCH_DIR, size: '256Mi' }];
  const task = (
    name: string,
    description: string,
    args: readonly string[],
    db?: DatabaseId,
    when?: string,
    bigScratch = false,
  ): Task => ({
    name,
    description,
    args,
    ...(when ? { schedule: when } : {}),
    ...(bigScratch ? {} : { writablePaths: small }),
    // Its own database, the backup catalogue in prism_ops, and the object store.
    flows: db
      ? [
          ...[...new Set([DATABASES[db].component, DATABASES.ops.component])].map((to): Flow => ({
            to,
            port: 'postgres',
          })),
          { to: 'minio', port: 'api' },
        ]
      : flows.filter((f) => f.to !== 'minio'),
    // Backups and WAL go off-site too; the migration reaches no store.
    ...(db && offsite ? { externalEgress: offsiteEgress, externalEgressCidrs: offsite.egressCidrs } : {}),
  });
  const tasks: Task[] = [
    task('db-migrate', 'Apply the migrations of both databases before the services roll out', DBMANAGER_CLI.migrate),
    task(
      'backup-auth',
      'Scheduled full backup of prism_auth',
      DBMANAGER_CLI.backup('auth', 'full'),
      'auth',
      schedule,
      true,
    ),
    task(
      'backup-ops',
      'Scheduled full backup of prism_ops',
      DBMANAGER_CLI.backup('ops', 'full'),
      'ops',
      schedule,
      true,
    ),
    task(
      'wal-auth',
      'Ship the WAL written so far in prism_auth (bounds the recovery point)',
      DBMANAGER_CLI.backup('auth', 'wal'),
      'auth',
      walSchedule,
    ),
    task(
      'wal-ops',
      'Ship the WAL written so far in prism_ops (bounds the recovery point)',
      DBMANAGER_CLI.backup('ops', 'wal'),
      'ops',
      walSchedule,
    ),
    task(
      'verify-auth',
      'Restore the latest prism_auth backup into a scratch instance and check it',
      DBMANAGER_CLI.verifyLatest('auth'),
      'auth',
      verifySchedule,
      true,
    ),
    task(
      'verify-ops',
      'Restore the latest prism_ops backup into a scratch instance and check it',
      DBMANAGER_CLI.verifyLatest('ops'),
      'ops',
      verifySchedule,
      true,
    ),
  ];
  const component = service(ctx, 'dbmanager', {
    description: 'Migrations, backups and verified restores of both PostgreSQL databases (gRPC)',
    singleton:
      'owns the backup schedule and WAL archive; two instances would race (migrations also hold an advisory lock)',
    tier: 'backend',
    env,
    flows,
    ...(offsite ? { externalEgress: offsiteEgress, externalEgressCidrs: offsite.egressCidrs } : {}),
    // Arguments only: the image's entrypoint (tini, then the CLI) stays PID 1 and forwards signals.
    args: DBMANAGER_CLI.serve,
    tasks,
    localScheduler: {
      name: 'backup-scheduler',
      args: DBMANAGER_CLI.schedule(
        tasks.filter((t) => t.schedule).map((t) => ({ name: t.name, cron: t.schedule!, args: t.args })),
      ),
      // Node starts in the check: a longer timeout than the services' HTTP checks.
      readiness: probe(exec(...DBMANAGER_CLI.entry, ...DBMANAGER_CLI.scheduleHealth), 10, 30, { timeoutSeconds: 10 }),
    },
    // A restore verification unpacks a base backup here.
    // Room for a whole restored database (verification) or a staged base backup.
    writablePaths: [
      TMP,
      {
        path: SCRATCH_DIR,
        size: largerQuantity(ctx.config.storage.sizes.postgresAuth, ctx.config.storage.sizes.postgresOps),
        onDisk: true,
      },
    ],
  });
  // The migration reaches no object store: it gets none of its keys (nor the off-site ones).
  const storeEnv = (name: string) =>
    (OBJECT_STORAGE_ENV as readonly string[]).includes(name) || name.startsWith('PRISM_OFFSITE_S3_');
  // It sets up every role of both databases, so it holds every role's password (and the superusers').
  // The tasks register with no Consul (no flow to it): no Consul address or token.
  const consulEnv = (name: string) => name.startsWith('PRISM_CONSUL_');
  const migrateEnv = {
    ...Object.fromEntries(Object.entries(component.env).filter(([name]) => !storeEnv(name) && !consulEnv(name))),
    ...pgPasswords(PG_LOGIN_ROLES),
  };
  // A backup task holds its own database's backup role only (and the catalogue's, in the component env).
  const taskEnv = (db: DatabaseId) => ({
    ...Object.fromEntries(
      Object.entries(component.env).filter(([name]) => !PG_PASSWORD_VARS.has(name) && !consulEnv(name)),
    ),
    ...pgPasswords([`${db}_backup`]),
  });
  const taskDb = (t: Task): DatabaseId => (t.flows.some((f) => f.to === DATABASES.auth.component) ? 'auth' : 'ops');
  return {
    ...component,
    tasks: component.tasks.map((t) => ({ ...t, env: t.name === 'db-migrate' ? migrateEnv : taskEnv(taskDb(t)) })),
  };
}
