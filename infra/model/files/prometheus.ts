import { CIRCUIT_STATE, METRICS } from '../../contract/index.js';
import { toYaml } from './yaml.js';
import { WATCHDOG_ALERT } from './alertmanager.js';

export interface ScrapeTarget {
  readonly job: string;
  readonly address: string;
  readonly path?: string;
  readonly params?: Readonly<Record<string, string>>;
  /** A file holding the bearer token the endpoint wants. */
  readonly credentialsFile?: string;
}

/** A Kubernetes job of its own for the pods of one app whose metrics want a bearer token. */
interface TokenScrape {
  readonly app: string;
  readonly credentialsFile: string;
}

/** The pod annotation that adds `format=<value>` to the scrape URL (Consul's Prometheus output). */
export const FORMAT_PARAM_ANNOTATION = 'prometheus.io/param-format';

export type Discovery =
  /**
   * Kubernetes: pods annotated `prometheus.io/scrape: "true"` in the namespace (the guide's annotations); the apps
   * in `withToken` in jobs of their own that send the token (and only to them).
   */
  | { readonly kind: 'kubernetes'; readonly namespace: string; readonly withToken?: readonly TokenScrape[] }
  /** Compose: the model's metrics endpoints by service name. */
  | { readonly kind: 'static'; readonly targets: readonly ScrapeTarget[] };

export const RULES_FILE = 'prism-alerts.yml';

/** Each alert's `runbook_url`: its section of the runbook (a repository path; the heading is the alert's name). */
export const RUNBOOK_PATH = 'docs/operations/runbook.md';
const runbookUrl = (alert: string): string => `${RUNBOOK_PATH}#${alert.toLowerCase()}`;

const APP_LABEL = '__meta_kubernetes_pod_label_app_kubernetes_io_name';

/** A job over the namespace's pods annotated for scraping, narrowed by `select` (an app kept or dropped). */
function podJob(name: string, namespace: string, select?: Record<string, unknown>) {
  return {
    job_name: name,
    kubernetes_sd_configs: [{ role: 'pod', namespaces: { names: [namespace] } }],
    relabel_configs: [
      { source_labels: ['__meta_kubernetes_pod_annotation_prometheus_io_scrape'], action: 'keep', regex: 'true' },
      ...(select ? [select] : []),
      {
        source_labels: ['__meta_kubernetes_pod_annotation_prometheus_io_path'],
        action: 'replace',
        target_label: '__metrics_path__',
        regex: '(.+)',
      },
      {
        source_labels: ['__address__', '__meta_kubernetes_pod_annotation_prometheus_io_port'],
        action: 'replace',
        regex: '([^:]+)(?::\\d+)?;(\\d+)',
        replacement: '$1:$2',
        target_label: '__address__',
      },
      {
        source_labels: ['__meta_kubernetes_pod_annotation_prometheus_io_param_format'],
        action: 'replace',
        target_label: '__param_format',
        regex: '(.+)',
      },
      { source_labels: [APP_LABEL], target_label: 'job' },
      { source_labels: ['__meta_kubernetes_pod_name'], target_label: 'pod' },
    ],
  };
}

/** `alertmanager` is `host:port` of the Alertmanager alerts are sent to. */
export function prometheusYaml(discovery: Discovery, rulesDir: string, alertmanager: string): string {
  const scrapeConfigs =
    discovery.kind === 'kubernetes'
      ? [
          podJob(
            'prism-pods',
            discovery.namespace,
            discovery.withToken?.length
              ? { source_labels: [APP_LABEL], action: 'drop', regex: discovery.withToken.map((t) => t.app).join('|') }
              : undefined,
          ),
          ...(discovery.withToken ?? []).map((t) => ({
            ...podJob(t.app, discovery.namespace, { source_labels: [APP_LABEL], action: 'keep', regex: t.app }),
            authorization: { type: 'Bearer', credentials_file: t.credentialsFile },
          })),
        ]
      : discovery.targets.map((t) => ({
          job_name: t.job,
          ...(t.path ? { metrics_path: t.path } : {}),
          ...(t.params ? { params: Object.fromEntries(Object.entries(t.params).map(([k, v]) => [k, [v]])) } : {}),
          ...(t.credentialsFile ? { authorization: { type: 'Bearer', credentials_file: t.credentialsFile } } : {}),
          static_configs: [{ targets: [t.address] }],
        }));
  return toYaml({
    global: { scrape_interval: '15s', evaluation_interval: '15s' },
    alerting: { alertmanagers: [{ static_configs: [{ targets: [alertmanager] }] }] },
    rule_files: [`${rulesDir}/${RULES_FILE}`],
    scrape_configs: scrapeConfigs,
  });
}

/** What the data-store alerts measure against, from the stack's volume sizes. */
export interface StoreLimits {
  /** Volume size in bytes of each PostgreSQL server, by the `job` of its exporter. */
  readonly postgresVolumeBytes: Readonly<Record<string, number>>;
}

const GI = 1024 ** 3;
/** The default volumes (10Gi each), for callers that only need the rules' names. */
const DEFAULT_STORE_LIMITS: StoreLimits = {
  postgresVolumeBytes: { 'postgres-auth-exporter': 10 * GI, 'postgres-ops-exporter': 10 * GI },
};

/** Thresholds of the data-store alerts, as fractions. */
export const STORE_THRESHOLDS = {
  /** Databases plus WAL above this share of the volume. */
  postgresDiskFull: 0.85,
  /** WAL alone above this share of the volume (the archive slot may keep a quarter). */
  postgresWal: 0.2,
  /** A replication slot with less than this share of its WAL allowance (max_slot_wal_keep_size, a quarter of the volume) left. */
  slotSafeWal: 0.2,
  redisMemory: 0.9,
  jetStreamStorage: 0.8,
  minioFree: 0.1,
} as const;

/** One comparison per PostgreSQL server, each against its own volume: `lhs{job="x"} > threshold_x or ...`. */
function perPostgres(
  limits: StoreLimits,
  lhs: (job: string) => string,
  op: '>' | '<',
  threshold: (volumeBytes: number) => number,
): string {
  return Object.entries(limits.postgresVolumeBytes)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([job, volume]) => `${lhs(job)} ${op} ${Math.floor(threshold(volume))}`)
    .join(' or ');
}

/** Alert rules of the production checklist: services down, errors, latency, breakers, backups, the data stores, notification delivery, and the watchdog. */
export function alertRulesYaml(limits: StoreLimits = DEFAULT_STORE_LIMITS): string {
  const rule = (alert: string, expr: string, forDuration: string, severity: string, summary: string) => ({
    alert,
    expr,
    for: forDuration,
    labels: { severity },
    annotations: { summary, runbook_url: runbookUrl(alert) },
  });
  return toYaml({
    groups: [
      {
        name: 'prism-availability',
        rules: [
          rule(
            'PrismTargetDown',
            'up == 0',
            '2m',
            'critical',
            '{{ $labels.job }} ({{ $labels.instance }}) is not answering scrapes',
          ),
          rule(
            'PrismHighErrorRate',
            `sum by (service) (rate(${METRICS.httpRequests}{status=~"5.."}[5m])) / sum by (service) (rate(${METRICS.httpRequests}[5m])) > 0.05`,
            '5m',
            'warning',
            'More than 5% of {{ $labels.service }} requests fail',
          ),
          rule(
            'PrismHighLatencyP99',
            `histogram_quantile(0.99, sum by (le, service) (rate(${METRICS.httpDuration}_bucket[5m]))) > 0.5`,
            '10m',
            'warning',
            'p99 latency of {{ $labels.service }} is above 500 ms',
          ),
        ],
      },
      {
        name: 'prism-gateway',
        rules: [
          rule(
            'PrismCircuitBreakerOpen',
            `max by (upstream) (${METRICS.circuitBreakerState}) == ${CIRCUIT_STATE.open}`,
            '1m',
            'warning',
            'Circuit breaker to {{ $labels.upstream }} is open',
          ),
          rule(
            'PrismRateLimiterRedisFailures',
            `sum(rate(${METRICS.rateLimitRedisFailures}[5m])) > 0`,
            '5m',
            'warning',
            'The gateway rate limiter cannot reach Redis',
          ),
          rule(
            'PrismEventsDropped',
            `sum(rate(${METRICS.events}{result="dropped"}[5m])) > 0`,
            '5m',
            'warning',
            'Request events are being dropped',
          ),
        ],
      },
      {
        name: 'prism-backups',
        rules: [
          rule(
            'PrismBackupMissing',
            `time() - max by (database) (${METRICS.backupLastSuccess}{kind="full"}) > 26 * 3600`,
            '30m',
            'critical',
            'No full backup of {{ $labels.database }} for more than 26 hours',
          ),
          rule(
            'PrismBackupVerificationFailed',
            `min by (database) (${METRICS.backupVerified}) == 0`,
            '5m',
            'critical',
            'Restore verification of {{ $labels.database }} failed',
          ),
        ],
      },
      {
        name: 'prism-datastores',
        rules: [
          rule(
            'PrismPostgresDown',
            'pg_up == 0',
            '1m',
            'critical',
            '{{ $labels.job }} cannot reach its PostgreSQL server',
          ),
          rule(
            'PrismDbPoolExhausted',
            `sum by (service, pool) (${METRICS.dbPoolConnections}{state="waiting"}) > 0 and on (service, pool) ` +
              `sum by (service, pool) (${METRICS.dbPoolConnections}{state="total"}) >= on (service, pool) sum by (service, pool) (${METRICS.dbPoolMax})`,
            '5m',
            'warning',
            'Every connection of the {{ $labels.service }} {{ $labels.pool }} pool is in use and requests queue for one',
          ),
          rule(
            'PrismPostgresDiskFull',
            perPostgres(
              limits,
              (job) =>
                `(sum by (job) (pg_database_size_bytes{job="${job}"}) + sum by (job) (pg_wal_size_bytes{job="${job}"}))`,
              '>',
              (v) => v * STORE_THRESHOLDS.postgresDiskFull,
            ),
            '10m',
            'warning',
            `Databases and WAL behind {{ $labels.job }} fill more than ${STORE_THRESHOLDS.postgresDiskFull * 100}% of the volume`,
          ),
          rule(
            'PrismPostgresWalGrowing',
            perPostgres(
              limits,
              (job) => `sum by (job) (pg_wal_size_bytes{job="${job}"})`,
              '>',
              (v) => v * STORE_THRESHOLDS.postgresWal,
            ),
            '15m',
            'warning',
            `WAL behind {{ $labels.job }} takes more than ${STORE_THRESHOLDS.postgresWal * 100}% of the volume: a replication slot or archiving is holding it`,
          ),
          rule(
            'PrismPostgresReplicationSlotInactive',
            'pg_replication_slot_slot_is_active == 0',
            '30m',
            'warning',
            'Replication slot {{ $labels.slot_name }} ({{ $labels.job }}) has no consumer: WAL piles up behind it',
          ),
          rule(
            'PrismPostgresReplicationSlotAtRisk',
            `${perPostgres(
              limits,
              (job) => `pg_replication_slot_safe_wal_size_bytes{job="${job}"}`,
              '<',
              (v) => (v / 4) * STORE_THRESHOLDS.slotSafeWal,
            )} or pg_replication_slot_wal_status{wal_status=~"unreserved|lost"} == 1`,
            '5m',
            'critical',
            'Replication slot {{ $labels.slot_name }} ({{ $labels.job }}) is about to lose, or has lost, the WAL it needs: WAL archiving breaks',
          ),
          rule('PrismRedisDown', 'redis_up == 0', '1m', 'critical', 'redis_exporter cannot reach Redis'),
          rule(
            'PrismRedisMemoryHigh',
            `redis_memory_used_bytes / redis_memory_max_bytes > ${STORE_THRESHOLDS.redisMemory} and redis_memory_max_bytes > 0`,
            '10m',
            'warning',
            `Redis uses more than ${STORE_THRESHOLDS.redisMemory * 100}% of maxmemory: keys are being evicted`,
          ),
          rule(
            'PrismNatsDown',
            'absent(gnatsd_varz_connections)',
            '2m',
            'critical',
            'No NATS server answers the exporter',
          ),
          rule(
            'PrismNatsJetStreamStorageHigh',
            `gnatsd_varz_jetstream_stats_storage / gnatsd_varz_jetstream_config_max_storage > ${STORE_THRESHOLDS.jetStreamStorage} and gnatsd_varz_jetstream_config_max_storage > 0`,
            '10m',
            'warning',
            `JetStream file storage of {{ $labels.server_id }} is more than ${STORE_THRESHOLDS.jetStreamStorage * 100}% full: publishes will be refused`,
          ),
          rule('PrismConsulDown', 'up{job="consul"} == 0', '2m', 'critical', 'Consul is not answering scrapes'),
          rule(
            'PrismConsulUnhealthy',
            'consul_autopilot_healthy == 0',
            '5m',
            'critical',
            'Consul autopilot reports the server cluster unhealthy',
          ),
          rule(
            'PrismMinioDown',
            'up{job="minio"} == 0',
            '2m',
            'critical',
            'MinIO (backups, WAL archive) is not answering scrapes',
          ),
          rule(
            'PrismMinioDiskFull',
            `minio_cluster_capacity_usable_free_bytes / minio_cluster_capacity_usable_total_bytes < ${STORE_THRESHOLDS.minioFree}`,
            '10m',
            'warning',
            `MinIO has less than ${STORE_THRESHOLDS.minioFree * 100}% of its capacity free: backups will start failing`,
          ),
        ],
      },
      {
        name: 'prism-alerting',
        rules: [
          rule(
            'PrismAlertmanagerNotificationsFailing',
            'sum by (integration) (rate(alertmanager_notifications_failed_total[5m])) > 0',
            '10m',
            'critical',
            'Alertmanager fails to deliver notifications through {{ $labels.integration }}',
          ),
        ],
      },
      {
        // The dead man's switch: always firing, so its absence at the heartbeat receiver means the path from rule
        // evaluation to notification is broken (alerting.heartbeat routes it; see alertmanagerYaml).
        name: 'prism-watchdog',
        rules: [
          rule(
            WATCHDOG_ALERT,
            'vector(1)',
            '0s',
            'none',
            'Always firing: rules are evaluated and alerts reach Alertmanager (and the heartbeat receiver, when set)',
          ),
        ],
      },
    ],
  });
}
