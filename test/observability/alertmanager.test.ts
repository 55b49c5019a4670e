import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { type IncomingMessage, createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateStackConfig } from '../../infra/config/load.js';
import { ALERTMANAGER_SECRETS_DIR, WATCHDOG_ALERT, alertmanagerYaml } from '../../infra/model/files/alertmanager.js';
import { renderLocal } from '../../infra/compose/index.js';
import { buildPlatform } from '../../infra/model/index.js';
import { ENVIRONMENTS, find, synth } from '../support/synth.js';
import { freePort, waitFor } from '../support/net.js';

/**
 * The rendered Alertmanager configuration run by the real Alertmanager of the release the model pins
 * (`alertmanager`, `amtool`: scripts/install-tools.sh builds them). A firing alert posted to it
 * reaches a webhook receiver on 127.0.0.1 through the rendered routes.
 */

const ALERTMANAGER = process.env.PRISM_ALERTMANAGER ?? 'alertmanager';
const AMTOOL = process.env.PRISM_AMTOOL ?? 'amtool';

const base = {
  domain: 'api.test.prism.example',
  images: { tag: '1.0.0' },
  cluster: { apiServer: { cidrs: ['10.0.0.1/32'], port: 443 } },
};
const alerting = (a: Record<string, unknown>) => validateStackConfig({ ...base, alerting: a }, 'test').alerting;

function amtool(file: string): { status: number | null; out: string } {
  const r = spawnSync(AMTOOL, ['check-config', file], { encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

describe('amtool check-config', () => {
  const dir = mkdtempSync(join(tmpdir(), 'prism-am-'));

  it.each(ENVIRONMENTS)("accepts the %s stack's rendered alertmanager.yml", (env) => {
    const file = join(dir, `${env}.yml`);
    writeFileSync(file, (find(synth(env).objects, 'ConfigMap', 'alertmanager-config') as any).data['alertmanager.yml']);
    const r = amtool(file);
    expect(r.out).toContain('SUCCESS');
    expect(r.status).toBe(0);
  });

  it('accepts every receiver kind at once, with credentials as files only', () => {
    const a = alerting({
      receivers: [
        { name: 'hook', webhook: { url: 'https://hooks.example.com/prism' } },
        { name: 'chat', slack: { channel: '#prism-alerts' } },
        { name: 'pager', pagerduty: {} },
        {
          name: 'mail',
          email: {
            to: 'ops@example.com',
            from: 'alerts@example.com',
            smarthost: 'smtp.example.com:587',
            authUsername: 'alerts',
          },
        },
      ],
      routes: [
        { receiver: 'pager', matchers: ['severity="critical"'], continue: true },
        { receiver: 'mail', matchers: ['alertname=~"PrismBackup.*"'] },
      ],
      defaultReceiver: 'chat',
      egressCidrs: ['10.10.8.10/32'],
      proxyUrl: 'http://10.10.8.10:3128',
    });
    const text = alertmanagerYaml(a);
    const file = join(dir, 'all.yml');
    writeFileSync(file, text);
    expect(amtool(file).status).toBe(0);
    const doc = parse(text);
    const byName = Object.fromEntries(doc.receivers.map((r: any) => [r.name, r]));
    expect(byName.chat.slack_configs[0].api_url_file).toBe(`${ALERTMANAGER_SECRETS_DIR}/alertmanager-slack-api-url`);
    expect(byName.pager.pagerduty_configs[0].routing_key_file).toBe(
      `${ALERTMANAGER_SECRETS_DIR}/alertmanager-pagerduty-routing-key`,
    );
    expect(byName.mail.email_configs[0].auth_password_file).toBe(
      `${ALERTMANAGER_SECRETS_DIR}/alertmanager-smtp-password`,
    );
    // No inline credential field anywhere.
    expect(text).not.toMatch(/\b(api_url|routing_key|service_key|auth_password|auth_secret):/);
    expect(byName.hook.webhook_configs[0].http_config.proxy_url).toBe('http://10.10.8.10:3128');
  });

  /** The receiver `amtool config routes test` picks for an alert with these labels. */
  const routeOf = (text: string, labels: string[]): string => {
    const file = join(dir, `routes-${labels.join('-').replace(/\W/g, '')}.yml`);
    writeFileSync(file, text);
    const r = spawnSync(AMTOOL, ['config', 'routes', 'test', `--config.file=${file}`, ...labels], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    return r.stdout.trim();
  };

  it('routes the watchdog to the heartbeat receiver, and nowhere that notifies without one', () => {
    const receivers = [
      { name: 'pager', pagerduty: {} },
      { name: 'chat', slack: { channel: '#prism-alerts' } },
      { name: 'deadman', webhook: { url: 'https://hc-ping.example.com/prism' } },
    ];
    const routes = [{ receiver: 'pager', matchers: ['severity=~".*"'] }];
    const common = { receivers, routes, defaultReceiver: 'chat', egressCidrs: ['10.10.8.10/32'] };
    const watchdog = [`alertname=${WATCHDOG_ALERT}`, 'severity=none'];
    const withHeartbeat = alertmanagerYaml(alerting({ ...common, heartbeat: { receiver: 'deadman', interval: '2m' } }));
    expect(routeOf(withHeartbeat, watchdog)).toBe('deadman');
    expect(routeOf(withHeartbeat, ['alertname=PrismTargetDown', 'severity=critical'])).toBe('pager');
    const route = parse(withHeartbeat).route.routes[0];
    expect(route).toMatchObject({ group_wait: '0s', group_interval: '2m', repeat_interval: '2m' });
    // Without a heartbeat the route that takes every severity, and the default receiver, never get it.
    const without = alertmanagerYaml(alerting(common));
    expect(routeOf(without, watchdog)).toBe('unrouted');
    expect(parse(without).receivers).toContainEqual({ name: 'unrouted' });
    expect(routeOf(alertmanagerYaml(alerting({})), watchdog)).toBe('unrouted');
  });

  it('refuses a configuration Alertmanager would refuse (the checker is not a rubber stamp)', () => {
    const file = join(dir, 'bad.yml');
    writeFileSync(file, alertmanagerYaml(alerting({})).replace('receiver: unrouted', 'receiver: nobody'));
    expect(amtool(file).status).not.toBe(0);
  });
});

interface Delivery {
  readonly receiver: string;
  readonly status: string;
  readonly alerts: { labels: Record<string, string>; annotations: Record<string, string> }[];
}

describe('the real Alertmanager with the rendered configuration', () => {
  const deliveries: { path: string; body: Delivery }[] = [];
  const hook = createServer((req: IncomingMessage, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      deliveries.push({ path: req.url ?? '', body: JSON.parse(body) });
      res.end('ok');
    });
  });
  let am: ChildProcess | undefined;
  let amPort = 0;
  let log = '';

  beforeAll(async () => {
    const hookPort = await freePort();
    await new Promise<void>((r) => hook.listen(hookPort, '127.0.0.1', r));
    amPort = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'prism-am-run-'));
    // Critical alerts page (webhook /page), everything else goes to the chat webhook; quick grouping for the test.
    const a = alerting({
      receivers: [
        { name: 'page', webhook: { url: `http://127.0.0.1:${hookPort}/page` } },
        { name: 'chat', webhook: { url: `http://127.0.0.1:${hookPort}/chat` } },
        { name: 'heartbeat', webhook: { url: `http://127.0.0.1:${hookPort}/heartbeat` } },
      ],
      routes: [{ receiver: 'page', matchers: ['severity="critical"'] }],
      defaultReceiver: 'chat',
      heartbeat: { receiver: 'heartbeat', interval: '2s' },
      egressCidrs: ['127.0.0.1/32'],
      groupWait: '1s',
      groupInterval: '1s',
    });
    const config = join(dir, 'alertmanager.yml');
    writeFileSync(config, alertmanagerYaml(a));
    mkdirSync(join(dir, 'data'));
    am = spawn(
      ALERTMANAGER,
      [
        `--config.file=${config}`,
        `--storage.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${amPort}`,
        '--cluster.listen-address=',
      ],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    am.stdout!.on('data', (d) => (log += d));
    am.stderr!.on('data', (d) => (log += d));
    await waitFor(
      'alertmanager ready',
      async () => (await fetch(`http://127.0.0.1:${amPort}/-/ready`).catch(() => undefined))?.ok || undefined,
      20_000,
    ).catch((e) => {
      throw new Error(`${(e as Error).message}\n${log}`);
    });
  }, 30_000);

  afterAll(async () => {
    am?.kill('SIGTERM');
    await new Promise<void>((r) => hook.close(() => r()));
  });

  const post = (alerts: object[]) =>
    fetch(`http://127.0.0.1:${amPort}/api/v2/alerts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(alerts),
    });

  it('delivers a firing critical alert to the paging receiver, with its runbook link', async () => {
    const r = await post([
      {
        labels: { alertname: 'PrismPostgresDown', severity: 'critical', job: 'postgres-auth-exporter' },
        annotations: {
          summary: 'postgres-auth-exporter cannot reach its PostgreSQL server',
          runbook_url: 'docs/operations/runbook.md#prismpostgresdown',
        },
      },
    ]);
    expect(r.status).toBe(200);
    const got = await waitFor('a delivery to /page', () => deliveries.find((d) => d.path === '/page'), 20_000);
    expect(got.body.status).toBe('firing');
    expect(got.body.receiver).toBe('page');
    expect(got.body.alerts[0]!.labels.alertname).toBe('PrismPostgresDown');
    expect(got.body.alerts[0]!.annotations.runbook_url).toBe('docs/operations/runbook.md#prismpostgresdown');
  });

  it('sends the watchdog to the heartbeat receiver again every interval, and to no other receiver', async () => {
    const watchdog = {
      labels: { alertname: WATCHDOG_ALERT, severity: 'none' },
      annotations: { summary: 'Always firing' },
    };
    // Prometheus re-sends a firing alert on every evaluation; the test does the same while it waits.
    const resend = setInterval(() => void post([watchdog]), 1000);
    try {
      expect((await post([watchdog])).status).toBe(200);
      const beats = await waitFor(
        'two heartbeats',
        () => {
          const got = deliveries.filter((d) => d.path === '/heartbeat');
          return got.length >= 2 ? got : undefined;
        },
        20_000,
      );
      expect(beats[0]!.body.receiver).toBe('heartbeat');
      expect(beats[0]!.body.alerts.map((x) => x.labels.alertname)).toEqual([WATCHDOG_ALERT]);
    } finally {
      clearInterval(resend);
    }
    const elsewhere = deliveries.filter((d) => d.path !== '/heartbeat');
    expect(elsewhere.flatMap((d) => d.body.alerts.map((x) => x.labels.alertname))).not.toContain(WATCHDOG_ALERT);
  });

  it('sends a warning to the default receiver, not to the pager', async () => {
    await post([
      {
        labels: { alertname: 'PrismRedisMemoryHigh', severity: 'warning', job: 'redis-exporter' },
        annotations: { summary: 'Redis memory' },
      },
    ]);
    const got = await waitFor('a delivery to /chat', () => deliveries.find((d) => d.path === '/chat'), 20_000);
    expect(got.body.alerts.map((x) => x.labels.alertname)).toEqual(['PrismRedisMemoryHigh']);
    expect(
      deliveries.filter((d) => d.path === '/page').flatMap((d) => d.body.alerts.map((x) => x.labels.alertname)),
    ).not.toContain('PrismRedisMemoryHigh');
  });
});

describe('Alertmanager in the platform', () => {
  it.each(ENVIRONMENTS)('%s: no credential value is rendered, only the secret keys as files', (env) => {
    const { objects } = synth(env);
    const text = JSON.stringify(objects);
    expect(text).not.toMatch(/hooks\.slack\.com|events\.pagerduty\.com/);
    const deployment = find(objects, 'Deployment', 'alertmanager') as any;
    const container = deployment.spec.template.spec.containers[0];
    expect(container.env ?? []).toEqual([]);
  });
});

describe('Alertmanager in Compose', () => {
  it("gets a receiver's credential from .env through the volume-init, as a file only it reads; the value is never in the compose file", () => {
    const config = validateStackConfig(
      {
        ...base,
        alerting: {
          receivers: [{ name: 'chat', slack: { channel: '#alerts' } }],
          defaultReceiver: 'chat',
          egressCidrs: ['10.0.8.0/24'],
        },
      },
      'test',
    );
    const files = renderLocal(buildPlatform('dev', config));
    const obs = parse(files.get('deploy/docker-compose/docker-compose.observability.yml')!);
    const init = obs.services['observability-volume-init'];
    // The receiver's credential, beside Prometheus's tokens for Consul's and MinIO's metrics (the same init writes all).
    expect(init.environment).toEqual({
      ALERTMANAGER_SLACK_API_URL:
        '${ALERTMANAGER_SLACK_API_URL?ALERTMANAGER_SLACK_API_URL must be defined in .env (it may be empty)}',
      CONSUL_METRICS_TOKEN:
        '${CONSUL_METRICS_TOKEN:?CONSUL_METRICS_TOKEN is not set: run make dev-setup or copy .env.example to .env}',
      MINIO_METRICS_TOKEN:
        '${MINIO_METRICS_TOKEN:?MINIO_METRICS_TOKEN is not set: run make dev-setup or copy .env.example to .env}',
    });
    expect(init.command[0]).toContain(
      `printf '%s' "$$ALERTMANAGER_SLACK_API_URL" > /init/alertmanager-secret-files/alertmanager-slack-api-url`,
    );
    expect(init.command[0]).toContain('chmod 0440 /init/alertmanager-secret-files/alertmanager-slack-api-url');
    expect(obs.services.alertmanager.volumes).toContain(`alertmanager-secret-files:${ALERTMANAGER_SECRETS_DIR}:ro`);
    expect(obs.services.alertmanager.depends_on['observability-volume-init']).toEqual({
      condition: 'service_completed_successfully',
    });
  });

  it('mounts the same alertmanager.yml the model renders for the dev stack', () => {
    const dev = synth('dev');
    expect(readFileSync('deploy/alertmanager/alertmanager.yml', 'utf8')).toBe(
      (find(dev.objects, 'ConfigMap', 'alertmanager-config') as any).data['alertmanager.yml'],
    );
  });
});
