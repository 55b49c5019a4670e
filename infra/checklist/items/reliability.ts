import { HEALTH_PATHS, SERVICE_NAMES } from '../../contract/index.js';
import type { ChecklistItemId } from '../../config/index.js';
import type { Facts } from '../facts.js';
import { containersOf, envOf, isLongRunning, selects, spec, type Workload } from '../manifests.js';
import { type ChecklistItem, verdict } from './item.js';
import { annotation, ingresses, isService } from './lookups.js';

/** Reliability: replicas, probes, limits, disruption budgets, circuit breakers, timeouts, JetStream durability. */

/**
 * The services that create JetStream streams (services/gateway/src/events.ts, services/auth/src/outbox.ts)
 * and the variable that should give them the replica count. The variable is not in the contract yet:
 * both services create R1 streams today. Rename here if the contract names it differently.
 */
const STREAM_CREATORS = ['gateway', 'auth'] as const;

const STREAM_REPLICAS_ENV = 'PRISM_NATS_STREAM_REPLICAS';

const hpaFor = (f: Facts, w: Workload): { minReplicas?: number; maxReplicas: number } | undefined =>
  f.input.objects
    .filter((o) => o.kind === 'HorizontalPodAutoscaler')
    .map((o) => spec<{ scaleTargetRef: { kind: string; name: string }; minReplicas?: number; maxReplicas: number }>(o))
    .find((s) => s.scaleTargetRef.kind === w.kind && s.scaleTargetRef.name === w.name);

const minReplicas = (f: Facts, w: Workload): number => hpaFor(f, w)?.minReplicas ?? w.replicas ?? 1;

export const RELIABILITY_ITEMS = {
  'multiple-replicas': {
    section: 'Reliability',
    guide: 'Multiple replicas for each service',
    rule: 'Every Prism service runs at least 2 replicas (fixed, or an HPA minimum); a service the model declares a singleton, with its reason, is the only exception.',
    check(f) {
      const problems: string[] = [];
      const parts: string[] = [];
      for (const name of SERVICE_NAMES) {
        const ws = f.services().filter((w) => w.app === name);
        if (!ws.length) problems.push(`${name}: no workload`);
        for (const w of ws) {
          const hpa = hpaFor(f, w);
          const singleton = f.input.platform.components.find((c) => c.name === name)?.singleton;
          const n = minReplicas(f, w);
          if (n >= 2) parts.push(hpa ? `${name} HPA ${hpa.minReplicas ?? 1}–${hpa.maxReplicas}` : `${name} ${n}`);
          else if (singleton && n === 1) parts.push(`${name} 1: a singleton by design (${singleton})`);
          else problems.push(`${name}: ${n} replica${n === 1 ? '' : 's'}`);
        }
      }
      return verdict(problems, parts.join(', '));
    },
  },
  'health-checks': {
    section: 'Reliability',
    guide: 'Health checks configured',
    rule: "Every container of every long-running workload has a liveness and a readiness probe; the Prism services' probes are the contract's /health/live and /health/ready.",
    check(f) {
      const problems: string[] = [];
      let n = 0;
      for (const w of f.workloads.filter(isLongRunning)) {
        for (const c of w.pod.containers) {
          n++;
          if (!c.livenessProbe) problems.push(`${w.name}/${c.name}: no liveness probe`);
          if (!c.readinessProbe) problems.push(`${w.name}/${c.name}: no readiness probe`);
        }
      }
      for (const w of f.services()) {
        const c = w.pod.containers[0]!;
        if (c.livenessProbe?.httpGet?.path !== HEALTH_PATHS.live)
          problems.push(`${w.app}: liveness is not ${HEALTH_PATHS.live}`);
        if (c.readinessProbe?.httpGet?.path !== HEALTH_PATHS.ready)
          problems.push(`${w.app}: readiness is not ${HEALTH_PATHS.ready}`);
      }
      return verdict(
        problems,
        `${n} containers with liveness and readiness; services on ${HEALTH_PATHS.live} and ${HEALTH_PATHS.ready}`,
      );
    },
  },
  'resource-limits': {
    section: 'Reliability',
    guide: 'Resource limits set',
    rule: 'Every container and init container of every workload (jobs included) requests and limits CPU and memory, and no limit is below its request.',
    check(f) {
      const problems: string[] = [];
      let n = 0;
      for (const w of f.workloads) {
        for (const c of containersOf(w)) {
          n++;
          for (const r of ['cpu', 'memory']) {
            if (!c.resources?.requests?.[r]) problems.push(`${w.kind} ${w.name}/${c.name}: no ${r} request`);
            if (!c.resources?.limits?.[r]) problems.push(`${w.kind} ${w.name}/${c.name}: no ${r} limit`);
          }
        }
      }
      return verdict(
        problems,
        `${n} containers in ${f.workloads.length} workloads with CPU and memory requests and limits`,
      );
    },
  },
  'pod-disruption-budgets': {
    section: 'Reliability',
    guide: 'PodDisruptionBudget configured',
    rule: 'Every Prism service (singletons excepted) and every other replicated workload has a PodDisruptionBudget selecting its pods that keeps at least one available.',
    check(f) {
      const problems: string[] = [];
      const pdbs = f.input.objects.filter((o) => o.kind === 'PodDisruptionBudget');
      const singletons = new Set<string>(f.input.platform.components.filter((c) => c.singleton).map((c) => c.name));
      const needing = f.workloads.filter(
        (w) =>
          ['Deployment', 'StatefulSet'].includes(w.kind) &&
          (minReplicas(f, w) > 1 || (isService(w.app) && !singletons.has(w.app))),
      );
      const covered: string[] = [];
      for (const w of needing) {
        const pdb = pdbs.find(
          (p) =>
            (p.metadata.namespace ?? w.namespace) === w.namespace &&
            selects(spec<{ selector: { matchLabels: Record<string, string> } }>(p).selector, w.podLabels),
        );
        const s = pdb ? spec<{ minAvailable?: number | string; maxUnavailable?: number | string }>(pdb) : undefined;
        if (!pdb) problems.push(`${w.kind} ${w.name}: no PodDisruptionBudget`);
        else if (
          s!.minAvailable === 0 ||
          s!.minAvailable === '0%' ||
          (s!.maxUnavailable !== undefined && Number(s!.maxUnavailable) >= minReplicas(f, w))
        )
          problems.push(`${pdb.metadata.name}: allows every pod of ${w.name} to go`);
        else
          covered.push(
            `${w.name} (${s!.minAvailable !== undefined ? `minAvailable ${s!.minAvailable}` : `maxUnavailable ${s!.maxUnavailable}`})`,
          );
      }
      if (!needing.length) problems.push('no replicated workload');
      return verdict(problems, covered.join(', '));
    },
  },
  'circuit-breakers': {
    section: 'Reliability',
    guide: 'Circuit breakers enabled',
    rule: 'The gateway config mounted into the gateway has at least one route, and every route has a circuit breaker with a positive failure threshold, reset timeout and half-open allowance.',
    check(f) {
      const problems: string[] = [];
      const gw = f.gatewayConfigs();
      const gateway = f.services().find((w) => w.app === 'gateway');
      const mounted = gw.filter((g) => gateway?.pod.volumes?.some((v) => v.configMap?.name === g.object.metadata.name));
      if (!mounted.length) problems.push('no gateway config mounted into the gateway');
      const routes: string[] = [];
      for (const g of mounted) {
        if (!g.doc.routes.length) problems.push(`${g.object.metadata.name}: no routes`);
        for (const r of g.doc.routes) {
          const cb = r.circuit_breaker;
          if (!cb || !(cb.failure_threshold! > 0 && cb.reset_timeout_ms! > 0 && cb.half_open_max_requests! > 0))
            problems.push(`route ${r.prefix}: no circuit breaker`);
          else routes.push(`${r.prefix} (${cb.failure_threshold} failures, ${cb.reset_timeout_ms} ms)`);
        }
      }
      return verdict(problems, `gateway routes ${routes.join(', ')}`);
    },
  },
  timeouts: {
    section: 'Reliability',
    guide: 'Proper timeouts configured',
    rule:
      "Gateway: a request timeout, and each route's timeout × (1 + retries) within it; edge: connect/read/send timeouts, the read timeout no shorter than the " +
      "gateway's; every probe sets timeoutSeconds; every Job has an active deadline; each service's grace period exceeds its shutdown timeout.",
    check(f) {
      const problems: string[] = [];
      let requestMs = 0;
      for (const g of f.gatewayConfigs()) {
        requestMs = g.doc.server?.request_timeout_ms ?? 0;
        if (!(requestMs > 0)) problems.push(`${g.object.metadata.name}: no request timeout`);
        for (const r of g.doc.routes) {
          if (!(r.timeout_ms! > 0)) problems.push(`route ${r.prefix}: no timeout`);
          else if (r.timeout_ms! * (1 + (r.retries ?? 0)) > requestMs)
            problems.push(
              `route ${r.prefix}: ${r.timeout_ms} ms × ${1 + (r.retries ?? 0)} attempts exceeds the ${requestMs} ms request timeout`,
            );
        }
      }
      if (!f.gatewayConfigs().length) problems.push('no gateway config');
      for (const i of ingresses(f)) {
        for (const k of ['connect', 'read', 'send'])
          if (!annotation(i, `nginx.ingress.kubernetes.io/proxy-${k}-timeout`))
            problems.push(`Ingress ${i.metadata.name}: no proxy-${k}-timeout`);
        const read = Number(annotation(i, 'nginx.ingress.kubernetes.io/proxy-read-timeout') ?? 0);
        if (read && read * 1000 < requestMs)
          problems.push(`Ingress ${i.metadata.name}: read timeout ${read} s cuts the gateway's ${requestMs} ms`);
      }
      for (const w of f.workloads.filter(isLongRunning)) {
        for (const c of w.pod.containers) {
          for (const [kind, p] of [
            ['liveness', c.livenessProbe],
            ['readiness', c.readinessProbe],
          ] as const)
            if (p && p.timeoutSeconds === undefined)
              problems.push(`${w.name}/${c.name}: ${kind} probe on the 1 s default timeout`);
        }
      }
      for (const w of f.workloads.filter((x) => x.kind === 'Job' || x.kind === 'CronJob')) {
        const job =
          w.kind === 'CronJob'
            ? spec<{ jobTemplate: { spec: { activeDeadlineSeconds?: number } } }>(w.object).jobTemplate.spec
            : spec<{ activeDeadlineSeconds?: number }>(w.object);
        if (!(job.activeDeadlineSeconds! > 0)) problems.push(`${w.kind} ${w.name}: no activeDeadlineSeconds`);
      }
      for (const w of f.services()) {
        const shutdown = Number(envOf(w, 'PRISM_SHUTDOWN_TIMEOUT_SECONDS')?.value ?? 20);
        const grace = w.pod.terminationGracePeriodSeconds ?? 30;
        if (grace <= shutdown)
          problems.push(`${w.app}: grace period ${grace} s not above the ${shutdown} s shutdown timeout`);
      }
      const i = ingresses(f)[0];
      return verdict(
        problems,
        `gateway request ${requestMs} ms, routes within it; edge connect/read/send ${['connect', 'read', 'send'].map((k) => (i ? annotation(i, `nginx.ingress.kubernetes.io/proxy-${k}-timeout`) : '-')).join('/')} s; every probe and Job bounded; grace periods above shutdown timeouts`,
      );
    },
  },
  'nats-durability': {
    section: 'Reliability',
    guide: 'NATS JetStream configured for durability',
    rule:
      'JetStream with file storage on a persistent volume claim, a cluster of at least 3 servers (odd) with a route to every member, a PodDisruptionBudget that ' +
      'keeps a quorum, and every service that creates a stream told to replicate it across the cluster (at least min(3, servers) replicas): an R1 stream on a ' +
      'three-server cluster is lost with its one server.',
    check(f) {
      const problems: string[] = [];
      const nats = f.workloads.filter(
        (w) => w.kind === 'StatefulSet' && w.pod.containers.some((c) => /(^|\/)nats$/.test(c.image.split(':')[0]!)),
      );
      if (!nats.length) return { met: false, evidence: 'no NATS StatefulSet' };
      const w = nats[0]!;
      const claims =
        spec<{ volumeClaimTemplates?: { metadata: { name: string } }[] }>(w.object).volumeClaimTemplates ?? [];
      const conf = f.input.objects
        .filter((o) => o.kind === 'ConfigMap' && w.pod.volumes?.some((v) => v.configMap?.name === o.metadata.name))
        .flatMap((o) => Object.values((o.data as Record<string, string>) ?? {}))
        .find((t) => /\bjetstream\s*\{/.test(t));
      const storeDir = conf ? /store_dir:\s*"?([^"\s]+)"?/.exec(conf)?.[1] : undefined;
      const c = w.pod.containers[0]!;
      const onClaim =
        storeDir &&
        c.volumeMounts?.some((m) => claims.some((t) => t.metadata.name === m.name) && storeDir.startsWith(m.mountPath));
      if (!conf) problems.push('JetStream not enabled in the NATS config');
      else if (!onClaim) problems.push(`JetStream store_dir ${storeDir ?? 'unset'} is not on a volume claim`);
      if (conf && /max_file_store:\s*0\b/.test(conf)) problems.push('max_file_store is 0 (memory only)');
      const replicas = w.replicas ?? 1;
      const routes = conf ? [...conf.matchAll(/nats:\/\/[^\s]+:\d+/g)].length : 0;
      if (replicas < 3 || replicas % 2 === 0)
        problems.push(`${replicas} NATS server${replicas === 1 ? '' : 's'}: no quorum to survive the loss of one`);
      else if (routes < replicas) problems.push(`cluster routes name ${routes} of ${replicas} servers`);
      const pdb = f.input.objects.find(
        (o) =>
          o.kind === 'PodDisruptionBudget' &&
          selects(spec<{ selector: { matchLabels: Record<string, string> } }>(o).selector, w.podLabels),
      );
      if (replicas >= 3 && !pdb) problems.push('no PodDisruptionBudget for the NATS cluster');
      const want = Math.min(3, replicas);
      for (const svc of STREAM_CREATORS) {
        for (const sw of f.services().filter((x) => x.app === svc)) {
          const n = Number(envOf(sw, STREAM_REPLICAS_ENV)?.value ?? 1);
          if (n < want)
            problems.push(
              `${svc} creates its JetStream stream with ${n} replica${n === 1 ? '' : 's'} on ${replicas} servers (${STREAM_REPLICAS_ENV} ${envOf(sw, STREAM_REPLICAS_ENV) ? `is ${n}` : 'unset'})`,
            );
        }
      }
      return verdict(
        problems,
        `StatefulSet ${w.name}: ${replicas} servers in a cluster, JetStream file store at ${storeDir} on claim ${claims.map((t) => t.metadata.name).join(', ')}, PDB ${pdb?.metadata.name}; streams of ${STREAM_CREATORS.join(', ')} replicated ${want}×`,
      );
    },
  },
} satisfies Partial<Record<ChecklistItemId, ChecklistItem>>;
