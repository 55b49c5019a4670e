import {
  BACKUP_BUCKET,
  CONSUL_MANAGEMENT_TOKEN,
  CONSUL_METRICS_POLICY,
  CONSUL_METRICS_TOKEN,
  CONSUL_SERVICE_TOKENS,
  consulServicePolicy,
  secretSpec,
  COMPOSE_DATA_SUBNET,
  DATABASES,
  MTLS_FILES,
  NATS_PERMISSIONS,
  NATS_WORKLOAD,
  PORTS,
  pgRole,
  pgTlsServerSettings,
  REDIS_USERS,
  SERVICE_NAMES,
  type DatabaseId,
  type SecretKey,
  MINIO_BACKUP_USER,
  MINIO_METRICS_USER,
  MINIO_ROOT_USER,
  type ServiceName,
  workloadSpiffeId,
} from '../../contract/index.js';
import { type ConsulTokenSpec, consulHcl, consulSetupScript, consulStartScript } from '../files/consul.js';
import { MINIO_METRICS_POLICY, minioBucketPolicy, minioSetupScript } from '../files/minio-setup.js';
import { natsServerConf } from '../files/nats.js';
import { pgHbaConf } from '../files/postgres.js';
import { redisConf, redisPasswordVar, redisUserArgs } from '../files/redis.js';
import { certificateReloadCheck } from '../files/tls-reload.js';
import { bytes, type DataStoreName } from '../../config/index.js';
import type { Component, Image } from '../types.js';
import { THIRD_PARTY_IMAGES } from '../images.js';
import { type BuildContext, RUN_AS, exec, headless, httpGet, probe, ref, secret, value, TMP } from './common.js';

/** Pinned images of the data tier (the pins, their support dates and reasons: infra/model/images.ts). */
export const DATA_IMAGES = {
  postgres: THIRD_PARTY_IMAGES.postgres,
  redis: THIRD_PARTY_IMAGES.redis,
  nats: THIRD_PARTY_IMAGES.nats,
  consul: THIRD_PARTY_IMAGES.consul,
  minio: THIRD_PARTY_IMAGES.minio,
  mc: THIRD_PARTY_IMAGES.mc,
} as const satisfies Record<string, Image>;

const size = (ctx: BuildContext, store: DataStoreName) => ctx.config.storage.sizes[store];
const stateful = {
  layer: 'data',
  tier: 'data',
  tasks: [],
  configFiles: [],
  flows: [],
  user: RUN_AS,
  terminationGracePeriodSeconds: 60,
  scaling: { replicas: 1 },
} as const;

const PG_CONFIG_DIR = '/etc/prism/postgres';
/**
 * The PostgreSQL servers' certificate (cert-manager's Secret, or the local CA's files), beside the configuration
 * directory as NATS_TLS_DIR is. PostgreSQL refuses a key file its group or others may read unless root owns it,
 * and a Compose bind mount keeps the host user's owner and 0644: so the start wrapper copies the key to
 * {@link PG_TLS_KEY_COPY} (0600, the server's own user) in every environment, and the server reads that copy.
 */
export const PG_TLS_DIR = '/etc/postgres-tls';
export const PG_TLS_KEY_COPY = '/tmp/postgres-tls/tls.key';
const PG_TLS_KEY_DIR = PG_TLS_KEY_COPY.replace(/\/[^/]+$/, '');
/**
 * The wrapper (`sh -c`): the key copied private (renamed into place), the check that reloads a renewed certificate
 * (copying its key first), then the image's entrypoint with the model's arguments.
 */
const PG_START = [
  'sh',
  '-c',
  [
    // The umask in a subshell: the server and the image's entrypoint keep their own.
    `key() { (umask 077 && mkdir -p ${PG_TLS_KEY_DIR} && cat ${PG_TLS_DIR}/${MTLS_FILES.key} > ${PG_TLS_KEY_COPY}.new && mv ${PG_TLS_KEY_COPY}.new ${PG_TLS_KEY_COPY}); }`,
    'key || exit 1',
    ...certificateReloadCheck({
      cert: `${PG_TLS_DIR}/${MTLS_FILES.cert}`,
      server: 'postgres',
      prepare: 'key',
      log: 'postgres-start',
    }),
    'exec docker-entrypoint.sh postgres "$@"',
  ].join('\n'),
  'postgres-start',
] as const;

function postgres(ctx: BuildContext, db: DatabaseId): Component {
  const d = DATABASES[db];
  const port = db === 'auth' ? PORTS.postgresAuth : PORTS.postgresOps;
  const ready = exec('pg_isready', '-h', '127.0.0.1', '-p', String(port), '-U', d.user, '-d', d.name);
  const admin = pgRole(db, 'admin');
  return {
    ...stateful,
    name: d.component,
    description:
      db === 'auth'
        ? 'PostgreSQL: users, sessions, API keys, OAuth'
        : 'PostgreSQL: audit logs, events, metrics, backups',
    image: DATA_IMAGES.postgres,
    command: PG_START,
    // wal_level=replica and replication slots let the DB manager take base backups and stream WAL;
    // its pg_hba.conf admits the replication connections. The archive slot may hold at most a
    // quarter of the volume in WAL: a DB manager down for long breaks WAL continuity (which the
    // next backup and every dry run report) rather than filling the database's disk.
    args: [
      '-c',
      `port=${port}`,
      '-c',
      'wal_level=replica',
      '-c',
      'max_wal_senders=10',
      '-c',
      'max_replication_slots=10',
      '-c',
      `hba_file=${PG_CONFIG_DIR}/pg_hba.conf`,
      '-c',
      `max_slot_wal_keep_size=${Math.floor((bytes(size(ctx, db === 'auth' ? 'postgresAuth' : 'postgresOps')) ?? 0) / 4 / 1024 / 1024)}MB`,
      // TLS 1.2+ with the mesh certificate; pg_hba.conf admits TCP over TLS only.
      ...pgTlsServerSettings({ cert: `${PG_TLS_DIR}/${MTLS_FILES.cert}`, key: PG_TLS_KEY_COPY }).flatMap((s) => [
        '-c',
        s,
      ]),
    ],
    configFiles: [{ name: 'pg_hba.conf', mountPath: PG_CONFIG_DIR, content: pgHbaConf(pgRole(db, 'backup').name) }],
    ports: [{ name: 'postgres', port, publish: true }],
    env: {
      PGPORT: value(port),
      PGDATA: value('/var/lib/postgresql/data/pgdata'),
      // The bootstrap superuser; the migration creates the other roles (PG_ROLES) with it.
      POSTGRES_USER: value(admin.name),
      POSTGRES_DB: value(d.name),
      POSTGRES_PASSWORD: secret(admin.password!),
    },
    liveness: probe({ tcp: { port: 'postgres' } }, 30, 10, { timeoutSeconds: 5, failureThreshold: 6 }),
    readiness: probe(ready, 5, 5, { timeoutSeconds: 5 }),
    resources: ctx.config.resources[db === 'auth' ? 'postgresAuth' : 'postgresOps'],
    persistence: {
      mountPath: '/var/lib/postgresql/data',
      size: size(ctx, db === 'auth' ? 'postgresAuth' : 'postgresOps'),
    },
    writablePaths: [TMP, { path: '/var/run/postgresql', size: '16Mi' }],
    // Clients dial the component's name (the services, the DB manager's tasks, the exporter).
    identity: { uri: workloadSpiffeId(d.component), dnsNames: [d.component], mountPath: PG_TLS_DIR },
  };
}

function redis(ctx: BuildContext): Component {
  const res = ctx.config.resources.redis;
  // Three quarters of the memory limit for data; the rest is Redis's own overhead and fork copy-on-write.
  const maxMemory = Math.floor((bytes(res.limits.memory) ?? 0) * 0.75);
  return {
    ...stateful,
    name: 'redis',
    description: 'Redis: token caching, rate limiting, sessions, distributed locks',
    image: DATA_IMAGES.redis,
    command: ['redis-server'],
    // One ACL user per workload; the passwords come from the secret at start-up ($(VAR) is expanded from the container's env).
    args: ['/etc/redis/redis.conf', ...redisUserArgs()],
    ports: [{ name: 'redis', port: PORTS.redis, publish: true }],
    env: Object.fromEntries(Object.values(REDIS_USERS).map((u) => [redisPasswordVar(u), secret(u.password)])),
    liveness: probe({ tcp: { port: 'redis' } }, 10, 10),
    readiness: probe(
      exec(
        'sh',
        '-c',
        `redis-cli --no-auth-warning --user ${REDIS_USERS.exporter.name} -a "$${redisPasswordVar(REDIS_USERS.exporter)}" ping | grep -q PONG`,
      ),
      5,
      5,
    ),
    resources: res,
    persistence: { mountPath: '/data', size: size(ctx, 'redis') },
    configFiles: [{ name: 'redis.conf', mountPath: '/etc/redis', content: redisConf(PORTS.redis, maxMemory) }],
    writablePaths: [TMP],
  };
}

/**
 * Where the NATS servers' certificate (cert-manager's Secret, or the local CA's files) is mounted: beside the
 * configuration directory, not in it. Compose bind-mounts that directory read-only, and the engine cannot create
 * a mount point inside it (runc: "mkdir …/etc/nats/tls: read-only file system", so nats never started).
 */
export const NATS_TLS_DIR = '/etc/nats-tls';

/** The NATS servers' wrapper (`sh -c`): the check that reloads a renewed certificate, then nats-server. */
const NATS_START = [
  'sh',
  '-c',
  [
    ...certificateReloadCheck({ cert: `${NATS_TLS_DIR}/${MTLS_FILES.cert}`, server: 'nats-server', log: 'nats-start' }),
    'exec nats-server "$@"',
  ].join('\n'),
  'nats-start',
] as const;

function nats(ctx: BuildContext): Component {
  const replicas = ctx.config.nats.replicas;
  const storeDir = '/data/jetstream';
  const routes = Array.from(
    { length: replicas },
    (_, i) => `nats://nats-${i}.${headless('nats')}.${ctx.namespace}.svc.cluster.local:${PORTS.natsCluster}`,
  );
  // JetStream may fill 80% of the volume; the rest is headroom for compaction.
  const maxFileStore = Math.floor((bytes(size(ctx, 'nats')) ?? 0) * 0.8);
  const users = new Map(
    Object.entries(NATS_PERMISSIONS).map(([service, p]) => [workloadSpiffeId(service as ServiceName), p]),
  );
  return {
    ...stateful,
    name: 'nats',
    description: 'NATS with JetStream: durable event streams',
    image: DATA_IMAGES.nats,
    command: NATS_START,
    args: ['--config', '/etc/nats/nats-server.conf'],
    ports: [
      { name: 'client', port: PORTS.natsClient, publish: true },
      { name: 'cluster', port: PORTS.natsCluster },
      // Not published: the probes and the exporter reach it on the pod's network, nobody from outside.
      { name: 'monitor', port: PORTS.natsMonitor },
    ],
    env: { SERVER_NAME: { field: 'metadata.name' } },
    liveness: probe(httpGet('/healthz?js-enabled-only=true', 'monitor'), 10, 30, { timeoutSeconds: 5 }),
    readiness: probe(httpGet('/healthz?js-server-only=true', 'monitor'), 10, 10, { timeoutSeconds: 5 }),
    resources: ctx.config.resources.nats,
    scaling: { replicas },
    persistence: { mountPath: '/data', size: size(ctx, 'nats') },
    configFiles: [
      {
        name: 'nats-server.conf',
        mountPath: '/etc/nats',
        content: natsServerConf({
          clientPort: PORTS.natsClient,
          monitorPort: PORTS.natsMonitor,
          clusterPort: PORTS.natsCluster,
          storeDir,
          routes,
          maxFileStore: String(maxFileStore),
          tls: {
            cert: `${NATS_TLS_DIR}/${MTLS_FILES.cert}`,
            key: `${NATS_TLS_DIR}/${MTLS_FILES.key}`,
            ca: `${NATS_TLS_DIR}/${MTLS_FILES.ca}`,
          },
          serverIdentity: workloadSpiffeId(NATS_WORKLOAD),
          users,
        }),
      },
    ],
    writablePaths: [TMP],
    // Clients dial `nats`; cluster members dial each other by their headless names.
    identity: {
      uri: workloadSpiffeId(NATS_WORKLOAD),
      dnsNames: [NATS_WORKLOAD, ...Array.from({ length: replicas }, (_, i) => `nats-${i}.${headless('nats')}`)],
      mountPath: NATS_TLS_DIR,
    },
    flows: replicas > 1 ? [{ to: 'nats', port: 'cluster' }] : [],
  };
}

const CONSUL_CONFIG_DIR = '/consul/config';
const CONSUL_SETUP_DIR = '/etc/consul-setup';
/** The management token's variable in the server and its set-up (the Consul CLI reads CONSUL_HTTP_TOKEN). */
const CONSUL_MANAGEMENT_VAR = 'CONSUL_HTTP_TOKEN';

/** The tokens the set-up creates: one per registering service, and Prometheus's (metrics only). */
const CONSUL_TOKENS: readonly (ConsulTokenSpec & { readonly secret: SecretKey })[] = [
  ...SERVICE_NAMES.map((s) => ({
    description: `prism ${s}`,
    policy: consulServicePolicy(s),
    secret: CONSUL_SERVICE_TOKENS[s],
  })),
  { description: 'prism prometheus', policy: CONSUL_METRICS_POLICY, secret: CONSUL_METRICS_TOKEN },
].map((t) => ({
  ...t,
  rulesFile: `${CONSUL_SETUP_DIR}/${t.policy.name}.hcl`,
  tokenVar: secretSpec(t.secret).dotenv,
}));

function consul(ctx: BuildContext): Component {
  return {
    ...stateful,
    name: 'consul',
    description: 'Consul: service registration, key-value store, health checks (ACLs: default deny)',
    image: DATA_IMAGES.consul,
    // A shell puts the management token (from the Secret) into a private tmpfs file Consul reads as configuration.
    command: ['/bin/sh', '-c'],
    args: [
      consulStartScript({
        configDir: CONSUL_CONFIG_DIR,
        tokenVar: CONSUL_MANAGEMENT_VAR,
        tokenFile: `${TMP.path}/acl-tokens.hcl`,
      }),
    ],
    ports: [
      { name: 'http', port: PORTS.consulHttp, publish: true },
      { name: 'server', port: PORTS.consulServerRpc },
      { name: 'serf-lan', port: PORTS.consulSerfLan },
    ],
    env: { [CONSUL_MANAGEMENT_VAR]: secret(CONSUL_MANAGEMENT_TOKEN) },
    liveness: probe({ tcp: { port: 'http' } }, 10, 10),
    // /v1/status/* answers without a token.
    readiness: probe(httpGet('/v1/status/leader', 'http'), 5, 5),
    resources: ctx.config.resources.consul,
    persistence: { mountPath: '/consul/data', size: size(ctx, 'consul') },
    configFiles: [
      {
        name: 'server.hcl',
        mountPath: CONSUL_CONFIG_DIR,
        content: consulHcl({ bootstrapExpect: 1, retryJoin: [] }),
        composeContent: consulHcl({ bootstrapExpect: 1, retryJoin: [], bindSubnet: COMPOSE_DATA_SUBNET }),
      },
    ],
    writablePaths: [TMP],
    // Consul runs the HTTP health checks the services register (their /health/ready).
    flows: SERVICE_NAMES.map((s) => ({ to: s, port: 'metrics' })),
    // Its own Prometheus endpoint: raft, autopilot, catalog; only for Prometheus's token (agent read).
    metricsPort: 'http',
    metricsPath: '/v1/agent/metrics',
    metricsParams: { format: 'prometheus' },
    metricsToken: CONSUL_METRICS_TOKEN,
    tasks: [
      {
        name: 'consul-setup',
        description:
          'Create the Consul ACL policies and tokens: one per registering service (its own name only), one for Prometheus (metrics only)',
        image: DATA_IMAGES.consul,
        command: ['/bin/sh'],
        args: [`${CONSUL_SETUP_DIR}/setup.sh`],
        configFiles: [
          { name: 'setup.sh', mountPath: CONSUL_SETUP_DIR, content: consulSetupScript(CONSUL_TOKENS) },
          ...CONSUL_TOKENS.map((t) => ({
            name: `${t.policy.name}.hcl`,
            mountPath: CONSUL_SETUP_DIR,
            content: t.policy.rules,
          })),
        ],
        env: {
          CONSUL_HTTP_ADDR: ref('consul', 'http'),
          [CONSUL_MANAGEMENT_VAR]: secret(CONSUL_MANAGEMENT_TOKEN),
          ...Object.fromEntries(CONSUL_TOKENS.map((t) => [t.tokenVar, secret(t.secret)])),
        },
        flows: [{ to: 'consul', port: 'http' }],
      },
    ],
  };
}

function minio(ctx: BuildContext): Component {
  const endpoint = `http://minio:${PORTS.minioApi}`;
  const setupDir = '/etc/minio-setup';
  return {
    ...stateful,
    name: 'minio',
    description: 'MinIO: S3-compatible storage of backups and archived WAL',
    image: DATA_IMAGES.minio,
    // Silo, the maintained fork of the MinIO server: the same server arguments, MINIO_* settings and ports.
    command: ['silo'],
    // --certs-dir: the default (~/.minio/certs) is on the read-only root filesystem.
    args: [
      'server',
      '/data',
      '--address',
      `:${PORTS.minioApi}`,
      '--console-address',
      `:${PORTS.minioConsole}`,
      '--certs-dir',
      '/tmp/minio-certs',
    ],
    ports: [
      { name: 'api', port: PORTS.minioApi, publish: true },
      { name: 'console', port: PORTS.minioConsole, publish: true },
    ],
    env: {
      MINIO_ROOT_USER: value(MINIO_ROOT_USER),
      MINIO_ROOT_PASSWORD: secret('minio-root-password'),
      // Metrics only for a bearer token of a user allowed admin:Prometheus (MINIO_METRICS_USER: Prometheus).
      MINIO_PROMETHEUS_AUTH_TYPE: value('jwt'),
      MINIO_BROWSER_REDIRECT: value('off'),
    },
    liveness: probe(httpGet('/minio/health/live', 'api'), 10, 10),
    readiness: probe(httpGet('/minio/health/ready', 'api'), 5, 5),
    resources: ctx.config.resources.minio,
    persistence: { mountPath: '/data', size: size(ctx, 'minio') },
    writablePaths: [TMP],
    metricsPort: 'api',
    // MinIO serves Prometheus metrics here, not on /metrics.
    metricsPath: '/minio/v2/metrics/cluster',
    metricsToken: 'minio-metrics-token',
    tasks: [
      {
        name: 'minio-setup',
        description: `Create the ${BACKUP_BUCKET} bucket (object lock, retention, lifecycle), the least-privilege ${MINIO_BACKUP_USER} user and the ${MINIO_METRICS_USER} user (metrics only)`,
        image: DATA_IMAGES.mc,
        command: ['/bin/sh'],
        args: [`${setupDir}/setup.sh`],
        configFiles: [
          {
            name: 'setup.sh',
            mountPath: setupDir,
            content: minioSetupScript({
              endpoint,
              bucket: BACKUP_BUCKET,
              backupUser: MINIO_BACKUP_USER,
              policyFile: `${setupDir}/backup-policy.json`,
              metricsUser: MINIO_METRICS_USER,
              metricsPolicyFile: `${setupDir}/metrics-policy.json`,
            }),
          },
          { name: 'backup-policy.json', mountPath: setupDir, content: minioBucketPolicy(BACKUP_BUCKET) },
          { name: 'metrics-policy.json', mountPath: setupDir, content: MINIO_METRICS_POLICY },
        ],
        env: {
          MINIO_ROOT_USER: value(MINIO_ROOT_USER),
          MINIO_ROOT_PASSWORD: secret('minio-root-password'),
          MINIO_BACKUP_SECRET_KEY: secret('minio-backup-secret-key'),
          MINIO_METRICS_SECRET_KEY: secret('minio-metrics-secret-key'),
          // The bucket's default retention: no backup version can be removed, by anyone, before it is this old.
          BACKUP_RETENTION_DAYS: value(ctx.config.backups.retentionDays),
        },
        flows: [{ to: 'minio', port: 'api' }],
      },
    ],
  };
}

export function dataComponents(ctx: BuildContext): Component[] {
  return [postgres(ctx, 'auth'), postgres(ctx, 'ops'), redis(ctx), nats(ctx), consul(ctx), minio(ctx)];
}
