import type { ChecklistItemId } from '../../config/index.js';
import { type AlertmanagerRoute, type Facts, notifies } from '../facts.js';
import { envOf, isLongRunning, selects, spec, type Workload } from '../manifests.js';
import { allows } from '../network.js';
import { type ChecklistItem, type Finding, verdict } from './item.js';
import { podOf } from './lookups.js';

/** Observability: Prometheus, Grafana, Loki, Jaeger, alerting and correlation IDs. */

/** Private ranges: an egress block that excepts them all reaches public addresses only. */
const PRIVATE = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'];

function reachesPrivateApiServer(f: Facts, prom: Workload): boolean {
  return f.input.objects.some((o) => {
    if (o.kind !== 'NetworkPolicy' || (o.metadata.namespace ?? f.namespace) !== prom.namespace) return false;
    const s = spec<{
      podSelector: { matchLabels?: Record<string, string> };
      egress?: { to?: { ipBlock?: { cidr: string; except?: string[] } }[]; ports?: { port?: number }[] }[];
    }>(o);
    if (!selects(s.podSelector, prom.podLabels)) return false;
    return (s.egress ?? []).some(
      (r) =>
        (r.ports ?? []).some((p) => p.port === 443 || p.port === 6443) &&
        (r.to ?? []).some((t) => t.ipBlock && !PRIVATE.every((p) => t.ipBlock!.except?.includes(p))),
    );
  });
}

function configValuesHave(f: Facts, test: (text: string) => boolean): boolean {
  return f.input.objects.some(
    (o) => o.kind === 'ConfigMap' && Object.values((o.data as Record<string, string>) ?? {}).some(test),
  );
}

export const OBSERVABILITY_ITEMS = {
  'prometheus-scraping': {
    section: 'Observability',
    guide: 'Prometheus scraping enabled',
    unverifiedBehaviour:
      'that every scrape succeeds: this reads manifests; the journeys of the real-pods lane and the Compose lane watch every target Prometheus is configured with answer',
    rule:
      'Prometheus runs with pod discovery keeping the prometheus.io/scrape annotation, and its policy lets it reach the API server on a private address; every long-running workload of the namespace but Prometheus itself is annotated with a port one of its containers serves, ' +
      "and the network policies let Prometheus reach it; a data store without an endpoint of its own is scraped through the model's exporter of it (metricsOf), " +
      "which must itself be scraped so and be allowed to reach the store on its flow's port.",
    check(f) {
      const problems: string[] = [];
      const prom = f.prometheus().filter((w) => w.namespace === f.namespace);
      if (!prom.length) return { met: false, evidence: 'no Prometheus' };
      const cfg = f.prometheusConfigs();
      const discovers = cfg.some((c) => JSON.stringify(c.doc.scrape_configs).includes('prometheus_io_scrape'));
      if (!discovers) problems.push('Prometheus does not discover annotated pods');
      if (!reachesPrivateApiServer(f, prom[0]!))
        problems.push(
          'Prometheus may reach the Kubernetes API (pod discovery) only on public addresses; API servers are private on kubeadm, EKS and private GKE/AKS',
        );
      const scraped: string[] = [];
      const candidates = f.workloads.filter(
        (x) => isLongRunning(x) && x.namespace === f.namespace && !prom.includes(x),
      );
      /** Why Prometheus cannot read the workload's own annotated endpoint; undefined when it can. */
      const scrapeProblem = (w: Workload): string | undefined => {
        const port = Number(w.podAnnotations['prometheus.io/port']);
        if (w.podAnnotations['prometheus.io/scrape'] !== 'true') return `${w.name} is not scraped`;
        if (!w.pod.containers.some((c) => c.ports?.some((p) => p.containerPort === port)))
          return `${w.name}: scrape port ${port} is not a container port`;
        if (!allows(f.input.objects, podOf(prom[0]!), podOf(w), port))
          return `${w.name}: Prometheus may not reach port ${port}`;
        return undefined;
      };
      for (const w of candidates) {
        const own = scrapeProblem(w);
        if (!own) {
          scraped.push(w.name);
          continue;
        }
        if (w.podAnnotations['prometheus.io/scrape'] === 'true') {
          problems.push(own);
          continue;
        }
        // A store without an endpoint of its own: scraped through the model's exporter of it, which must itself be scraped and reach the store.
        const exporters = f.input.platform.components.filter((c) => c.metricsOf === w.app);
        if (!exporters.length) {
          problems.push(own);
          continue;
        }
        const via: string[] = [];
        const before = problems.length;
        for (const c of exporters) {
          const flow = c.flows.find((x) => x.to === w.app);
          const port = f.input.platform.components
            .find((x) => x.name === w.app)
            ?.ports.find((p) => p.name === flow?.port)?.port;
          const running = candidates.filter((x) => x.app === c.name);
          if (!running.length) problems.push(`${w.name}: its exporter ${c.name} does not run`);
          for (const e of running) {
            const bad = scrapeProblem(e);
            if (bad) problems.push(`${w.name}: exporter ${bad}`);
            else if (port === undefined || !allows(f.input.objects, podOf(e), podOf(w), port))
              problems.push(`${w.name}: exporter ${e.name} may not reach it on ${flow?.port ?? 'any port'}`);
            else via.push(e.name);
          }
        }
        if (problems.length === before) scraped.push(`${w.name} (via ${via.join(', ')})`);
      }
      return verdict(problems, `${prom[0]!.name} scrapes ${scraped.join(', ')}`);
    },
  },
  'grafana-dashboards': {
    section: 'Observability',
    guide: 'Grafana dashboards imported',
    rule: 'Grafana runs with provisioned Prometheus, Loki and Jaeger data sources and a file dashboard provider; every dashboard mounted into it is valid JSON with panels whose data sources exist.',
    check(f) {
      const problems: string[] = [];
      const grafana = f.workloads.filter((w) =>
        w.pod.containers.some((c) => /(^|\/)grafana$/.test(c.image.split(':')[0]!)),
      );
      if (!grafana.length) return { met: false, evidence: 'no Grafana' };
      const ds = f.grafanaDatasources();
      for (const t of ['prometheus', 'loki', 'jaeger'])
        if (!ds.some((d) => d.type === t)) problems.push(`no ${t} data source`);
      const uids = new Set(ds.map((d) => d.uid).filter(Boolean));
      const mountedMaps = new Set(
        grafana.flatMap((w) => (w.pod.volumes ?? []).flatMap((v) => (v.configMap ? [v.configMap.name] : []))),
      );
      const dashboards: string[] = [];
      for (const o of f.input.objects.filter((x) => x.kind === 'ConfigMap' && mountedMaps.has(x.metadata.name))) {
        for (const [key, text] of Object.entries((o.data as Record<string, string>) ?? {})) {
          if (!key.endsWith('.json')) continue;
          let d: {
            title?: string;
            panels?: { datasource?: { uid?: string }; targets?: { datasource?: { uid?: string } }[] }[];
          };
          try {
            d = JSON.parse(text) as typeof d;
          } catch {
            problems.push(`${key}: not JSON`);
            continue;
          }
          if (!d.panels?.length) problems.push(`${key}: no panels`);
          for (const p of d.panels ?? [])
            for (const u of [p.datasource?.uid, ...(p.targets ?? []).map((t) => t.datasource?.uid)])
              if (u && !uids.has(u)) problems.push(`${key}: data source ${u} is not provisioned`);
          dashboards.push(d.title ?? key);
        }
      }
      if (!dashboards.length) problems.push('no dashboard mounted into Grafana');
      const provider = configValuesHave(f, (t) => /providers:/.test(t) && /type: file/.test(t));
      if (!provider) problems.push('no file dashboard provider');
      return verdict(
        [...new Set(problems)],
        `${dashboards.join(', ')}; data sources ${ds.map((d) => d.name).join(', ')}`,
      );
    },
  },
  'loki-logs': {
    section: 'Observability',
    guide: 'Loki log aggregation configured',
    unverifiedBehaviour:
      "that log lines reach Loki: this reads manifests; the journeys of the real-pods lane and the Compose lane watch a login's lines arrive",
    rule: 'Loki runs on a persistent volume; a log shipper (DaemonSet reading node files, or a Deployment reading through the API) pushes to its /loki/api/v1/push through the Loki Service; Grafana has Loki as a data source.',
    check(f) {
      const problems: string[] = [];
      const loki = f.workloads.filter(
        (w) => w.kind === 'StatefulSet' && w.pod.containers.some((c) => /(^|\/)loki$/.test(c.image.split(':')[0]!)),
      );
      if (!loki.length) problems.push('no Loki StatefulSet');
      const lokiServices = loki.flatMap((w) => f.servicesFor(w).map((s) => s.metadata.name));
      const shippers = f.workloads.filter((w) => {
        if (!isLongRunning(w) || loki.includes(w)) return false;
        const maps = new Set((w.pod.volumes ?? []).flatMap((v) => (v.configMap ? [v.configMap.name] : [])));
        return f.input.objects.some(
          (o) =>
            o.kind === 'ConfigMap' &&
            (o.metadata.namespace ?? '') === w.namespace &&
            maps.has(o.metadata.name) &&
            Object.values((o.data as Record<string, string>) ?? {}).some((t) =>
              lokiServices.some((s) => new RegExp(`//${s}[.:][^\\s"]*/loki/api/v1/push`).test(t)),
            ),
        );
      });
      if (!shippers.length) problems.push('no log shipper pushes to Loki');
      if (!f.grafanaDatasources().some((d) => d.type === 'loki')) problems.push('Grafana has no Loki data source');
      return verdict(
        problems,
        `StatefulSet ${loki.map((w) => w.name).join(', ')}; shipper ${shippers.map((w) => `${w.kind} ${w.namespace}/${w.name}`).join(', ')}; Grafana data source`,
      );
    },
  },
  'jaeger-tracing': {
    section: 'Observability',
    guide: 'Jaeger tracing enabled',
    unverifiedBehaviour:
      'that spans arrive: the local platform journeys (test/local-platform/journeys.test.ts) find the traces in Jaeger',
    rule: 'Jaeger runs; every Prism service exports traces (PRISM_OTLP_ENDPOINT resolving to Jaeger through a Service, allowed by the network policies) and records some (PRISM_TRACE_SAMPLE_RATIO above 0); Grafana has Jaeger as a data source.',
    check(f) {
      const problems: string[] = [];
      const jaeger = f.workloads.filter((w) => w.pod.containers.some((c) => /jaeger/.test(c.image.split(':')[0]!)));
      if (!jaeger.length) return { met: false, evidence: 'no Jaeger' };
      const ok: string[] = [];
      const ratios = new Set<number>();
      for (const w of f.services()) {
        const ratio = Number(envOf(w, 'PRISM_TRACE_SAMPLE_RATIO')?.value ?? 1);
        ratios.add(ratio);
        if (!(ratio > 0)) problems.push(`${w.app}: PRISM_TRACE_SAMPLE_RATIO ${ratio} records no trace`);
        const url = envOf(w, 'PRISM_OTLP_ENDPOINT')?.value;
        const target = url ? f.resolve(url) : undefined;
        if (!url) problems.push(`${w.app}: no PRISM_OTLP_ENDPOINT`);
        else if (!target || !jaeger.includes(target)) problems.push(`${w.app}: ${url} does not reach Jaeger`);
        else if (
          !allows(f.input.objects, podOf(w), podOf(target), Number(/:(\d+)/.exec(url.replace(/^[a-z]+:\/\//, ''))?.[1]))
        )
          problems.push(`${w.app}: network policies block ${url}`);
        else ok.push(w.app);
      }
      if (!f.grafanaDatasources().some((d) => d.type === 'jaeger')) problems.push('Grafana has no Jaeger data source');
      const sampled = [...ratios].map((r) => `${+(r * 100).toFixed(2)}%`).join(', ');
      return verdict(
        problems,
        `${jaeger[0]!.name} receives OTLP from ${ok.join(', ')} (traces starting there sampled: ${sampled}); Grafana data source`,
      );
    },
  },
  alerting: {
    section: 'Observability',
    guide: 'Alerting rules set up',
    unverifiedBehaviour:
      'that alerts are delivered: this reads manifests; the journeys watch the always-firing PrismWatchdog reach Alertmanager (both lanes) and, in the real-pods lane, its heartbeat receiver through the egress policy',
    rule:
      'Prometheus loads alert rules (each with a severity and a runbook_url) and sends to an Alertmanager in the output (alerting.alertmanagers, allowed by the network ' +
      'policies), whose config routes to receivers that exist, at least one with a real integration.',
    check(f) {
      const problems: string[] = [];
      const rules = f.allAlertRules();
      if (!rules.length) problems.push('no alert rules');
      for (const r of rules)
        if (!r.labels?.severity || !r.annotations?.runbook_url) problems.push(`${r.alert}: no severity or runbook_url`);
      const cfg = f.prometheusConfigs();
      if (!cfg.some((c) => Array.isArray(c.doc.rule_files) && c.doc.rule_files.length))
        problems.push('Prometheus loads no rule files');
      const am = f.alertmanager();
      const targets = cfg.flatMap(
        (c) =>
          (
            c.doc.alerting as
              | { alertmanagers?: { static_configs?: { targets: string[] }[]; kubernetes_sd_configs?: unknown[] }[] }
              | undefined
          )?.alertmanagers ?? [],
      );
      if (!targets.length) problems.push('Prometheus sends alerts nowhere (no alerting.alertmanagers)');
      if (!am.length) problems.push('no Alertmanager in the output');
      const prom = f.prometheus()[0];
      for (const t of targets.flatMap((a) => (a.static_configs ?? []).flatMap((s) => s.targets))) {
        const w = f.resolve(t);
        if (!w || !am.includes(w)) problems.push(`alertmanager target ${t} is not an Alertmanager`);
        else if (prom && !allows(f.input.objects, podOf(prom), podOf(w), Number(t.split(':').pop())))
          problems.push(`network policies block Prometheus → ${t}`);
      }
      const amc = f.alertmanagerConfigs();
      if (am.length && !amc.length) problems.push('no Alertmanager configuration found');
      const receivers: string[] = [];
      for (const { doc } of amc) {
        const names = new Set(doc.receivers.map((r) => r.name));
        const walk = (r: AlertmanagerRoute): string[] => [
          ...(r.receiver ? [r.receiver] : []),
          ...(r.routes ?? []).flatMap(walk),
        ];
        for (const n of walk(doc.route)) if (!names.has(n)) problems.push(`route names unknown receiver ${n}`);
        const real = doc.receivers.filter(notifies);
        if (!real.length) problems.push('no receiver has an integration (webhook, Slack, PagerDuty, e-mail, ...)');
        receivers.push(...real.map((r) => r.name));
      }
      const bySeverity = [...new Set(rules.map((r) => r.labels?.severity))].map(
        (s) => `${rules.filter((r) => r.labels?.severity === s).length} ${s}`,
      );
      return verdict(
        problems,
        `${rules.length} rules (${bySeverity.join(', ')}); Prometheus → ${am.map((w) => w.name).join(', ')} → receivers ${receivers.join(', ')}`,
      );
    },
  },
  'correlation-ids': {
    section: 'Observability',
    guide: 'Request tracing with correlation IDs',
    unverifiedBehaviour:
      "that log lines carry their trace's id: this reads manifests; the journeys match Grafana's link regex against the services' real log lines, in the real-pods lane as Loki returns them",
    rule: "Every Prism service exports traces to Jaeger, its logs reach Loki through a log shipper, and Grafana's Loki data source links a log line's trace id to the Jaeger data source.",
    // Typed: it reads this section's other items, which TypeScript cannot infer through.
    check(f): Finding {
      const problems: string[] = [];
      const tracing = OBSERVABILITY_ITEMS['jaeger-tracing'].check(f);
      if (!tracing.met) problems.push(`traces: ${tracing.evidence}`);
      const logs = OBSERVABILITY_ITEMS['loki-logs'].check(f);
      if (!logs.met) problems.push(`logs: ${logs.evidence}`);
      const ds = f.grafanaDatasources();
      const jaegerUids = new Set(ds.filter((d) => d.type === 'jaeger').map((d) => d.uid));
      const linked = ds.some(
        (d) => d.type === 'loki' && d.jsonData?.derivedFields?.some((x) => jaegerUids.has(x.datasourceUid)),
      );
      if (!linked) problems.push('Grafana does not link log lines to traces (no Loki derived field to Jaeger)');
      return verdict(
        problems,
        `services export traces; logs shipped to Loki; Loki's derived field links trace ids to Jaeger`,
      );
    },
  },
} satisfies Partial<Record<ChecklistItemId, ChecklistItem>>;
