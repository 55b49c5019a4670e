import { LOG_TRACE_ID_REGEX, METRICS } from '../../contract/index.js';
import { toYaml } from './yaml.js';

export interface GrafanaSources {
  readonly prometheusUrl: string;
  readonly lokiUrl: string;
  readonly jaegerUrl: string;
  readonly alertmanagerUrl: string;
}

/** Provisioned data sources (uids are fixed so dashboards can name them). */
export function grafanaDatasourcesYaml(s: GrafanaSources): string {
  return toYaml({
    apiVersion: 1,
    datasources: [
      {
        name: 'Prometheus',
        uid: 'prometheus',
        type: 'prometheus',
        access: 'proxy',
        url: s.prometheusUrl,
        isDefault: true,
        editable: false,
      },
      {
        name: 'Loki',
        uid: 'loki',
        type: 'loki',
        access: 'proxy',
        url: s.lokiUrl,
        editable: false,
        // A log line's trace id (written by every service inside a request) links to its trace.
        jsonData: {
          derivedFields: [
            { name: 'TraceID', matcherRegex: LOG_TRACE_ID_REGEX, url: '$${__value.raw}', datasourceUid: 'jaeger' },
          ],
        },
      },
      { name: 'Jaeger', uid: 'jaeger', type: 'jaeger', access: 'proxy', url: s.jaegerUrl, editable: false },
      {
        name: 'Alertmanager',
        uid: 'alertmanager',
        type: 'alertmanager',
        access: 'proxy',
        url: s.alertmanagerUrl,
        editable: false,
        jsonData: { implementation: 'prometheus', handleGrafanaManagedAlerts: false },
      },
    ],
  });
}

export function grafanaDashboardProviderYaml(dashboardsDir: string): string {
  return toYaml({
    apiVersion: 1,
    providers: [
      {
        name: 'prism',
        folder: 'Prism',
        type: 'file',
        disableDeletion: true,
        allowUiUpdates: false,
        options: { path: dashboardsDir },
      },
    ],
  });
}

interface Panel {
  readonly title: string;
  readonly expr: string;
  readonly unit?: string;
}

function dashboard(uid: string, title: string, panels: readonly Panel[]): string {
  return `${JSON.stringify(
    {
      uid,
      title,
      tags: ['prism'],
      schemaVersion: 39,
      version: 1,
      editable: false,
      time: { from: 'now-6h', to: 'now' },
      refresh: '30s',
      panels: panels.map((p, i) => ({
        id: i + 1,
        type: 'timeseries',
        title: p.title,
        datasource: { type: 'prometheus', uid: 'prometheus' },
        gridPos: { h: 8, w: 12, x: (i % 2) * 12, y: Math.floor(i / 2) * 8 },
        fieldConfig: { defaults: { unit: p.unit ?? 'short' }, overrides: [] },
        targets: [{ refId: 'A', expr: p.expr, datasource: { type: 'prometheus', uid: 'prometheus' } }],
      })),
    },
    null,
    2,
  )}\n`;
}

/** Dashboards for the gateway, auth and the data stores, as `file name -> JSON`. */
export function grafanaDashboards(): Record<string, string> {
  const svc = (s: string) => `service="${s}"`;
  return {
    'prism-gateway.json': dashboard('prism-gateway', 'Prism / Gateway', [
      {
        title: 'Requests per second by status',
        expr: `sum by (status) (rate(${METRICS.httpRequests}{${svc('gateway')}}[1m]))`,
        unit: 'reqps',
      },
      {
        title: 'Latency p50 / p99',
        expr: `histogram_quantile(0.99, sum by (le) (rate(${METRICS.httpDuration}_bucket{${svc('gateway')}}[5m])))`,
        unit: 's',
      },
      {
        title: 'Circuit breaker state (0 closed, 1 half-open, 2 open)',
        expr: `max by (upstream) (${METRICS.circuitBreakerState})`,
      },
      {
        title: 'Rate-limited requests',
        expr: `sum by (reason) (rate(${METRICS.rateLimitRejected}[1m]))`,
        unit: 'reqps',
      },
      { title: 'Request events', expr: `sum by (result) (rate(${METRICS.events}{${svc('gateway')}}[1m]))` },
      { title: 'CPU seconds per second', expr: `sum by (pod) (rate(process_cpu_seconds_total{job="gateway"}[1m]))` },
    ]),
    'prism-auth.json': dashboard('prism-auth', 'Prism / Auth', [
      { title: 'Logins by outcome', expr: `sum by (outcome) (rate(${METRICS.authLogins}[5m]))` },
      { title: 'Tokens issued', expr: `sum by (kind) (rate(${METRICS.authTokensIssued}[5m]))` },
      {
        title: 'HTTP requests by status',
        expr: `sum by (status) (rate(${METRICS.httpRequests}{${svc('auth')}}[1m]))`,
        unit: 'reqps',
      },
      {
        title: 'gRPC requests by code',
        expr: `sum by (code) (rate(${METRICS.grpcRequests}{${svc('auth')}}[1m]))`,
        unit: 'reqps',
      },
    ]),
    'prism-datastores.json': dashboard('prism-datastores', 'Prism / Data stores', [
      { title: 'Targets up', expr: 'up' },
      { title: 'MinIO bucket usage', expr: 'sum by (bucket) (minio_bucket_usage_total_bytes)', unit: 'bytes' },
      {
        title: 'Hours since last full backup',
        expr: `(time() - ${METRICS.backupLastSuccess}{kind="full"}) / 3600`,
        unit: 'h',
      },
      { title: 'Backup verification (1 = passed)', expr: `${METRICS.backupVerified}` },
    ]),
    ...storeDashboards(),
  };
}

/** One dashboard per data store, on what its alerts watch (the exporters' and built-in metrics). */
function storeDashboards(): Record<string, string> {
  return {
    'prism-postgres.json': dashboard('prism-postgres', 'Prism / PostgreSQL', [
      { title: 'Up (by exporter)', expr: 'pg_up' },
      { title: 'Database size', expr: 'sum by (job, datname) (pg_database_size_bytes)', unit: 'bytes' },
      { title: 'WAL size', expr: 'sum by (job) (pg_wal_size_bytes)', unit: 'bytes' },
      {
        title: 'Replication slot: WAL left before it is lost',
        expr: 'pg_replication_slot_safe_wal_size_bytes',
        unit: 'bytes',
      },
      { title: 'Replication slot active (1 = streaming)', expr: 'pg_replication_slot_slot_is_active' },
      { title: 'Connections by state', expr: 'sum by (job, state) (pg_stat_activity_count)' },
      {
        title: "Services' connection pools: total / idle / waiting, and the maximum",
        expr: `sum by (service, pool, state) (${METRICS.dbPoolConnections}) or label_replace(sum by (service, pool) (${METRICS.dbPoolMax}), "state", "max", "", "")`,
      },
    ]),
    'prism-redis.json': dashboard('prism-redis', 'Prism / Redis', [
      { title: 'Up', expr: 'redis_up' },
      {
        title: 'Memory used / maxmemory',
        expr: 'redis_memory_used_bytes / redis_memory_max_bytes',
        unit: 'percentunit',
      },
      { title: 'Evicted keys per second', expr: 'rate(redis_evicted_keys_total[5m])' },
      { title: 'Commands per second', expr: 'rate(redis_commands_processed_total[1m])' },
      { title: 'Connected clients', expr: 'redis_connected_clients' },
      {
        title: "Services' Redis connections: ready, and commands not yet answered",
        expr: `sum by (service, connection) (${METRICS.redisConnectionUp}) or sum by (service, connection) (${METRICS.redisCommandsPending})`,
      },
    ]),
    'prism-nats.json': dashboard('prism-nats', 'Prism / NATS', [
      { title: 'Connections', expr: 'gnatsd_varz_connections' },
      {
        title: 'JetStream storage used / limit',
        expr: 'gnatsd_varz_jetstream_stats_storage / gnatsd_varz_jetstream_config_max_storage',
        unit: 'percentunit',
      },
      {
        title: 'JetStream memory used / limit',
        expr: 'gnatsd_varz_jetstream_stats_memory / gnatsd_varz_jetstream_config_max_memory',
        unit: 'percentunit',
      },
      { title: 'Messages in per second', expr: 'rate(gnatsd_varz_in_msgs[1m])' },
      { title: 'Slow consumers', expr: 'gnatsd_varz_slow_consumers' },
    ]),
    'prism-consul.json': dashboard('prism-consul', 'Prism / Consul', [
      { title: 'Up', expr: 'up{job="consul"}' },
      { title: 'Autopilot healthy (1 = healthy)', expr: 'consul_autopilot_healthy' },
      { title: 'Catalog services', expr: 'consul_catalog_services' },
    ]),
    'prism-minio.json': dashboard('prism-minio', 'Prism / MinIO', [
      { title: 'Up', expr: 'up{job="minio"}' },
      {
        title: 'Free capacity',
        expr: 'minio_cluster_capacity_usable_free_bytes / minio_cluster_capacity_usable_total_bytes',
        unit: 'percentunit',
      },
      { title: 'Bucket usage', expr: 'sum by (bucket) (minio_bucket_usage_total_bytes)', unit: 'bytes' },
      { title: 'S3 requests per second', expr: 'sum by (api) (rate(minio_s3_requests_total[1m]))', unit: 'reqps' },
    ]),
  };
}
