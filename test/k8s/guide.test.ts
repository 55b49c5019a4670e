import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { gatewayConfigSchema, stackSecretKeys } from '../../infra/contract/index.js';
import { alertingSecretKeys } from '../../infra/model/files/alertmanager.js';
import { ENVIRONMENTS, find, synth } from '../support/synth.js';

/** The guide's Kubernetes objects are the floor of what every environment renders. */
describe('the deployment guide’s objects (prod)', () => {
  const { objects, stack } = synth('prod');
  const gateway = find(objects, 'Deployment', 'gateway') as any;
  const pod = gateway.spec.template;
  const container = pod.spec.containers[0];
  const env = Object.fromEntries(container.env.map((e: any) => [e.name, e.value ?? e.valueFrom]));

  it('namespace prism', () => expect(find(objects, 'Namespace', 'prism')).toBeDefined());

  it('gateway Deployment: selector, Prometheus annotations, named ports', () => {
    expect(gateway.metadata.namespace).toBe('prism');
    expect(gateway.spec.selector.matchLabels.app).toBe('gateway');
    expect(pod.metadata.annotations).toMatchObject({ 'prometheus.io/scrape': 'true', 'prometheus.io/port': '9080' });
    expect(container.ports.map((p: any) => [p.name, p.containerPort])).toEqual([
      ['http', 8080],
      ['metrics', 9080],
    ]);
  });

  it('gateway env: peers by name and its own Redis user, its password by secret reference', () => {
    expect(env.PRISM_AUTH_GRPC_ADDRESS).toBe('auth:50051');
    expect(env.PRISM_CONFIG_GRPC_ADDRESS).toBe('config:50052');
    expect(env.PRISM_REDIS_ADDRESS).toBe('redis:6379');
    expect(env.PRISM_REDIS_USERNAME).toBe('gateway');
    expect(env.PRISM_REDIS_PASSWORD).toEqual({
      secretKeyRef: { name: 'prism-secrets', key: 'redis-gateway-password' },
    });
    expect(env.PRISM_GATEWAY_CACHE_KEY).toEqual({ secretKeyRef: { name: 'prism-secrets', key: 'gateway-cache-key' } });
  });

  it('gateway resources and probes', () => {
    expect(container.resources.requests).toMatchObject({ cpu: '100m', memory: '128Mi' });
    expect(container.resources.limits).toMatchObject({ cpu: '500m', memory: '256Mi' });
    expect(container.livenessProbe).toMatchObject({
      httpGet: { path: '/health/live', port: 9080 },
      initialDelaySeconds: 5,
      periodSeconds: 10,
    });
    expect(container.readinessProbe).toMatchObject({
      httpGet: { path: '/health/ready', port: 9080 },
      initialDelaySeconds: 5,
      periodSeconds: 5,
    });
  });

  it('gateway Service with the http and metrics ports', () => {
    const svc = find(objects, 'Service', 'gateway') as any;
    expect(svc.spec.selector.app).toBe('gateway');
    expect(svc.spec.ports.map((p: any) => [p.name, p.port, p.targetPort])).toEqual([
      ['http', 8080, 8080],
      ['metrics', 9080, 9080],
    ]);
  });

  it('gateway HPA: 3 to 10 replicas at 70% CPU, and no fixed replica count beside it', () => {
    const hpa = find(objects, 'HorizontalPodAutoscaler', 'gateway-hpa') as any;
    expect(hpa.apiVersion).toBe('autoscaling/v2');
    expect(hpa.spec).toMatchObject({
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'gateway' },
      minReplicas: 3,
      maxReplicas: 10,
      metrics: [
        { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } },
      ],
    });
    expect(gateway.spec.replicas).toBeUndefined();
  });

  it('gateway-config ConfigMap: port 8080, rate limit on at 100 requests/second, valid for the gateway', () => {
    const cm = find(objects, 'ConfigMap', 'gateway-config') as any;
    const doc = gatewayConfigSchema.parse(parse(cm.data['gateway.yaml']));
    expect(doc.server.port).toBe(8080);
    expect(doc.rate_limit).toMatchObject({ enabled: true, requests_per_second: 100 });
  });

  it('Ingresses with TLS from cert-manager, edge rate limiting, /api and health to the gateway, /auth to auth', () => {
    const gateway = find(objects, 'Ingress', 'prism-ingress-gateway') as any;
    const auth = find(objects, 'Ingress', 'prism-ingress-auth') as any;
    // cert-manager issues the shared TLS Secret for the first one only (two would claim one Certificate).
    expect(gateway.metadata.annotations['cert-manager.io/cluster-issuer']).toBe('letsencrypt-prod');
    expect(auth.metadata.annotations['cert-manager.io/cluster-issuer']).toBeUndefined();
    const paths = [];
    for (const ing of [gateway, auth]) {
      expect(ing.metadata.annotations['nginx.ingress.kubernetes.io/limit-rps']).toBe('50');
      expect(ing.spec.ingressClassName).toBe('nginx');
      expect(ing.spec.tls).toEqual([{ hosts: ['api.prism.example.com'], secretName: 'prism-tls' }]);
      paths.push(
        ...ing.spec.rules[0].http.paths.map((p: any) => [
          p.path,
          p.pathType,
          p.backend.service.name,
          p.backend.service.port.number,
        ]),
      );
    }
    expect(paths).toEqual([
      ['/api', 'Prefix', 'gateway', 8080],
      ['/health', 'Exact', 'gateway', 8080],
      ['/ready', 'Exact', 'gateway', 8080],
      ['/live', 'Exact', 'gateway', 8080],
      ['/auth', 'Prefix', 'auth', 8081],
    ]);
    expect(objects.filter((o: any) => o.kind === 'Ingress')).toHaveLength(2);
  });

  it('data stores as StatefulSets with volume claims; NATS is a 3-node JetStream cluster', () => {
    for (const name of ['postgres-auth', 'postgres-ops', 'redis', 'nats', 'minio', 'consul']) {
      const sts = find(objects, 'StatefulSet', name) as any;
      expect(sts.spec.volumeClaimTemplates[0].spec.resources.requests.storage, name).toMatch(/Gi$/);
    }
    expect((find(objects, 'StatefulSet', 'nats') as any).spec.replicas).toBe(3);
    const conf = (find(objects, 'ConfigMap', 'nats-config') as any).data['nats-server.conf'];
    expect(conf).toMatch(/jetstream \{\n {2}store_dir: "\/data\/jetstream"/);
    expect(conf).toMatch(/routes: \[\n {4}nats:\/\/nats-0\.nats-headless\.prism\.svc\.cluster\.local:6222/);
    expect(
      (find(objects, 'StatefulSet', 'postgres-ops') as any).spec.template.spec.containers[0].ports[0].containerPort,
    ).toBe(5433);
  });

  it('the MinIO set-up job, the migration job, scheduled backups and verification', () => {
    expect(objects.find((o) => o.kind === 'Job' && o.metadata.name.startsWith('minio-setup-'))).toBeDefined();
    const migrate = objects.find((o) => o.kind === 'Job' && o.metadata.name === 'db-migrate-0-1-0') as any;
    expect(migrate.spec.template.spec.containers[0].args).toEqual(['migrate', '--all']);
    for (const name of ['backup-auth', 'backup-ops', 'wal-auth', 'wal-ops', 'verify-auth', 'verify-ops'])
      expect(find(objects, 'CronJob', name)).toBeDefined();
    expect((find(objects, 'CronJob', 'backup-auth') as any).spec.schedule).toBe('0 2 * * *');
    const wal = find(objects, 'CronJob', 'wal-auth') as any;
    expect(wal.spec.schedule).toBe('*/15 * * * *');
    expect(wal.spec.jobTemplate.spec.template.spec.containers[0].args).toEqual(['backup', 'auth', 'wal']);
  });

  it('the DB manager restores into a volume claim as large as the larger database; small tasks get no claim', () => {
    const claim = (kind: string, name: string) => {
      const o = find(objects, kind, name) as any;
      const spec =
        kind === 'CronJob'
          ? o.spec.jobTemplate.spec.template.spec
          : kind === 'Job' || kind === 'Deployment'
            ? o.spec.template.spec
            : undefined;
      return spec.volumes.find((v: any) => v.ephemeral)?.ephemeral.volumeClaimTemplate.spec.resources.requests.storage;
    };
    expect(claim('Deployment', 'dbmanager')).toBe('50Gi');
    expect(claim('CronJob', 'backup-auth')).toBe('50Gi');
    expect(claim('CronJob', 'verify-ops')).toBe('50Gi');
    expect(claim('CronJob', 'wal-auth')).toBeUndefined();
    expect(claim('Job', 'db-migrate-0-1-0')).toBeUndefined();
  });

  it('observability: Prometheus with alert rules and pod discovery, Grafana provisioned, Loki, Jaeger OTLP', () => {
    const prom = (find(objects, 'ConfigMap', 'prometheus-config') as any).data;
    expect(prom['prometheus.yml']).toMatch(/__meta_kubernetes_pod_annotation_prometheus_io_scrape/);
    expect(prom['prism-alerts.yml']).toMatch(/PrismCircuitBreakerOpen/);
    const grafana = (find(objects, 'ConfigMap', 'grafana-config') as any).data;
    expect(Object.keys(grafana).sort()).toEqual([
      'dashboards.yaml',
      'datasources.yaml',
      'prism-auth.json',
      'prism-consul.json',
      'prism-datastores.json',
      'prism-gateway.json',
      'prism-minio.json',
      'prism-nats.json',
      'prism-postgres.json',
      'prism-redis.json',
    ]);
    expect(
      (find(objects, 'StatefulSet', 'jaeger') as any).spec.template.spec.containers[0].ports.map(
        (p: any) => p.containerPort,
      ),
    ).toContain(4318);
  });

  it('log shipping: Grafana Alloy (Promtail is at end of life) in its own namespace, when the stack ships logs', () => {
    expect(objects.find((o) => o.metadata.name === 'promtail')).toBeUndefined();
    const alloy = objects.find((o) => o.kind === 'DaemonSet' && o.metadata.name === 'alloy') as any;
    if (!stack.config.observability.logShipping) return expect(alloy).toBeUndefined();
    expect(alloy.metadata.namespace).toBe('prism-logging');
    expect(alloy.spec.template.spec.containers[0].image).toMatch(/^grafana\/alloy:v\d+\.\d+\.\d+$/);
    const config = (objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'alloy-config') as any).data[
      'config.alloy'
    ];
    expect(config).toContain('url = "http://loki.prism.svc.cluster.local:3100/loki/api/v1/push"');
  });

  it("Alertmanager with the stack's receivers, and Prometheus sending to it", () => {
    const am = find(objects, 'Deployment', 'alertmanager') as any;
    const config = parse((find(objects, 'ConfigMap', 'alertmanager-config') as any).data['alertmanager.yml']);
    // And `unrouted`, which notifies nobody, for the watchdog where no heartbeat receiver takes it.
    const a = stack.config.alerting;
    expect(config.receivers.map((r: any) => r.name).sort()).toEqual(
      [...a.receivers.map((r) => r.name), ...(a.heartbeat && a.defaultReceiver ? [] : ['unrouted'])].sort(),
    );
    const prom = parse((find(objects, 'ConfigMap', 'prometheus-config') as any).data['prometheus.yml']);
    expect(prom.alerting.alertmanagers).toEqual([{ static_configs: [{ targets: ['alertmanager:9093'] }] }]);
    // Credentials are mounted from prism-secrets as files, by key; none is written anywhere.
    const secretVolume = am.spec.template.spec.volumes.find((v: any) => v.secret);
    const keys = alertingSecretKeys(stack.config.alerting);
    if (keys.length === 0) return expect(secretVolume).toBeUndefined();
    expect(secretVolume.secret.items.map((i: any) => i.key)).toEqual(keys);
  });
});

describe.each(ENVIRONMENTS)('%s secrets', (env) => {
  const { objects, stack } = synth(env);

  it('renders no Secret object: secrets are only referenced', () => {
    expect(objects.filter((o) => o.kind === 'Secret')).toEqual([]);
  });

  it('syncs every secret key from the store in external mode (notification credentials only for the receivers configured)', () => {
    const es = objects.find((o) => o.kind === 'ExternalSecret') as any;
    if (stack.config.secrets.mode !== 'external') return expect(es).toBeUndefined();
    expect(es.spec.target.name).toBe('prism-secrets');
    const used = alertingSecretKeys(stack.config.alerting);
    const expected = stackSecretKeys({ offsite: !!stack.config.backups.offsite, alertingSecrets: used }).map(
      (k) => k.key,
    );
    expect(es.spec.data.map((d: any) => d.secretKey).sort()).toEqual(expected.sort());
  });
});
