import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { loadStack } from '../../infra/config/index.js';
import { METRICS } from '../../infra/contract/index.js';
import { alertRulesYaml, RUNBOOK_PATH } from '../../infra/model/files/prometheus.js';
import { synth } from '../support/synth.js';

/**
 * The operations documents name only things that exist: alert rules, headings, make targets, npm
 * scripts, metrics, Kubernetes objects, Compose containers and volumes, repository files.
 */

const DIR = 'docs/operations';
const DOCS = readdirSync(DIR)
  .filter((f) => f.endsWith('.md'))
  .map((f) => ({ file: join(DIR, f), text: readFileSync(join(DIR, f), 'utf8') }));

/** Metrics the documents may name that Prism's contract does not define (Prometheus' and prom-client's own). */
const STANDARD_METRICS = new Set(['up', 'process_cpu_seconds_total', 'nodejs_eventloop_lag_p99_seconds']);
/** `prism_` identifiers in the documents that are not metrics: the databases and the WAL archive's replication slot. */
const PRISM_NON_METRICS = new Set(['prism_auth', 'prism_ops', 'prism_wal_archive']);

interface Rule {
  alert: string;
  labels: { severity: string };
  annotations: { summary: string; runbook_url?: string };
}
const RULES: Rule[] = (parse(alertRulesYaml()) as { groups: { rules: Rule[] }[] }).groups.flatMap((g) => g.rules);

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const m of markdown.replace(/```[\s\S]*?```/g, '').matchAll(/^#{1,6} (.+)$/gm)) {
    const base = m[1]!
      .trim()
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n ? `${base}-${n}` : base);
  }
  return out;
}

/** The text of every fenced block and inline code span: where commands are written. */
function codeOf(markdown: string): string[] {
  const blocks = [...markdown.matchAll(/```[a-z]*\n([\s\S]*?)```/g)].map((m) => m[1]!);
  const inline = [...markdown.replace(/```[\s\S]*?```/g, '').matchAll(/`([^`\n]+)`/g)].map((m) => m[1]!);
  return [...blocks, ...inline];
}
const CODE = DOCS.flatMap((d) => codeOf(d.text).map((code) => ({ file: d.file, code })));
const ALL_TEXT = DOCS.map((d) => d.text).join('\n');

describe('the operations documents', () => {
  it('exist: runbook, disaster recovery, incident response', () => {
    expect(DOCS.map((d) => d.file).sort()).toEqual([
      'docs/operations/disaster-recovery.md',
      'docs/operations/incident-response.md',
      'docs/operations/runbook.md',
    ]);
  });

  it('every alert rule has a runbook_url pointing to a runbook heading that is its name', () => {
    const runbook = readFileSync(RUNBOOK_PATH, 'utf8');
    const headings = new Set([...runbook.matchAll(/^#{1,6} (.+)$/gm)].map((m) => m[1]!.trim()));
    const runbookAnchors = anchors(runbook);
    expect(RULES.length).toBeGreaterThan(0);
    for (const r of RULES) {
      expect(r.annotations.runbook_url, r.alert).toBeDefined();
      const [path, anchor] = r.annotations.runbook_url!.split('#');
      expect(path, r.alert).toBe(RUNBOOK_PATH);
      expect(existsSync(path!), path).toBe(true);
      expect(runbookAnchors.has(anchor!), `${r.alert}: #${anchor} is not a heading of ${RUNBOOK_PATH}`).toBe(true);
      expect(headings.has(r.alert), `${RUNBOOK_PATH} has no heading "${r.alert}"`).toBe(true);
    }
  });

  it('name only alerts that exist, and the paging table lists exactly the critical ones', () => {
    const names = new Set(RULES.map((r) => r.alert));
    for (const [token] of ALL_TEXT.matchAll(/\bPrism[A-Z][A-Za-z0-9]+\b/g))
      expect(names, `unknown alert ${token}`).toContain(token);
    const incident = readFileSync(join(DIR, 'incident-response.md'), 'utf8');
    for (const severity of ['critical', 'warning']) {
      const row = incident.split('\n').find((l) => l.trim().startsWith(`| \`${severity}\` |`));
      expect(row, `the paging table has no ${severity} row`).toBeDefined();
      const listed = [
        ...row!
          .trim()
          .split('|')[2]!
          .matchAll(/`(Prism\w+)`/g),
      ]
        .map((m) => m[1])
        .sort();
      expect(listed, severity).toEqual(
        RULES.filter((r) => r.labels.severity === severity)
          .map((r) => r.alert)
          .sort(),
      );
    }
  });

  it("the on-call section names exactly prod's Alertmanager receivers, each with the alerts its routes send it", () => {
    const incident = readFileSync(join(DIR, 'incident-response.md'), 'utf8');
    const { alerting } = loadStack('stacks', 'prod').config;
    const rows = incident
      .split('\n')
      .filter((l) => /^\|\s*`[a-z][a-z0-9-]*`\s*\|/.test(l.trim()) && !/^\|\s*`(critical|warning)`/.test(l.trim()));
    const named = rows.map((l) => /`([a-z0-9-]+)`/.exec(l)![1]!);
    expect(named.sort()).toEqual(alerting.receivers.map((r) => r.name).sort());
    for (const r of alerting.receivers) {
      const row = rows.find((l) => l.includes(`\`${r.name}\``))!;
      // The integration the stack gives it, and every route matcher that sends to it.
      if (r.pagerduty) expect(row, r.name).toMatch(/PagerDuty/);
      if (r.slack) expect(row, r.name).toContain(`Slack, channel \`${r.slack.channel}\``);
      for (const route of alerting.routes.filter((x) => x.receiver === r.name))
        for (const m of route.matchers) expect(row, `${r.name} route ${m}`).toContain(m);
      if (alerting.defaultReceiver === r.name) expect(row, r.name).toMatch(/default receiver/);
    }
    // The paging table's routes name receivers that exist.
    for (const severity of ['critical', 'warning']) {
      const row = incident.split('\n').find((l) => l.trim().startsWith(`| \`${severity}\` |`))!;
      const sent = [
        ...row
          .trim()
          .split('|')[3]!
          .matchAll(/`([a-z0-9-]+)`/g),
      ].map((m) => m[1]);
      expect(sent.length, severity).toBeGreaterThan(0);
      for (const name of sent)
        expect(
          alerting.receivers.map((x) => x.name),
          `${severity} row names ${name}`,
        ).toContain(name);
    }
  });

  it('links only to files and headings that exist', () => {
    for (const d of DOCS) {
      for (const [, target] of d.text.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/.test(target!)) continue;
        const [path, anchor] = target!.split('#');
        const file = path ? join(dirname(d.file), path) : d.file;
        expect(existsSync(file), `${d.file}: link to missing ${target}`).toBe(true);
        if (anchor)
          expect(anchors(readFileSync(file, 'utf8')).has(anchor), `${d.file}: no heading #${anchor} in ${file}`).toBe(
            true,
          );
      }
    }
  });

  it('every make target and npm script they mention exists', () => {
    const targets = new Set([...readFileSync('Makefile', 'utf8').matchAll(/^([a-z][a-z0-9-]*):/gm)].map((m) => m[1]!));
    const scripts = Object.keys(
      (JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> }).scripts,
    );
    let made = 0;
    for (const { file, code } of CODE) {
      for (const m of code.matchAll(/\bmake((?: [a-z][a-z0-9-]*(?=\s|$))+)/gm)) {
        for (const t of m[1]!.trim().split(/\s+/)) {
          made++;
          expect(targets, `${file}: make ${t}`).toContain(t);
        }
      }
      for (const m of code.matchAll(/\bnpm run ([a-z][a-z0-9:-]*)/g))
        expect(scripts, `${file}: npm run ${m[1]}`).toContain(m[1]);
    }
    expect(made).toBeGreaterThan(0);
  });

  it('every metric they mention is in the contract or a listed standard metric', () => {
    const contract = new Set<string>(Object.values(METRICS));
    const mentioned = new Set(
      [...ALL_TEXT.matchAll(/(?<![\w-])(?:prism|process|nodejs|minio|jetstream|go|promhttp)_[a-z0-9_]+\b(?!-)/g)].map(
        (m) => m[0],
      ),
    );
    expect(mentioned.size).toBeGreaterThan(0);
    for (const name of mentioned) {
      if (PRISM_NON_METRICS.has(name)) continue;
      const base = name.replace(/_(bucket|sum|count)$/, '');
      expect(
        contract.has(name) || contract.has(base) || STANDARD_METRICS.has(name),
        `${name} is neither in infra/contract/metrics.ts nor a listed standard metric`,
      ).toBe(true);
    }
    // The metrics each backup alert rests on are named where the runbook explains them.
    for (const m of [METRICS.backupLastSuccess, METRICS.backupVerified, METRICS.circuitBreakerState])
      expect(ALL_TEXT).toContain(m);
  });

  it('kubectl commands name real objects of the prod stack', () => {
    const { objects } = synth('prod');
    const names = (kind: string) =>
      new Set(objects.filter((o) => o.kind === kind && o.metadata.namespace === 'prism').map((o) => o.metadata.name));
    const kinds: Record<string, Set<string>> = {
      deploy: names('Deployment'),
      statefulset: names('StatefulSet'),
      cronjob: names('CronJob'),
      svc: names('Service'),
      hpa: names('HorizontalPodAutoscaler'),
      externalsecret: names('ExternalSecret'),
      configmap: names('ConfigMap'),
    };
    const appLabels = new Set(objects.map((o) => o.metadata.labels?.['app.kubernetes.io/name']).filter(Boolean));
    const claims = new Set(
      objects
        .filter((o) => o.kind === 'StatefulSet')
        .flatMap((o) =>
          (
            (o as unknown as { spec: { volumeClaimTemplates?: { metadata: { name: string } }[] } }).spec
              .volumeClaimTemplates ?? []
          ).map((t) => `${t.metadata.name}-${o.metadata.name}-0`),
        ),
    );
    let checked = 0;
    for (const { file, code } of CODE.filter((c) => c.code.includes('kubectl'))) {
      for (const m of code.matchAll(/(?<![\w./-])(deploy|statefulset|cronjob|svc)\/([a-z0-9-]+)/g)) {
        checked++;
        expect(kinds[m[1]!], `${file}: ${m[0]}`).toContain(m[2]);
      }
      for (const m of code.matchAll(
        /\b(?:get|patch|annotate) (hpa|externalsecret|configmap|cronjob)((?: [a-z][a-z0-9-]*(?=\s|$))+)/g,
      )) {
        for (const name of m[2]!.trim().split(' '))
          if (!name.startsWith('-')) expect(kinds[m[1]!], `${file}: ${m[1]} ${name}`).toContain(name);
      }
      for (const m of code.matchAll(/app\.kubernetes\.io\/name=([a-z0-9-]+)/g))
        expect(appLabels, `${file}: label ${m[1]}`).toContain(m[1]);
      for (const m of code.matchAll(/\b([a-z][a-z0-9-]*)-0\b/g)) {
        if (m[1]!.startsWith('data-')) expect(claims, `${file}: volume claim ${m[0]}`).toContain(m[0]);
        else expect(kinds.statefulset, `${file}: pod ${m[0]}`).toContain(m[1]);
      }
      for (const m of code.matchAll(/\bget endpoints((?: [a-z][a-z0-9-]*)+)/g))
        for (const n of m[1]!.trim().split(' ')) expect(kinds.svc, `${file}: endpoints ${n}`).toContain(n);
    }
    expect(checked).toBeGreaterThan(10);
    // The claims named in prose (not only in commands) exist too.
    for (const [claim] of ALL_TEXT.matchAll(/\bdata-[a-z-]+-0\b/g)) expect(claims, claim).toContain(claim);
  });

  it('docker commands name real Compose containers and volumes', () => {
    const compose = readdirSync('deploy/docker-compose')
      .filter((f) => f.endsWith('.yml'))
      .map(
        (f) =>
          parse(readFileSync(join('deploy/docker-compose', f), 'utf8')) as {
            services: Record<string, { container_name?: string }>;
            volumes?: Record<string, unknown>;
          },
      );
    const containers = new Set(compose.flatMap((c) => Object.values(c.services).map((s) => s.container_name)));
    const project = /^PRISM_COMPOSE_PROJECT := (\S+)$/m.exec(
      readFileSync('deploy/docker-compose/services.mk', 'utf8'),
    )![1];
    const volumes = new Set(compose.flatMap((c) => Object.keys(c.volumes ?? {}).map((v) => `${project}_${v}`)));
    let checked = 0;
    for (const { file, code } of CODE) {
      for (const m of code.matchAll(/\bdocker (?:stop|start|restart|logs|exec(?: -it| -i)?)((?: [a-z][a-z0-9-]*)+)/g)) {
        const [first, ...rest] = m[1]!.trim().split(' ');
        // exec and logs take one container then a command; stop/start/restart take containers only.
        const named = /^docker (stop|start|restart)/.test(m[0]) ? [first!, ...rest] : [first!];
        for (const n of named) {
          checked++;
          expect(containers, `${file}: container ${n} in "${m[0]}"`).toContain(n);
        }
      }
      for (const m of code.matchAll(/\bdocker (?:ps|inspect)[^\n]*?(?:name=|\{\{[^}]*\}\} )([a-z][a-z0-9-]*)/g))
        expect(containers, `${file}: ${m[0]}`).toContain(m[1]);
      for (const m of code.matchAll(/-v ([a-z][a-z0-9_-]*):\//g))
        expect(volumes, `${file}: volume ${m[1]}`).toContain(m[1]);
    }
    expect(checked).toBeGreaterThan(5);
  });

  it('the backup scripts are called with arguments they accept', () => {
    let checked = 0;
    for (const { file, code } of CODE) {
      for (const m of code.matchAll(/deploy\/backup\/(backup|restore)\.sh([^\n#|`;]*)/g)) {
        const script = readFileSync(`deploy/backup/${m[1]}.sh`, 'utf8');
        const args = m[2]!.trim().replace(/\\$/, '').trim().split(/\s+/).filter(Boolean);
        checked++;
        if (m[1] === 'backup') {
          if (args.length)
            expect(args.join(' '), `${file}: backup.sh ${args.join(' ')}`).toMatch(
              /^(list( (auth|ops))?( --from (in-cluster|offsite))?|(auth|ops) (full|delta|wal))$/,
            );
        } else if (args.length) {
          expect(['auth', 'ops'], `${file}: restore.sh ${args.join(' ')}`).toContain(args[0]);
          for (const flag of args.filter((a) => a.startsWith('--')))
            expect(script, `${file}: restore.sh ${flag}`).toContain(flag.split('=')[0]);
        }
      }
    }
    expect(checked).toBeGreaterThan(5);
  });

  it('every repository file they mention exists', () => {
    const paths = new Set(
      [
        ...ALL_TEXT.matchAll(
          /(?<![\w/.-])(?:\.\/)?((?:deploy|services|infra|docs|stacks|scripts|charts|test)\/[A-Za-z0-9_./-]+\.(?:md|sh|ts|ya?ml|json|conf|proto|sql|mk))\b/g,
        ),
      ].map((m) => m[1]!),
    );
    expect(paths.size).toBeGreaterThan(5);
    for (const p of paths) expect(existsSync(p), `${p} does not exist`).toBe(true);
  });
});
