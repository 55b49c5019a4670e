import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseStackFile, StackConfigError } from '../../infra/config/index.js';

const FILE = 'stacks/Pulumi.test.yaml';
const API = { apiServer: { cidrs: ['10.0.0.1/32'], port: 6443 } };
const base = { 'prism:domain': 'api.test.example.com', 'prism:images': { tag: '1.2.3' }, 'prism:cluster': API };

function problems(config: Record<string, unknown>, extra: Record<string, unknown> = {}): string[] {
  try {
    parseStackFile({ config: { ...base, ...config }, ...extra }, FILE);
  } catch (e) {
    expect(e).toBeInstanceOf(StackConfigError);
    expect((e as Error).message.startsWith(`${FILE}: invalid stack configuration`)).toBe(true);
    return [...(e as StackConfigError).problems];
  }
  throw new Error('expected the configuration to be rejected');
}

describe('a wrong stack configuration names the file, the key, what was expected and what was found', () => {
  it('an unknown key, with the keys allowed there', () => {
    expect(problems({ 'prism:services': { gateway: { replica: 3 } } })).toEqual([
      'prism:services.gateway.replica: unknown key; expected one of autoscaling, replicas, resources',
    ]);
  });

  it('an unknown top-level prism key', () => {
    expect(problems({ 'prism:domian': 'x' })[0]).toMatch(/^prism:domian: unknown key; expected one of .*domain/);
  });

  it('a key outside the prism namespace', () => {
    expect(problems({ 'aws:region': 'eu-west-1' })).toEqual([
      'aws:region: unknown key; every key is in the prism: namespace (for example prism:domain)',
    ]);
  });

  it('an unknown top-level key of the file', () => {
    expect(problems({}, { confg: {} })).toEqual(['confg: unknown top-level key; expected config']);
  });

  it('a wrong type', () => {
    expect(problems({ 'prism:services': { gateway: { replicas: 'three' } } })).toEqual([
      'prism:services.gateway.replicas: expected number, received string; found "three"',
    ]);
  });

  it('HPA max below min', () => {
    expect(problems({ 'prism:services': { gateway: { autoscaling: { minReplicas: 3, maxReplicas: 2 } } } })).toEqual([
      'prism:services.gateway.autoscaling.maxReplicas: maxReplicas must be at least minReplicas; found 2',
    ]);
  });

  it("cert-manager's namespace that is no Kubernetes name", () => {
    expect(problems({ 'prism:certManager': { namespace: 'Cert_Manager' } })).toEqual([
      "prism:certManager.namespace: expected cert-manager's cluster resource namespace: a Kubernetes name (lower-case letters, digits and '-', at most 63); found \"Cert_Manager\"",
    ]);
  });

  it('the latest tag', () => {
    expect(problems({ 'prism:images': { tag: 'latest' } })).toEqual([
      'prism:images.tag: expected a pinned tag, not latest; found "latest"',
    ]);
  });

  it('a missing required key', () => {
    expect(problems({ 'prism:domain': undefined })).toEqual([
      'prism:domain: expected string, received undefined; found nothing',
    ]);
  });

  it('a bad resource quantity and limits below requests', () => {
    const resources = (cpu: string, limit: string, memoryLimit = '128Mi') => ({
      requests: { cpu, memory: '128Mi' },
      limits: { cpu: limit, memory: memoryLimit },
    });
    expect(problems({ 'prism:services': { auth: { resources: resources('lots', '1') } } })).toEqual([
      'prism:services.auth.resources.requests.cpu: expected a CPU quantity such as 100m or 0.5; found "lots"',
    ]);
    expect(problems({ 'prism:services': { auth: { resources: resources('1', '500m', '64Mi') } } })).toEqual([
      'prism:services.auth.resources.limits.cpu: limits.cpu must be at least requests.cpu; found "500m"',
      'prism:services.auth.resources.limits.memory: limits.memory must be at least requests.memory; found "64Mi"',
    ]);
  });

  it("a workload's sizing: an unknown workload, with the ones there are, and limits below requests", () => {
    expect(problems({ 'prism:resources': { postgres: {} } })[0]).toMatch(
      /^prism:resources\.postgres: unknown key; expected one of alertmanager, consul, .*postgresAuth, postgresOps, .*redis$/,
    );
    expect(
      problems({
        'prism:resources': {
          redis: { requests: { cpu: '100m', memory: '1Gi' }, limits: { cpu: '1', memory: '512Mi' } },
        },
      }),
    ).toEqual(['prism:resources.redis.limits.memory: limits.memory must be at least requests.memory; found "512Mi"']);
  });

  it('an even NATS cluster, an unknown secrets mode, a bad cron, a bad domain', () => {
    const found = problems({
      'prism:nats': { replicas: 2 },
      'prism:secrets': { mode: 'vault' },
      'prism:backups': { schedule: 'nightly' },
      'prism:domain': 'Not A Domain',
    });
    expect(found).toContain('prism:nats.replicas: expected 1 or an odd number of at least 3; found 2');
    expect(found.some((p) => p.startsWith('prism:secrets.mode: ') && p.endsWith('found "vault"'))).toBe(true);
    expect(found).toContain('prism:backups.schedule: expected a five-field cron expression; found "nightly"');
    expect(found).toContain('prism:domain: expected a lower-case DNS name; found "Not A Domain"');
  });

  it('external secrets without a store', () => {
    expect(problems({ 'prism:secrets': { mode: 'external' } })).toEqual([
      'prism:secrets.storeName: expected string, received undefined; found nothing',
    ]);
  });

  it("observability without the API server's addresses (Prometheus and the log shipper could reach nothing, or everything)", () => {
    expect(problems({ 'prism:cluster': {} })).toEqual([
      'prism:cluster.apiServer: required when observability is enabled (Prometheus and the log shipper discover pods through the API server): set cidrs and port from `kubectl get endpoints kubernetes -n default`; found nothing',
    ]);
    expect(
      parseStackFile({ config: { ...base, 'prism:cluster': {}, 'prism:observability': { enabled: false } } }, FILE)
        .cluster.apiServer,
    ).toBeUndefined();
  });

  it('a trace sample ratio that is no share', () => {
    expect(problems({ 'prism:observability': { traceSampleRatio: 10 } })).toEqual([
      'prism:observability.traceSampleRatio: expected a share from 0 to 1 (1 records every trace); found 10',
    ]);
    expect(problems({ 'prism:observability': { traceSampleRatio: -0.1 } })).toEqual([
      'prism:observability.traceSampleRatio: expected a share from 0 to 1; found -0.1',
    ]);
    expect(problems({ 'prism:observability': { traceSampleRatio: '10%' } })).toEqual([
      'prism:observability.traceSampleRatio: expected number, received string; found "10%"',
    ]);
  });

  it('the whole internet, or something that is not a CIDR block, as the API server', () => {
    expect(problems({ 'prism:cluster': { apiServer: { cidrs: ['0.0.0.0/0'], port: 443 } } })).toEqual([
      'prism:cluster.apiServer.cidrs.0: expected a bounded range, not the whole address space; found "0.0.0.0/0"',
    ]);
    expect(
      problems({
        'prism:cluster': { apiServer: { cidrs: ['::/0', '10.0.0.300/32', 'kubernetes.default'], port: 70000 } },
      }),
    ).toEqual([
      'prism:cluster.apiServer.cidrs.0: expected a bounded range, not the whole address space; found "::/0"',
      'prism:cluster.apiServer.cidrs.1: expected a CIDR block such as 10.0.0.0/16 or 192.168.1.10/32; found "10.0.0.300/32"',
      'prism:cluster.apiServer.cidrs.2: expected a CIDR block such as 10.0.0.0/16 or 192.168.1.10/32; found "kubernetes.default"',
      'prism:cluster.apiServer.port: Too big: expected number to be <=65535; found 70000',
    ]);
  });

  it('alerting: credentials in a URL, a route to an unknown receiver, no egress ranges, no default receiver', () => {
    const found = problems({
      'prism:alerting': {
        receivers: [{ name: 'hook', webhook: { url: 'https://user:s3cret@hooks.example.com/x' } }, { name: 'empty' }],
        routes: [
          { receiver: 'pager', matchers: ['severity="critical"'] },
          { receiver: 'hook', matchers: ['severity = critical'] },
        ],
      },
    });
    // The refusal does not repeat the password either.
    expect(found).toContain(
      'prism:alerting.receivers.0.webhook.url: expected a URL without user:password (credentials belong in prism-secrets, not in stack configuration); found "https://***@hooks.example.com/x"',
    );
    expect(found.join('\n')).not.toContain('s3cret');
    expect(found).toContain(
      'prism:alerting.receivers.1: a receiver needs at least one of webhook, slack, pagerduty, email; found {"name":"empty"}',
    );
    expect(found).toContain(
      'prism:alerting.routes.1.matchers.0: expected a matcher such as severity="critical"; found "severity = critical"',
    );
  });

  it("alerting: the receivers' references and ranges", () => {
    const found = problems({
      'prism:alerting': {
        receivers: [{ name: 'hook', webhook: { url: 'https://hooks.example.com/x' } }],
        routes: [{ receiver: 'pager', matchers: ['severity="critical"'] }],
      },
    });
    expect(found).toEqual([
      'prism:alerting.defaultReceiver: required when receivers are set (alerts no route matches go there); found nothing',
      'prism:alerting.egressCidrs: required when receivers are set: the address ranges of the egress proxy, SMTP relay or webhooks Alertmanager may reach; found nothing',
      'prism:alerting.routes.0.receiver: expected the name of a receiver (hook); found "pager"',
    ]);
    expect(
      problems({
        'prism:alerting': {
          receivers: [{ name: 'hook', webhook: { url: 'https://hooks.example.com/x' } }],
          defaultReceiver: 'hook',
          egressCidrs: ['0.0.0.0/0'],
        },
      }),
    ).toEqual([
      'prism:alerting.egressCidrs.0: expected a bounded range, not the whole address space; found "0.0.0.0/0"',
    ]);
  });

  it("alerting: the heartbeat's receiver, and the reserved name unrouted", () => {
    expect(
      problems({
        'prism:alerting': {
          receivers: [
            { name: 'hook', webhook: { url: 'https://hooks.example.com/x' } },
            { name: 'unrouted', webhook: { url: 'https://hooks.example.com/y' } },
          ],
          defaultReceiver: 'hook',
          egressCidrs: ['10.0.8.0/24'],
          heartbeat: { receiver: 'deadman', interval: '5 minutes' },
        },
      }),
    ).toEqual([
      'prism:alerting.heartbeat.interval: expected a duration such as 30s, 5m or 4h; found "5 minutes"',
      'prism:alerting.receivers.1.name: unrouted is reserved: the receiver that notifies nobody; found "unrouted"',
      'prism:alerting.heartbeat.receiver: expected the name of a receiver (hook, unrouted); found "deadman"',
    ]);
  });

  it('an autoscaled DB manager', () => {
    expect(problems({ 'prism:services': { dbmanager: { autoscaling: { minReplicas: 1, maxReplicas: 2 } } } })).toEqual([
      'prism:services.dbmanager.autoscaling: dbmanager runs as a single instance and cannot autoscale; found {"minReplicas":1,"maxReplicas":2}',
    ]);
  });
});

describe('documented defaults', () => {
  const config = parseStackFile({ config: base }, FILE);

  it('fill every optional key', () => {
    expect(config.rateLimit).toEqual({ enabled: true, requestsPerSecond: 100, burst: 200, onRedisFailure: 'open' });
    expect(config.services.gateway).toEqual({
      replicas: 1,
      resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '500m', memory: '256Mi' } },
    });
    expect(config.tls).toEqual({ clusterIssuer: 'letsencrypt-prod', secretName: 'prism-tls' });
    expect(config.images).toEqual({
      registry: 'ghcr.io/prism-platform',
      tag: '1.2.3',
      pullPolicy: 'Always',
      build: true,
    });
    expect(config.ingress).toEqual({
      className: 'nginx',
      controllerNamespace: 'ingress-nginx',
      rateLimitRps: 50,
      trustedProxies: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'],
    });
    expect(config.nats).toEqual({ replicas: 1 });
    expect(config.secrets).toEqual({ mode: 'local' });
    expect(config.backups).toEqual({
      schedule: '0 2 * * *',
      walSchedule: '*/15 * * * *',
      verifySchedule: '0 4 * * 0',
      retentionDays: 14,
    });
    expect(config.observability).toEqual({ enabled: true, logShipping: true, traceSampleRatio: 1 });
    expect(config.storage.sizes.postgresAuth).toBe('10Gi');
    expect(config.jwt).toEqual({ issuer: 'prism-auth', audience: 'prism-api', accessTokenTtlSeconds: 900 });
    expect(config.alerting).toEqual({
      receivers: [],
      routes: [],
      groupBy: ['alertname', 'severity'],
      groupWait: '30s',
      groupInterval: '5m',
      repeatInterval: '4h',
    });
  });

  it('keep partial overrides merged with the defaults around them', () => {
    const c = parseStackFile(
      {
        config: { ...base, 'prism:rateLimit': { requestsPerSecond: 10 }, 'prism:services': { auth: { replicas: 2 } } },
      },
      FILE,
    );
    expect(c.rateLimit).toEqual({ enabled: true, requestsPerSecond: 10, burst: 200, onRedisFailure: 'open' });
    expect(c.services.auth.replicas).toBe(2);
    expect(c.services.auth.resources.limits.memory).toBe('256Mi');
  });
});

describe('cdk8s synth with a bad stack file', () => {
  it('exits 1 with the short message and no stack trace, writing nothing', () => {
    const dir = mkdtempSync(join(tmpdir(), 'prism-badstack-'));
    mkdirSync(join(dir, 'stacks'));
    writeFileSync(
      join(dir, 'stacks', 'Pulumi.broken.yaml'),
      'config:\n  prism:domain: api.example.com\n  prism:images:\n    tag: latest\n  prism:observability:\n    enabled: false\n',
    );
    let stderr = '';
    let status = 0;
    try {
      execFileSync(resolve('node_modules/.bin/tsx'), [resolve('charts/main.ts')], {
        cwd: dir,
        env: { ...process.env, CDK8S_OUTDIR: join(dir, 'out') },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    } catch (e) {
      const err = e as { status: number; stderr: Buffer };
      status = err.status;
      stderr = err.stderr.toString();
    }
    expect(status).toBe(1);
    expect(stderr.trim()).toBe(
      [
        'stacks/Pulumi.broken.yaml: invalid stack configuration',
        '  - prism:images.tag: expected a pinned tag, not latest; found "latest"',
      ].join('\n'),
    );
  });
});
