import { posix } from 'node:path';
import { DATABASES, DBMANAGER_CLI, METRICS } from '../../contract/index.js';
import type { ChecklistItemId } from '../../config/index.js';
import { type AlertmanagerRoute, type Facts, notifies } from '../facts.js';
import { describeList, envOf, spec, type Workload } from '../manifests.js';
import { anchors, headings, relativeLinks, section } from '../markdown.js';
import { type ChecklistItem, verdict } from './item.js';

/** Operations: backups and their verification, disaster recovery, runbooks, on-call and incident response. */

const cronJobs = (f: Facts) =>
  f.workloads
    .filter((w) => w.kind === 'CronJob')
    .map((w) => ({ w, schedule: spec<{ schedule: string; suspend?: boolean }>(w.object) }));

const argsOf = (w: Workload): string => w.pod.containers.map((c) => (c.args ?? []).join(' ')).join(' | ');

/** A five-field cron expression that fires at least once a day / a week. */
const daily = (cron: string): boolean => {
  const [, , dom, month, dow] = cron.trim().split(/\s+/);
  return dom === '*' && month === '*' && dow === '*';
};

const weekly = (cron: string): boolean => {
  const [, , dom, month] = cron.trim().split(/\s+/);
  return dom === '*' && month === '*';
};

/** The guide's troubleshooting topics, as the runbook's headings may word them. */
const GUIDE_TROUBLESHOOTING: readonly (readonly [string, RegExp])[] = [
  ['Service Not Starting', /service.*not starting/i],
  ['Database Connection Issues', /database connection/i],
  ['Redis Connection Issues', /redis/i],
  ['NATS Connection Issues', /nats/i],
  ['gRPC Connection Issues', /grpc/i],
  ['High Latency', /high latency/i],
];

/** Relative links of a document that name a missing file or heading. */
function brokenLinks(f: Facts, path: string, text: string): string[] {
  const out: string[] = [];
  for (const target of relativeLinks(text)) {
    const [file, anchor] = target.split('#');
    const resolved = file ? posix.normalize(posix.join(posix.dirname(path), file)) : path;
    const body = f.file(resolved);
    if (body === undefined) {
      if (resolved.endsWith('.md')) out.push(`link to missing ${target}`);
      continue;
    }
    if (anchor && !anchors(body).has(anchor)) out.push(`link to missing heading ${target}`);
  }
  return out;
}

export const OPERATIONS_ITEMS = {
  'backup-schedule': {
    section: 'Operations',
    guide: 'Automated backup schedule configured',
    rule:
      "For each database: a CronJob, not suspended, running the DB manager's full backup at least daily and one shipping WAL at least hourly, to the object store; " +
      "and an alert on the last successful backup's age.",
    check(f) {
      const problems: string[] = [];
      const jobs = cronJobs(f);
      const found: string[] = [];
      for (const db of Object.keys(DATABASES) as (keyof typeof DATABASES)[]) {
        for (const [kind, often, test] of [
          ['full', 'daily', daily],
          ['wal', 'hourly', (c: string) => c.trim().split(/\s+/)[1] === '*' && daily(c)],
        ] as const) {
          const args = DBMANAGER_CLI.backup(db, kind).join(' ');
          const j = jobs.find((x) => argsOf(x.w) === args);
          if (!j) problems.push(`no CronJob runs "${args}"`);
          else if (j.schedule.suspend) problems.push(`CronJob ${j.w.name} is suspended`);
          else if (!test(j.schedule.schedule))
            problems.push(`CronJob ${j.w.name} (${j.schedule.schedule}) runs less than ${often}`);
          else if (!envOf(j.w, 'PRISM_S3_ENDPOINT')) problems.push(`CronJob ${j.w.name}: no object store`);
          else found.push(`${j.w.name} ${j.schedule.schedule}`);
        }
      }
      if (!f.allAlertRules().some((r) => r.expr.includes(METRICS.backupLastSuccess)))
        problems.push(`no alert on ${METRICS.backupLastSuccess}`);
      return verdict(problems, `CronJobs ${found.join(', ')}; alert on ${METRICS.backupLastSuccess}`);
    },
  },
  'backup-verification': {
    section: 'Operations',
    guide: 'Backup verification process',
    rule: 'For each database: a CronJob, not suspended, restoring the latest backup (verify-latest) at least weekly; an alert on the verification result; the procedure documented.',
    check(f) {
      const problems: string[] = [];
      const jobs = cronJobs(f);
      const found: string[] = [];
      for (const db of Object.keys(DATABASES) as (keyof typeof DATABASES)[]) {
        const args = DBMANAGER_CLI.verifyLatest(db).join(' ');
        const j = jobs.find((x) => argsOf(x.w) === args);
        if (!j) problems.push(`no CronJob runs "${args}"`);
        else if (j.schedule.suspend) problems.push(`CronJob ${j.w.name} is suspended`);
        else if (!weekly(j.schedule.schedule))
          problems.push(`CronJob ${j.w.name} (${j.schedule.schedule}) runs less than weekly`);
        else found.push(`${j.w.name} ${j.schedule.schedule}`);
      }
      const alert = f.allAlertRules().find((r) => r.expr.includes(METRICS.backupVerified));
      if (!alert) problems.push(`no alert on ${METRICS.backupVerified}`);
      const doc = [...f.docs()].find(([, t]) => headings(t).some((h) => /verif/i.test(h)));
      if (!doc) problems.push('no document describes the verification');
      return verdict(problems, `CronJobs ${found.join(', ')}; alert ${alert?.alert}; described in ${doc?.[0]}`);
    },
  },
  'disaster-recovery-plan': {
    section: 'Operations',
    guide: 'Disaster recovery plan documented',
    rule: "docs/operations/disaster-recovery.md states the recovery point and time, a restore procedure, what to do when the whole cluster is lost, and names the output's real backup and verification CronJobs; its links resolve.",
    check(f) {
      const path = 'docs/operations/disaster-recovery.md';
      const text = f.file(path);
      if (!text) return { met: false, evidence: `${path} missing` };
      const problems: string[] = [];
      const hs = headings(text);
      for (const [what, re] of [
        ['recovery point and time', /recovery point|RPO/i],
        ['restore procedure', /restore/i],
        ['loss of the whole cluster', /cluster/i],
      ] as const)
        if (!hs.some((h) => re.test(h))) problems.push(`no section on the ${what}`);
      const commands = new Set(
        (Object.keys(DATABASES) as (keyof typeof DATABASES)[]).flatMap((db) => [
          DBMANAGER_CLI.backup(db, 'full').join(' '),
          DBMANAGER_CLI.verifyLatest(db).join(' '),
        ]),
      );
      const backupJobs = cronJobs(f).filter((j) => commands.has(argsOf(j.w)));
      for (const j of backupJobs) if (!text.includes(j.w.name)) problems.push(`does not name CronJob ${j.w.name}`);
      problems.push(...brokenLinks(f, path, text));
      return verdict(
        problems,
        `${path}: ${hs.filter((h) => /recovery point|restore procedure|cluster/i.test(h)).join(' / ')}; names ${backupJobs.map((j) => j.w.name).join(', ')}`,
      );
    },
  },
  runbooks: {
    section: 'Operations',
    guide: 'Runbook documentation',
    rule: "docs/operations/runbook.md has a section for every alert rule in the output, each rule's runbook_url points to it, and it covers every troubleshooting topic of the guide.",
    check(f) {
      const path = 'docs/operations/runbook.md';
      const text = f.file(path);
      if (!text) return { met: false, evidence: `${path} missing` };
      const problems: string[] = [];
      const hs = new Set(headings(text));
      const anchorSet = anchors(text);
      const rules = f.allAlertRules();
      for (const r of rules) {
        if (!hs.has(r.alert)) problems.push(`no section ${r.alert}`);
        const [p, a] = (r.annotations?.runbook_url ?? '').split('#');
        if (p !== path || !a || !anchorSet.has(a))
          problems.push(`${r.alert}: runbook_url ${r.annotations?.runbook_url ?? 'unset'} is not a section of ${path}`);
      }
      for (const [topic, re] of GUIDE_TROUBLESHOOTING)
        if (![...hs].some((h) => re.test(h))) problems.push(`no troubleshooting section for "${topic}"`);
      problems.push(...brokenLinks(f, path, text));
      return verdict(
        problems,
        `${path}: ${rules.length} alert sections linked from their rules; ${GUIDE_TROUBLESHOOTING.length} troubleshooting topics`,
      );
    },
  },
  'on-call-rotation': {
    section: 'Operations',
    guide: 'On-call rotation set up',
    rule:
      'What a machine can see: the incident-response document has an on-call section whose paging table lists exactly the critical alerts and names every Alertmanager ' +
      'receiver that notifies anyone; the Alertmanager routes critical alerts to a receiver with an integration.',
    check(f) {
      const path = 'docs/operations/incident-response.md';
      const text = f.file(path);
      if (!text) return { met: false, evidence: `${path} missing` };
      const problems: string[] = [];
      const oncall = section(text, /on-call/i);
      if (!oncall) problems.push('no on-call section');
      const critical = f
        .allAlertRules()
        .filter((r) => r.labels?.severity === 'critical')
        .map((r) => r.alert)
        .sort();
      const row = (oncall ?? '').split('\n').find((l) => /^\|\s*`?critical`?\s*\|/.test(l.trim()));
      const listed = row
        ? [...row.matchAll(/`(\w+)`/g)]
            .map((m) => m[1]!)
            .filter((a) => a !== 'critical')
            .sort()
        : [];
      if (!row) problems.push('no paging row for critical alerts');
      else if (listed.join() !== critical.join())
        problems.push(`paging table lists ${describeList(listed)}; the critical alerts are ${describeList(critical)}`);
      const amc = f.alertmanagerConfigs();
      if (!amc.length) problems.push('no Alertmanager receivers to page anyone');
      // Those that notify someone (not `unrouted`, which takes the watchdog where no heartbeat receiver does).
      const receivers = amc.flatMap((c) => c.doc.receivers.filter(notifies).map((r) => r.name));
      for (const r of receivers)
        if (!(oncall ?? '').includes(r)) problems.push(`on-call section does not name receiver ${r}`);
      for (const { doc } of amc) {
        const routes = (r: AlertmanagerRoute): AlertmanagerRoute[] => [r, ...(r.routes ?? []).flatMap(routes)];
        const pagesCritical = routes(doc.route).some(
          (r) =>
            r.receiver &&
            ((r.matchers ?? []).some((m) => /severity\s*=~?\s*"?[^"]*critical/.test(m)) ||
              r.match?.severity === 'critical'),
        );
        if (!pagesCritical) problems.push('Alertmanager has no route for severity=critical');
      }
      return verdict(problems, `${path} on-call section pages ${critical.join(', ')} through ${receivers.join(', ')}`);
    },
  },
  'incident-response': {
    section: 'Operations',
    guide: 'Incident response process',
    rule:
      'docs/operations/incident-response.md defines severity levels, how an incident is run and a post-incident review, names only alerts that exist; every alert links ' +
      '(runbook_url) to a runbook section and the runbook links to the incident process.',
    check(f) {
      const path = 'docs/operations/incident-response.md';
      const text = f.file(path);
      if (!text) return { met: false, evidence: `${path} missing` };
      const problems: string[] = [];
      const hs = headings(text);
      for (const [what, re] of [
        ['severity levels', /severity/i],
        ['running an incident', /running an incident|incident process|during an incident/i],
        ['post-incident review', /post-incident|review/i],
      ] as const)
        if (!hs.some((h) => re.test(h))) problems.push(`no section on ${what}`);
      const alerts = new Set(f.allAlertRules().map((r) => r.alert));
      const named = [...new Set([...text.matchAll(/`(Prism[A-Z]\w+)`/g)].map((m) => m[1]!))];
      for (const a of named) if (!alerts.has(a)) problems.push(`names unknown alert ${a}`);
      const unlinked = f.allAlertRules().filter((r) => !r.annotations?.runbook_url);
      if (unlinked.length) problems.push(`alerts without runbook_url: ${unlinked.map((r) => r.alert).join(', ')}`);
      const runbook = f.file('docs/operations/runbook.md') ?? '';
      if (!relativeLinks(runbook).some((l) => l.split('#')[0] === 'incident-response.md'))
        problems.push('the runbook does not link to the incident process');
      problems.push(...brokenLinks(f, path, text));
      return verdict(
        problems,
        `${path}: ${hs.filter((h) => /severity|running an incident|post-incident/i.test(h)).join(' / ')}; names ${named.length} real alerts; alerts → runbook → incident process`,
      );
    },
  },
} satisfies Partial<Record<ChecklistItemId, ChecklistItem>>;
