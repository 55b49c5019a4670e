import { PORTS } from '../../contract/index.js';
import { alertRulesYaml, prometheusYaml, RULES_FILE } from '../files/prometheus.js';
import { grafanaDashboardProviderYaml, grafanaDashboards, grafanaDatasourcesYaml } from '../files/grafana.js';
import { lokiYaml } from '../files/loki.js';
import type { Component, Image } from '../types.js';
import { type BuildContext, RUN_AS, httpGet, probe, secret, value, TMP, resources } from './common.js';

export const OBSERVABILITY_IMAGES = {
  prometheus: { repository: 'prom/prometheus', tag: 'v2.55.1' },
  grafana: { repository: 'grafana/grafana', tag: '11.3.1' },
  loki: { repository: 'grafana/loki', tag: '3.3.0' },
  promtail: { repository: 'grafana/promtail', tag: '3.3.0' },
  jaeger: { repository: 'jaegertracing/all-in-one', tag: '1.63.0' },
} as const satisfies Record<string, Image>;

const base = {
  layer: 'observability',
  tier: 'observability',
  tasks: [],
  flows: [],
  user: RUN_AS,
  terminationGracePeriodSeconds: 30,
  scaling: { replicas: 1 },
  writablePaths: [TMP],
} as const;

export const PROMETHEUS_RULES_DIR = '/etc/prometheus/rules';
export const GRAFANA_DASHBOARDS_DIR = '/etc/grafana/dashboards';

function prometheus(ctx: BuildContext, scraped: readonly Component[]): Component {
  return {
    ...base,
    name: 'prometheus',
    description: 'Prometheus: scrapes every annotated pod, evaluates the alert rules',
    image: OBSERVABILITY_IMAGES.prometheus,
    args: [
      '--config.file=/etc/prometheus/prometheus.yml',
      '--storage.tsdb.path=/prometheus',
      '--storage.tsdb.retention.time=15d',
      '--web.enable-lifecycle',
    ],
    ports: [{ name: 'http', port: PORTS.prometheus, publish: true }],
    env: {},
    liveness: probe(httpGet('/-/healthy', 'http'), 10, 15),
    readiness: probe(httpGet('/-/ready', 'http'), 5, 5),
    resources: resources(['200m', '1'], ['512Mi', '2Gi']),
    persistence: { mountPath: '/prometheus', size: ctx.config.storage.sizes.prometheus },
    configFiles: [
      { name: 'prometheus.yml', mountPath: '/etc/prometheus', content: prometheusYaml({ kind: 'kubernetes', namespace: ctx.namespace }, PROMETHEUS_RULES_DIR) },
      { name: RULES_FILE, mountPath: PROMETHEUS_RULES_DIR, content: alertRulesYaml() },
    ],
    apiAccess: ['pods', 'services', 'endpoints'],
    externalEgress: [
      { port: 443, reason: 'Kubernetes API (pod discovery)' },
      { port: 6443, reason: 'Kubernetes API (pod discovery)' },
    ],
    // Scraping: every component with a metrics port, on that port.
    flows: scraped.filter((c) => c.metricsPort).map((c) => ({ to: c.name, port: c.metricsPort! })),
  };
}

function jaeger(): Component {
  return {
    ...base,
    name: 'jaeger',
    description: 'Jaeger: receives OTLP traces from the services',
    image: OBSERVABILITY_IMAGES.jaeger,
    ports: [
      { name: 'ui', port: PORTS.jaegerUi, publish: true },
      { name: 'otlp-grpc', port: PORTS.jaegerOtlpGrpc },
      { name: 'otlp-http', port: PORTS.jaegerOtlpHttp },
      { name: 'admin', port: PORTS.jaegerAdmin },
    ],
    env: {
      COLLECTOR_OTLP_ENABLED: value('true'),
      SPAN_STORAGE_TYPE: value('badger'),
      BADGER_EPHEMERAL: value('false'),
      BADGER_DIRECTORY_VALUE: value('/badger/data'),
      BADGER_DIRECTORY_KEY: value('/badger/key'),
    },
    liveness: probe({ tcp: { port: 'admin' } }, 10, 10),
    readiness: probe(httpGet('/', 'admin'), 5, 5),
    resources: resources(['100m', '500m'], ['256Mi', '1Gi']),
    persistence: { mountPath: '/badger', size: '5Gi' },
    configFiles: [],
    metricsPort: 'admin',
  };
}

function loki(ctx: BuildContext): Component {
  const dataDir = '/loki';
  return {
    ...base,
    name: 'loki',
    description: 'Loki: log aggregation',
    image: OBSERVABILITY_IMAGES.loki,
    args: ['-config.file=/etc/loki/loki.yaml'],
    ports: [{ name: 'http', port: PORTS.loki, publish: true }],
    env: {},
    liveness: probe({ tcp: { port: 'http' } }, 30, 15),
    readiness: probe(httpGet('/ready', 'http'), 10, 10),
    resources: resources(['100m', '1'], ['256Mi', '1Gi']),
    persistence: { mountPath: dataDir, size: ctx.config.storage.sizes.loki },
    configFiles: [{ name: 'loki.yaml', mountPath: '/etc/loki', content: lokiYaml(PORTS.loki, dataDir, 14) }],
    metricsPort: 'http',
  };
}

function grafana(ctx: BuildContext): Component {
  const dashboards = grafanaDashboards();
  return {
    ...base,
    name: 'grafana',
    description: 'Grafana: provisioned data sources and the Prism dashboards',
    image: OBSERVABILITY_IMAGES.grafana,
    ports: [{ name: 'http', port: PORTS.grafana, publish: true }],
    env: {
      GF_SECURITY_ADMIN_USER: value('admin'),
      GF_SECURITY_ADMIN_PASSWORD: secret('grafana-admin-password'),
      GF_USERS_ALLOW_SIGN_UP: value('false'),
      GF_ANALYTICS_REPORTING_ENABLED: value('false'),
      GF_ANALYTICS_CHECK_FOR_UPDATES: value('false'),
      GF_PATHS_DATA: value('/var/lib/grafana'),
      GF_PATHS_PROVISIONING: value('/etc/grafana/provisioning'),
      // Logs to stdout only: the default file mode writes under /var/log on the read-only root.
      GF_LOG_MODE: value('console'),
    },
    liveness: probe({ tcp: { port: 'http' } }, 30, 10),
    readiness: probe(httpGet('/api/health', 'http'), 5, 5),
    resources: resources(['50m', '500m'], ['128Mi', '512Mi']),
    persistence: { mountPath: '/var/lib/grafana', size: ctx.config.storage.sizes.grafana },
    configFiles: [
      {
        name: 'datasources.yaml',
        mountPath: '/etc/grafana/provisioning/datasources',
        content: grafanaDatasourcesYaml({
          prometheusUrl: `http://prometheus:${PORTS.prometheus}`,
          lokiUrl: `http://loki:${PORTS.loki}`,
          jaegerUrl: `http://jaeger:${PORTS.jaegerUi}`,
        }),
      },
      { name: 'dashboards.yaml', mountPath: '/etc/grafana/provisioning/dashboards', content: grafanaDashboardProviderYaml(GRAFANA_DASHBOARDS_DIR) },
      ...Object.entries(dashboards).map(([name, content]) => ({ name, mountPath: GRAFANA_DASHBOARDS_DIR, content })),
    ],
    flows: [
      { to: 'prometheus', port: 'http' },
      { to: 'loki', port: 'http' },
      { to: 'jaeger', port: 'ui' },
    ],
    metricsPort: 'http',
  };
}

/** The observability stack; Prometheus scrapes the given components. */
export function observabilityComponents(ctx: BuildContext, scraped: readonly Component[]): Component[] {
  const stack = [jaeger(), loki(ctx), grafana(ctx)];
  return [prometheus(ctx, [...scraped, ...stack]), ...stack];
}
