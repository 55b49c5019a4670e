import { CIRCUIT_STATE, METRICS } from '../../contract/index.js';
import { toYaml } from './yaml.js';

export interface ScrapeTarget {
  readonly job: string;
  readonly address: string;
  readonly path?: string;
}

export type Discovery =
  /** Kubernetes: pods annotated `prometheus.io/scrape: "true"` in the namespace (the guide's annotations). */
  | { readonly kind: 'kubernetes'; readonly namespace: string }
  /** Compose: the model's metrics endpoints by service name. */
  | { readonly kind: 'static'; readonly targets: readonly ScrapeTarget[] };

export const RULES_FILE = 'prism-alerts.yml';

/** Each alert's `runbook_url`: its section of the runbook (a repository path; the heading is the alert's name). */
export const RUNBOOK_PATH = 'docs/operations/runbook.md';
export const runbookUrl = (alert: string): string => `${RUNBOOK_PATH}#${alert.toLowerCase()}`;

export function prometheusYaml(discovery: Discovery, rulesDir: string): string {
  const scrapeConfigs =
    discovery.kind === 'kubernetes'
      ? [
          {
            job_name: 'prism-pods',
            kubernetes_sd_configs: [{ role: 'pod', namespaces: { names: [discovery.namespace] } }],
            relabel_configs: [
              { source_labels: ['__meta_kubernetes_pod_annotation_prometheus_io_scrape'], action: 'keep', regex: 'true' },
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
              { source_labels: ['__meta_kubernetes_pod_label_app_kubernetes_io_name'], target_label: 'job' },
              { source_labels: ['__meta_kubernetes_pod_name'], target_label: 'pod' },
            ],
          },
        ]
      : discovery.targets.map((t) => ({
          job_name: t.job,
          ...(t.path ? { metrics_path: t.path } : {}),
          static_configs: [{ targets: [t.address] }],
        }));
  return toYaml({
    global: { scrape_interval: '15s', evaluation_interval: '15s' },
    rule_files: [`${rulesDir}/${RULES_FILE}`],
    scrape_configs: scrapeConfigs,
  });
}

/** Alert rules of the production checklist: services down, errors, latency, breakers, backups. */
export function alertRulesYaml(): string {
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
          rule('PrismTargetDown', 'up == 0', '2m', 'critical', '{{ $labels.job }} ({{ $labels.instance }}) is not answering scrapes'),
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
          rule('PrismEventsDropped', `sum(rate(${METRICS.events}{result="dropped"}[5m])) > 0`, '5m', 'warning', 'Request events are being dropped'),
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
          rule('PrismBackupVerificationFailed', `min by (database) (${METRICS.backupVerified}) == 0`, '5m', 'critical', 'Restore verification of {{ $labels.database }} failed'),
        ],
      },
    ],
  });
}
