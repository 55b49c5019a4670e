import { parse, stringify } from 'yaml';
import type { ChecklistInput } from '../../infra/checklist/index.js';
import { readChecklistFiles } from '../../infra/checklist/index.js';
import { buildPlatform } from '../../infra/model/index.js';
import { synth } from '../support/synth.js';

/** A checklist input whose objects, stack and files a test may change freely (`asInput` hands it to the checklist). */
export interface Mutable {
  stack: { name: string; file: string; config: ChecklistInput['stack']['config'] };
  platform: ChecklistInput['platform'];
  objects: Obj[];
  files: Map<string, string>;
}
// Tests reach into arbitrary fields of the objects they plant violations in.
export type Obj = Record<string, any>;

const FILES = new Map(readChecklistFiles(process.cwd()));

/** One environment as `npm run checklist` sees it, deep-copied so each test may plant its own violation. */
export function environment(env: string): Mutable {
  let synthesized = SYNTHESIZED.get(env);
  if (!synthesized) {
    const { stack, objects } = synth(env);
    synthesized = { stack: { ...stack }, platform: buildPlatform(stack.name, stack.config), objects: objects as Obj[], files: FILES };
    SYNTHESIZED.set(env, synthesized);
  }
  return structuredClone(synthesized);
}
/** Each environment is synthesized once per test file; tests get their own deep copy. */
const SYNTHESIZED = new Map<string, Mutable>();

export const byApp = (m: Mutable, kind: string, app: string): Obj => {
  const o = m.objects.find((x) => x.kind === kind && (x.metadata.labels?.['app.kubernetes.io/name'] ?? x.metadata.name) === app);
  if (!o) throw new Error(`no ${kind} for ${app}`);
  return o;
};
export const podSpec = (o: Obj): Obj => (o.kind === 'CronJob' ? o.spec.jobTemplate.spec.template.spec : o.spec.template.spec);
export const container = (o: Obj): Obj => podSpec(o).containers[0];
export const setEnv = (o: Obj, name: string, value: string | undefined): void => {
  const c = container(o);
  c.env = (c.env ?? []).filter((e: Obj) => e.name !== name);
  if (value !== undefined) c.env.push({ name, value });
};

/** Edits a YAML (or JSON) value of a ConfigMap in place. */
export function editConfig(m: Mutable, key: string, edit: (doc: Obj) => void): void {
  const cm = m.objects.find((o) => o.kind === 'ConfigMap' && key in (o.data ?? {}));
  if (!cm) throw new Error(`no ConfigMap with ${key}`);
  const doc = parse(cm.data[key]) as Obj;
  edit(doc);
  cm.data[key] = key.endsWith('.json') ? JSON.stringify(doc) : stringify(doc);
}

export function editFile(m: Mutable, path: string, edit: (text: string) => string): void {
  const text = m.files.get(path);
  if (text === undefined) throw new Error(`no file ${path}`);
  const after = edit(text);
  if (after === text) throw new Error(`the edit of ${path} changed nothing`);
  m.files.set(path, after);
}

const SERVICES = ['gateway', 'auth', 'config', 'dbmanager'];
const resources = { requests: { cpu: '10m', memory: '32Mi' }, limits: { cpu: '100m', memory: '64Mi' } };
const probe = (port: number) => ({ httpGet: { path: '/', port }, timeoutSeconds: 3 });
const labels = (app: string) => ({ app, 'app.kubernetes.io/name': app });
const policy = (name: string, app: string, spec: Obj): Obj => ({
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata: { name, namespace: 'prism', labels: labels(app) },
  spec: { podSelector: { matchLabels: { app } }, policyTypes: ['Ingress', 'Egress'], ...spec },
});
const tcp = (port: number) => ({ protocol: 'TCP', port });

/**
 * Adds to an environment what the features being built beside the checklist will render, in the
 * shapes their issues describe, so the rules' "met" side is tested now and prod's gap is exactly
 * those features: mutual TLS from cert-manager (issue 13), trusted forwarding at the gateway
 * (issue 13) and an Alertmanager with receivers (issue 14). The data stores' exporters, the log
 * shipper's probe timeouts and the replicated JetStream streams are rendered by the platform now,
 * so the rules see the real objects.
 */
export function withAwaitedFeatures(m: Mutable): Mutable {
  // Mutual TLS: a CA Issuer, a Certificate per service, its Secret mounted, the TLS variables, https between services.
  m.objects.push({ apiVersion: 'cert-manager.io/v1', kind: 'Issuer', metadata: { name: 'prism-ca', namespace: 'prism' }, spec: { ca: { secretName: 'prism-ca' } } });
  for (const svc of SERVICES) {
    m.objects.push({
      apiVersion: 'cert-manager.io/v1',
      kind: 'Certificate',
      metadata: { name: `${svc}-tls`, namespace: 'prism', labels: labels(svc) },
      spec: { secretName: `${svc}-tls`, issuerRef: { name: 'prism-ca', kind: 'Issuer' }, dnsNames: [svc, `${svc}.prism.svc`] },
    });
    const d = byApp(m, 'Deployment', svc);
    podSpec(d).volumes.push({ name: 'tls', secret: { secretName: `${svc}-tls` } });
    container(d).volumeMounts.push({ name: 'tls', mountPath: '/etc/prism/tls', readOnly: true });
    for (const [n, v] of Object.entries({
      PRISM_TLS_ENABLED: 'true',
      PRISM_TLS_CLIENT_AUTH: 'true',
      PRISM_TLS_CERT_FILE: '/etc/prism/tls/tls.crt',
      PRISM_TLS_KEY_FILE: '/etc/prism/tls/tls.key',
      PRISM_TLS_CLIENT_CA_FILE: '/etc/prism/tls/ca.crt',
    })) setEnv(d, n, v);
    for (const e of container(d).env) if (typeof e.value === 'string') e.value = e.value.replace(/^http:\/\/(gateway|auth|config|dbmanager)([:/])/, 'https://$1$2');
  }
  editConfig(m, 'gateway.yaml', (g) => {
    g.auth.jwks_url = g.auth.jwks_url.replace('http://', 'https://');
    for (const r of g.routes) r.upstream = r.upstream.replace('http://', 'https://');
    g.server.trust_forwarded_for = true;
  });
  m.objects.find((o) => o.kind === 'Ingress')!.metadata.annotations['nginx.ingress.kubernetes.io/backend-protocol'] = 'HTTPS';

  // Alertmanager, with a receiver per severity, and Prometheus sending to it.
  m.objects.push(
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'alertmanager', namespace: 'prism', labels: labels('alertmanager') },
      spec: {
        replicas: 1,
        selector: { matchLabels: labels('alertmanager') },
        template: {
          metadata: { labels: labels('alertmanager'), annotations: { 'prometheus.io/scrape': 'true', 'prometheus.io/port': '9093' } },
          spec: {
            containers: [{ name: 'alertmanager', image: 'prom/alertmanager:v0.27.0', ports: [{ name: 'http', containerPort: 9093 }], livenessProbe: probe(9093), readinessProbe: probe(9093), resources }],
            volumes: [{ name: 'config', configMap: { name: 'alertmanager-config' } }],
          },
        },
      },
    },
    { apiVersion: 'v1', kind: 'Service', metadata: { name: 'alertmanager', namespace: 'prism' }, spec: { selector: labels('alertmanager'), ports: [{ name: 'http', port: 9093 }] } },
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'alertmanager-config', namespace: 'prism' },
      data: {
        'alertmanager.yml': stringify({
          route: { receiver: 'team-chat', routes: [{ matchers: ['severity="critical"'], receiver: 'primary-pager' }] },
          receivers: [
            { name: 'team-chat', webhook_configs: [{ url_file: '/etc/alertmanager/secrets/team-chat-url' }] },
            { name: 'primary-pager', pagerduty_configs: [{ routing_key_file: '/etc/alertmanager/secrets/pagerduty-key' }] },
          ],
        }),
      },
    },
    policy('alertmanager-flows', 'alertmanager', { ingress: [{ from: [{ podSelector: { matchLabels: { app: 'prometheus' } } }], ports: [tcp(9093)] }], egress: [] }),
  );
  editConfig(m, 'prometheus.yml', (p) => {
    p.alerting = { alertmanagers: [{ static_configs: [{ targets: ['alertmanager:9093'] }] }] };
  });
  editFile(m, 'docs/operations/incident-response.md', (t) => t.replace('## On-call rotation\n', '## On-call rotation\n\nReceivers: `primary-pager` (critical) and `team-chat` (warning).\n'));

  m.objects.push(
    policy('prometheus-awaited', 'prometheus', {
      policyTypes: ['Egress'],
      egress: [{ to: [{ podSelector: { matchLabels: { app: 'alertmanager' } } }], ports: [tcp(9093)] }],
    }),
  );

  return m;
}

export const asInput = (m: Mutable): ChecklistInput => m as unknown as ChecklistInput;
