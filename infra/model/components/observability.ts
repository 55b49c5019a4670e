import {
  DATABASES,
  HEALTH_PATHS,
  MTLS_DIR,
  PORTS,
  REDIS_USERS,
  type DatabaseId,
  pgRole,
  pgTlsUriParams,
  workloadSpiffeId,
} from '../../contract/index.js';
import { ALERTMANAGER_SECRETS_DIR, alertingSecretKeys, alertmanagerYaml } from '../files/alertmanager.js';
import {
  alertRulesYaml,
  prometheusYaml,
  RULES_FILE,
  type ScrapeTarget,
  type StoreLimits,
} from '../files/prometheus.js';
import { grafanaDashboardProviderYaml, grafanaDashboards, grafanaDatasourcesYaml } from '../files/grafana.js';
import { JAEGER_HEALTH_PATH, jaegerYaml } from '../files/jaeger.js';
import { lokiYaml } from '../files/loki.js';
import { bytes, type AlertingConfig } from '../../config/index.js';
import type { Component, Image } from '../types.js';
import { THIRD_PARTY_IMAGES } from '../images.js';
import { type BuildContext, RUN_AS, httpGet, probe, secret, value, TMP } from './common.js';

/** Pinned images of the observability tier (the pins, their support dates and reasons: infra/model/images.ts). */
export const OBSERVABILITY_IMAGES = {
  prometheus: THIRD_PARTY_IMAGES.prometheus,
  grafana: THIRD_PARTY_IMAGES.grafana,
  loki: THIRD_PARTY_IMAGES.loki,
  alloy: THIRD_PARTY_IMAGES.alloy,
  jaeger: THIRD_PARTY_IMAGES.jaeger,
  alertmanager: THIRD_PARTY_IMAGES.alertmanager,
  postgresExporter: THIRD_PARTY_IMAGES.postgresExporter,
  redisExporter: THIRD_PARTY_IMAGES.redisExporter,
  natsExporter: THIRD_PARTY_IMAGES.natsExporter,
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
const GRAFANA_DASHBOARDS_DIR = '/etc/grafana/dashboards';

/** What the data-store alerts compare against: the volume sizes of this stack. */
function storeLimits(ctx: BuildContext): StoreLimits {
  const size = (q: string) => bytes(q) ?? 0;
  return {
    postgresVolumeBytes: {
      'postgres-auth-exporter': size(ctx.config.storage.sizes.postgresAuth),
      'postgres-ops-exporter': size(ctx.config.storage.sizes.postgresOps),
    },
  };
}

/** Where Prometheus finds the bearer tokens of the endpoints that want one (a file per secret key). */
export const PROMETHEUS_SECRETS_DIR = '/etc/prometheus-secrets'; // not inside the read-only config mount
const tokenFile = (c: Component) => `${PROMETHEUS_SECRETS_DIR}/${c.metricsToken!}`;

function prometheus(ctx: BuildContext, scraped: readonly Component[]): Component {
  const withToken = scraped.filter((c) => c.metricsPort && c.metricsToken);
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
    resources: ctx.config.resources.prometheus,
    persistence: { mountPath: '/prometheus', size: ctx.config.storage.sizes.prometheus },
    configFiles: [
      {
        name: 'prometheus.yml',
        mountPath: '/etc/prometheus',
        content: prometheusYaml(
          {
            kind: 'kubernetes',
            namespace: ctx.namespace,
            withToken: withToken.map((c) => ({ app: c.name, credentialsFile: tokenFile(c) })),
          },
          PROMETHEUS_RULES_DIR,
          ALERTMANAGER_TARGET,
        ),
        composeContent: prometheusYaml(
          { kind: 'static', targets: staticTargets(scraped) },
          PROMETHEUS_RULES_DIR,
          ALERTMANAGER_TARGET,
        ),
      },
      { name: RULES_FILE, mountPath: PROMETHEUS_RULES_DIR, content: alertRulesYaml(storeLimits(ctx)) },
    ],
    ...(withToken.length > 0
      ? {
          secretFiles: {
            mountPath: PROMETHEUS_SECRETS_DIR,
            items: withToken.map((c) => ({ secret: c.metricsToken!, file: c.metricsToken! })),
          },
        }
      : {}),
    // Pod discovery through the API server, whose addresses are stack configuration (cluster.apiServer).
    apiAccess: ['pods', 'services', 'endpoints'],
    // Scraping: every component with a metrics port, on that port; alerts to Alertmanager.
    flows: [
      ...scraped.filter((c) => c.metricsPort).map((c) => ({ to: c.name, port: c.metricsPort! })),
      { to: 'alertmanager', port: 'http' },
    ],
  };
}

/** Compose has no pod discovery: every component with a metrics port, by its name (a host name in every renderer). */
function staticTargets(scraped: readonly Component[]): ScrapeTarget[] {
  return scraped
    .filter((c) => c.metricsPort)
    .map((c) => ({
      job: c.name,
      address: `${c.name}:${c.ports.find((p) => p.name === c.metricsPort)!.port}`,
      path: c.metricsPath ?? HEALTH_PATHS.metrics,
      ...(c.metricsParams ? { params: c.metricsParams } : {}),
      ...(c.metricsToken ? { credentialsFile: tokenFile(c) } : {}),
    }));
}

/** Host and port Prometheus sends alerts to (component names are host names in every renderer). */
const ALERTMANAGER_TARGET = `alertmanager:${PORTS.alertmanager}`;

function alertmanager(ctx: BuildContext): Component {
  const keys = alertingSecretKeys(ctx.config.alerting);
  return {
    ...base,
    name: 'alertmanager',
    description: 'Alertmanager: routes the alerts Prometheus fires to the receivers of the stack configuration',
    image: OBSERVABILITY_IMAGES.alertmanager,
    args: [
      '--config.file=/etc/alertmanager/alertmanager.yml',
      '--storage.path=/alertmanager',
      `--web.listen-address=:${PORTS.alertmanager}`,
      // One instance: no gossip port to open (an empty address turns clustering off).
      '--cluster.listen-address=',
    ],
    ports: [{ name: 'http', port: PORTS.alertmanager, publish: true }],
    env: {},
    liveness: probe(httpGet('/-/healthy', 'http'), 10, 15),
    readiness: probe(httpGet('/-/ready', 'http'), 5, 5),
    resources: ctx.config.resources.alertmanager,
    configFiles: [
      { name: 'alertmanager.yml', mountPath: '/etc/alertmanager', content: alertmanagerYaml(ctx.config.alerting) },
    ],
    ...(keys.length > 0
      ? { secretFiles: { mountPath: ALERTMANAGER_SECRETS_DIR, items: keys.map((k) => ({ secret: k, file: k })) } }
      : {}),
    // Silences and the notification log: lost on restart, which re-sends at most one notification per group.
    writablePaths: [TMP, { path: '/alertmanager', size: '64Mi' }],
    singleton:
      'a second instance would need Alertmanager clustering (gossip between replicas) or every notification is sent twice',
    metricsPort: 'http',
    // Receivers are outside the platform: only their ports, and only the ranges the stack allows (alerting.egressCidrs).
    ...(ctx.config.alerting.egressCidrs
      ? { externalEgress: receiverEgress(ctx.config.alerting), externalEgressCidrs: ctx.config.alerting.egressCidrs }
      : {}),
  };
}

const urlPort = (u: string): number => {
  const url = new URL(u);
  return url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
};

/** The ports the configured receivers (or the proxy in front of the HTTP ones) are reached on. */
function receiverEgress(a: AlertingConfig): { port: number; reason: string }[] {
  const out = new Map<number, string[]>();
  const add = (port: number, what: string) => out.set(port, [...(out.get(port) ?? []), what]);
  const http = (port: number, what: string) =>
    a.proxyUrl ? add(urlPort(a.proxyUrl), `egress proxy for ${what}`) : add(port, what);
  for (const r of a.receivers) {
    if (r.slack) http(443, `Slack (${r.name})`);
    if (r.pagerduty) http(443, `PagerDuty (${r.name})`);
    if (r.webhook) http(urlPort(r.webhook.url), `webhook (${r.name})`);
    if (r.email) add(Number(r.email.smarthost.split(':').at(-1)), `SMTP relay (${r.name})`);
  }
  return [...out]
    .sort(([a], [b]) => a - b)
    .map(([port, what]) => ({ port, reason: `notifications: ${[...new Set(what)].join(', ')}` }));
}

const exporterBase = (ctx: BuildContext) =>
  ({
    ...base,
    env: {},
    configFiles: [],
    resources: ctx.config.resources.exporters,
    metricsPort: 'metrics',
    singleton: 'a second exporter would double every series of its store, and the sums the disk alerts take with them',
  }) as const;

function postgresExporter(ctx: BuildContext, db: DatabaseId): Component {
  const d = DATABASES[db];
  const port = db === 'auth' ? PORTS.postgresAuth : PORTS.postgresOps;
  const name = `${d.component}-exporter` as const;
  return {
    ...exporterBase(ctx),
    name,
    description: `postgres_exporter: metrics of ${d.name} (up, size, WAL, replication slots)`,
    image: OBSERVABILITY_IMAGES.postgresExporter,
    args: [`--web.listen-address=:${PORTS.postgresExporter}`],
    ports: [{ name: 'metrics', port: PORTS.postgresExporter }],
    env: {
      // verify-full against the mesh CA: lib/pq checks the chain and the name it dialled before sending the password.
      DATA_SOURCE_URI: value(`${d.component}:${port}/${d.name}?${pgTlsUriParams()}`),
      // Its own role: pg_monitor's statistics and settings, no table data.
      DATA_SOURCE_USER: value(pgRole(db, 'monitor').name),
      DATA_SOURCE_PASS: secret(pgRole(db, 'monitor').password!),
    },
    liveness: probe({ tcp: { port: 'metrics' } }, 10, 15),
    readiness: probe(httpGet('/', 'metrics'), 5, 10),
    flows: [{ to: d.component, port: 'postgres' }],
    metricsOf: d.component,
    // Only the CA certificate, to verify its database (no key: it authenticates with its password).
    identity: { uri: workloadSpiffeId(name), dnsNames: [], mountPath: MTLS_DIR, verifyOnly: true },
  };
}

function redisExporter(ctx: BuildContext): Component {
  return {
    ...exporterBase(ctx),
    name: 'redis-exporter',
    description: 'redis_exporter: metrics of Redis (up, memory against maxmemory)',
    image: OBSERVABILITY_IMAGES.redisExporter,
    ports: [{ name: 'metrics', port: PORTS.redisExporter }],
    env: {
      REDIS_ADDR: { ref: { component: 'redis', port: 'redis' } },
      // Its own ACL user: server statistics, no key, no CONFIG.
      REDIS_USER: value(REDIS_USERS.exporter.name),
      REDIS_PASSWORD: secret(REDIS_USERS.exporter.password),
      REDIS_EXPORTER_WEB_LISTEN_ADDRESS: value(`:${PORTS.redisExporter}`),
    },
    liveness: probe({ tcp: { port: 'metrics' } }, 10, 15),
    readiness: probe(httpGet('/health', 'metrics'), 5, 10),
    flows: [{ to: 'redis', port: 'redis' }],
    metricsOf: 'redis',
  };
}

function natsExporter(ctx: BuildContext): Component {
  return {
    ...exporterBase(ctx),
    name: 'nats-exporter',
    description: 'prometheus-nats-exporter: server and JetStream metrics from the NATS monitoring port',
    image: OBSERVABILITY_IMAGES.natsExporter,
    args: ['-varz', '-jsz=all', '-port', String(PORTS.natsExporter), `http://nats:${PORTS.natsMonitor}`],
    ports: [{ name: 'metrics', port: PORTS.natsExporter }],
    liveness: probe({ tcp: { port: 'metrics' } }, 10, 15),
    readiness: probe(httpGet('/metrics', 'metrics'), 5, 10),
    flows: [{ to: 'nats', port: 'monitor' }],
    metricsOf: 'nats',
  };
}

const JAEGER_CONFIG_DIR = '/etc/jaeger';
const JAEGER_DATA_DIR = '/badger';

function jaeger(ctx: BuildContext): Component {
  return {
    ...base,
    name: 'jaeger',
    description:
      'Jaeger v2 (OpenTelemetry Collector based): receives OTLP traces from the services, serves the query API and UI',
    image: OBSERVABILITY_IMAGES.jaeger,
    args: ['--config', `${JAEGER_CONFIG_DIR}/config.yaml`],
    ports: [
      { name: 'ui', port: PORTS.jaegerUi, publish: true },
      { name: 'otlp-grpc', port: PORTS.jaegerOtlpGrpc },
      { name: 'otlp-http', port: PORTS.jaegerOtlpHttp },
      { name: 'health', port: PORTS.jaegerHealth },
      { name: 'metrics', port: PORTS.jaegerMetrics },
    ],
    env: {},
    liveness: probe({ tcp: { port: 'health' } }, 10, 10),
    readiness: probe(httpGet(JAEGER_HEALTH_PATH, 'health'), 5, 5),
    resources: ctx.config.resources.jaeger,
    persistence: { mountPath: JAEGER_DATA_DIR, size: '5Gi' },
    configFiles: [
      {
        name: 'config.yaml',
        mountPath: JAEGER_CONFIG_DIR,
        content: jaegerYaml({
          host: '0.0.0.0',
          ports: {
            query: PORTS.jaegerUi,
            otlpGrpc: PORTS.jaegerOtlpGrpc,
            otlpHttp: PORTS.jaegerOtlpHttp,
            health: PORTS.jaegerHealth,
            metrics: PORTS.jaegerMetrics,
          },
          storage: { badger: { dir: JAEGER_DATA_DIR, retentionHours: 72 } },
        }),
      },
    ],
    metricsPort: 'metrics',
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
    resources: ctx.config.resources.loki,
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
    resources: ctx.config.resources.grafana,
    persistence: { mountPath: '/var/lib/grafana', size: ctx.config.storage.sizes.grafana },
    configFiles: [
      {
        name: 'datasources.yaml',
        mountPath: '/etc/grafana/provisioning/datasources',
        content: grafanaDatasourcesYaml({
          prometheusUrl: `http://prometheus:${PORTS.prometheus}`,
          lokiUrl: `http://loki:${PORTS.loki}`,
          jaegerUrl: `http://jaeger:${PORTS.jaegerUi}`,
          alertmanagerUrl: `http://alertmanager:${PORTS.alertmanager}`,
        }),
      },
      {
        name: 'dashboards.yaml',
        mountPath: '/etc/grafana/provisioning/dashboards',
        content: grafanaDashboardProviderYaml(GRAFANA_DASHBOARDS_DIR),
      },
      ...Object.entries(dashboards).map(([name, content]) => ({ name, mountPath: GRAFANA_DASHBOARDS_DIR, content })),
    ],
    flows: [
      { to: 'prometheus', port: 'http' },
      { to: 'loki', port: 'http' },
      { to: 'jaeger', port: 'ui' },
      { to: 'alertmanager', port: 'http' },
    ],
    metricsPort: 'http',
  };
}

/** The observability stack; Prometheus scrapes the given components. */
export function observabilityComponents(ctx: BuildContext, scraped: readonly Component[]): Component[] {
  const stack = [
    jaeger(ctx),
    loki(ctx),
    grafana(ctx),
    alertmanager(ctx),
    postgresExporter(ctx, 'auth'),
    postgresExporter(ctx, 'ops'),
    redisExporter(ctx),
    natsExporter(ctx),
  ];
  return [prometheus(ctx, [...scraped, ...stack]), ...stack];
}
