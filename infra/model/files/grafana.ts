import { METRICS } from '../../contract/index.js';
import { toYaml } from './yaml.js';

export interface GrafanaSources {
  readonly prometheusUrl: string;
  readonly lokiUrl: string;
  readonly jaegerUrl: string;
}

/** Provisioned data sources (uids are fixed so dashboards can name them). */
export function grafanaDatasourcesYaml(s: GrafanaSources): string {
  return toYaml({
    apiVersion: 1,
    datasources: [
      { name: 'Prometheus', uid: 'prometheus', type: 'prometheus', access: 'proxy', url: s.prometheusUrl, isDefault: true, editable: false },
      {
        name: 'Loki',
        uid: 'loki',
        type: 'loki',
        access: 'proxy',
        url: s.lokiUrl,
        editable: false,
        // A request id in a log line links to its trace.
        jsonData: { derivedFields: [{ name: 'TraceID', matcherRegex: '"traceId":"(\\w+)"', url: '$${__value.raw}', datasourceUid: 'jaeger' }] },
      },
      { name: 'Jaeger', uid: 'jaeger', type: 'jaeger', access: 'proxy', url: s.jaegerUrl, editable: false },
    ],
  });
}

export function grafanaDashboardProviderYaml(dashboardsDir: string): string {
  return toYaml({
    apiVersion: 1,
    providers: [{ name: 'prism', folder: 'Prism', type: 'file', disableDeletion: true, allowUiUpdates: false, options: { path: dashboardsDir } }],
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
      { title: 'Requests per second by status', expr: `sum by (status) (rate(${METRICS.httpRequests}{${svc('gateway')}}[1m]))`, unit: 'reqps' },
      {
        title: 'Latency p50 / p99',
        expr: `histogram_quantile(0.99, sum by (le) (rate(${METRICS.httpDuration}_bucket{${svc('gateway')}}[5m])))`,
        unit: 's',
      },
      { title: 'Circuit breaker state (0 closed, 1 half-open, 2 open)', expr: `max by (upstream) (${METRICS.circuitBreakerState})` },
      { title: 'Rate-limited requests', expr: `sum by (reason) (rate(${METRICS.rateLimitRejected}[1m]))`, unit: 'reqps' },
      { title: 'Request events', expr: `sum by (result) (rate(${METRICS.events}{${svc('gateway')}}[1m]))` },
      { title: 'CPU seconds per second', expr: `sum by (pod) (rate(process_cpu_seconds_total{job="gateway"}[1m]))` },
    ]),
    'prism-auth.json': dashboard('prism-auth', 'Prism / Auth', [
      { title: 'Logins by outcome', expr: `sum by (outcome) (rate(${METRICS.authLogins}[5m]))` },
      { title: 'Tokens issued', expr: `sum by (kind) (rate(${METRICS.authTokensIssued}[5m]))` },
      { title: 'HTTP requests by status', expr: `sum by (status) (rate(${METRICS.httpRequests}{${svc('auth')}}[1m]))`, unit: 'reqps' },
      { title: 'gRPC requests by code', expr: `sum by (code) (rate(${METRICS.grpcRequests}{${svc('auth')}}[1m]))`, unit: 'reqps' },
    ]),
    'prism-datastores.json': dashboard('prism-datastores', 'Prism / Data stores', [
      { title: 'Targets up', expr: 'up' },
      { title: 'MinIO bucket usage', expr: 'sum by (bucket) (minio_bucket_usage_total_bytes)', unit: 'bytes' },
      { title: 'Hours since last full backup', expr: `(time() - ${METRICS.backupLastSuccess}{kind="full"}) / 3600`, unit: 'h' },
      { title: 'Backup verification (1 = passed)', expr: `${METRICS.backupVerified}` },
    ]),
  };
}
