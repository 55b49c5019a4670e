import { posix } from 'node:path';
import { DATABASES, DBMANAGER_CLI, HEALTH_PATHS, METRICS, SERVICE_NAMES } from '../contract/index.js';
import type { ChecklistItemId } from '../config/index.js';
import { type AlertmanagerRoute, type Facts, isSecretRef } from './facts.js';
import type { ManifestObject } from '../manifest/index.js';
import { containersOf, describeList, env, envOf, isLongRunning, isRecord, secretKeysRead, secretsMountedAt, selects, spec, type Workload } from './manifests.js';
import { anchors, headings, relativeLinks, section } from './markdown.js';
import { allows, defaultDeny, openIngress, policiesSelecting } from './network.js';

export type Section = 'Security' | 'Reliability' | 'Observability' | 'Operations';

interface Finding {
  readonly met: boolean;
  /** What satisfies the rule, or what is missing. */
  readonly evidence: string;
}

export interface ChecklistItem {
  readonly section: Section;
  /** The deployment guide's wording, verbatim. */
  readonly guide: string;
  /** What "met" means here, strictly. */
  readonly rule: string;
  readonly check: (f: Facts) => Finding;
}

const met = (evidence: string): Finding => ({ met: true, evidence });
/** Not met when any problem was found; the problems are the evidence. */
const verdict = (problems: readonly string[], evidence: string): Finding => (problems.length ? { met: false, evidence: problems.join('; ') } : met(evidence));

/** Ports that stay plaintext under "TLS on all endpoints": metrics and health, for Prometheus and the kubelet. */
const TLS_EXEMPT_PORT_NAMES: ReadonlySet<string> = new Set(['metrics']);
/**
 * The services that create JetStream streams (services/gateway/src/events.ts, services/auth/src/outbox.ts)
 * and the variable that should give them the replica count. The variable is not in the contract yet:
 * both services create R1 streams today. Rename here if the contract names it differently.
 */
const STREAM_CREATORS = ['gateway', 'auth'] as const;
const STREAM_REPLICAS_ENV = 'PRISM_NATS_STREAM_REPLICAS';
const NGINX = 'nginx.ingress.kubernetes.io';
const NGINX_BACKEND_PROTOCOL = `${NGINX}/backend-protocol`;

const isService = (name: string): boolean => (SERVICE_NAMES as readonly string[]).includes(name);
const ingresses = (f: Facts): ManifestObject[] => f.input.objects.filter((o) => o.kind === 'Ingress');
const annotation = (o: ManifestObject, key: string): string | undefined => o.metadata.annotations?.[key];
const hpaFor = (f: Facts, w: Workload): { minReplicas?: number; maxReplicas: number } | undefined =>
  f.input.objects
    .filter((o) => o.kind === 'HorizontalPodAutoscaler')
    .map((o) => spec<{ scaleTargetRef: { kind: string; name: string }; minReplicas?: number; maxReplicas: number }>(o))
    .find((s) => s.scaleTargetRef.kind === w.kind && s.scaleTargetRef.name === w.name);
const minReplicas = (f: Facts, w: Workload): number => hpaFor(f, w)?.minReplicas ?? w.replicas ?? 1;
const podOf = (w: Workload) => ({ namespace: w.namespace, labels: w.podLabels });
const cronJobs = (f: Facts) => f.workloads.filter((w) => w.kind === 'CronJob').map((w) => ({ w, schedule: spec<{ schedule: string; suspend?: boolean }>(w.object) }));
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

/** The secret keys a component's objects read, for "only its owner reads it" checks. */
function readersOf(f: Facts, key: string): Workload[] {
  return f.workloads.filter((w) => [...secretKeysRead(w)].some((k) => k.endsWith(`/${key}`)));
}

/** The cert-manager Certificates whose Secrets a service mounts at the path its env names. */
const certificatesOf = (f: Facts, w: Workload, n: string): ManifestObject[] => {
  const path = envOf(w, n)?.value;
  const secrets = path ? secretsMountedAt(w, path) : [];
  return f.input.objects.filter((o) => o.kind === 'Certificate' && secrets.includes(spec<{ secretName: string }>(o).secretName));
};

/** Problems with a certificate file a service is told to use: mounted from a CA-issued cert-manager Certificate naming the service. */
function certFileProblems(f: Facts, w: Workload, n: string, namesService: boolean): string[] {
  const path = envOf(w, n)?.value;
  if (!path) return [`${w.app}: ${n} unset`];
  const certs = certificatesOf(f, w, n);
  if (!certs.length) return [`${w.app}: ${n} (${path}) is not mounted from a cert-manager Certificate's Secret`];
  const problems: string[] = [];
  for (const cert of certs) {
    const s = spec<{ issuerRef?: { name: string; kind?: string }; dnsNames?: string[] }>(cert);
    const issuer = f.input.objects.find((o) => o.kind === (s.issuerRef?.kind ?? 'Issuer') && o.metadata.name === s.issuerRef?.name && o.apiVersion.startsWith('cert-manager.io/'));
    if (!issuer || !isRecord(issuer.spec) || !('ca' in issuer.spec)) problems.push(`${w.app}: Certificate ${cert.metadata.name} is not issued by a CA Issuer in the output`);
    if (namesService && !(s.dnsNames ?? []).some((d) => d === w.app || d.startsWith(`${w.app}.`))) problems.push(`${w.app}: Certificate ${cert.metadata.name} does not name ${w.app} in dnsNames`);
  }
  return problems;
}

/**
 * How an Ingress reaches its backends; problems found. It must speak TLS and verify it: against the CA
 * in the Secret of a Certificate from the same Issuer as the backends' certificates, and by a name every
 * backend's HTTPS certificate carries (nginx checks one `proxy-ssl-name` per Ingress).
 */
function ingressBackendTls(f: Facts, i: ManifestObject): string[] {
  const name = `Ingress ${i.metadata.name}`;
  if (!/^(HTTPS|GRPCS)$/.test(annotation(i, NGINX_BACKEND_PROTOCOL) ?? '')) return [`${name}: plaintext to its backends (no ${NGINX_BACKEND_PROTOCOL}: HTTPS)`];
  if (annotation(i, `${NGINX}/proxy-ssl-verify`) !== 'on') return [`${name}: does not verify its backends' certificates (${NGINX}/proxy-ssl-verify is not on)`];
  const problems: string[] = [];
  // `namespace/name`, or `name` in the Ingress' namespace.
  const ref = annotation(i, `${NGINX}/proxy-ssl-secret`) ?? '';
  const [ns, secretName] = ref.includes('/') ? ref.split('/') : [i.metadata.namespace, ref];
  const edgeCert = f.input.objects.find((o) => o.kind === 'Certificate' && spec<{ secretName: string }>(o).secretName === secretName && (o.metadata.namespace ?? ns) === ns);
  if (!edgeCert) problems.push(`${name}: ${NGINX}/proxy-ssl-secret is not the Secret of a cert-manager Certificate in its namespace`);
  const sslName = annotation(i, `${NGINX}/proxy-ssl-name`);
  const backends = [
    ...new Set(
      spec<{ rules?: { http?: { paths?: { backend?: { service?: { name: string } } }[] } }[] }>(i)
        .rules?.flatMap((r) => r.http?.paths ?? [])
        .map((p) => p.backend?.service?.name ?? '') ?? [],
    ),
  ];
  for (const b of backends) {
    const w = f.services().find((x) => x.app === b);
    if (!w) continue;
    for (const cert of certificatesOf(f, w, 'PRISM_TLS_CERT_FILE')) {
      const s = spec<{ issuerRef?: { name: string }; dnsNames?: string[] }>(cert);
      if (!sslName || !(s.dnsNames ?? []).includes(sslName)) problems.push(`${name}: ${NGINX}/proxy-ssl-name ${sslName ?? '(unset)'} is not a name in ${b}'s certificate ${cert.metadata.name}`);
      if (edgeCert && spec<{ issuerRef?: { name: string } }>(edgeCert).issuerRef?.name !== s.issuerRef?.name) problems.push(`${name}: its CA (${secretName}) is not the issuer of ${b}'s certificate`);
    }
  }
  return problems;
}

/**
 * TLS settings of one Prism service workload, per port it serves; problems found. gRPC ports need
 * mutual TLS (PRISM_MTLS_*: every caller is a workload or an operator with a certificate). HTTP ports
 * need TLS (PRISM_TLS_*) but not client certificates: the edge proxy reaches them; when client
 * certificates are asked for, their CA must be a mounted CA too. Exempt ports (metrics) need nothing.
 */
function serviceTls(f: Facts, w: Workload): string[] {
  const problems: string[] = [];
  const val = (n: string) => envOf(w, n)?.value;
  const ports = w.pod.containers.flatMap((c) => c.ports ?? []).filter((p) => !TLS_EXEMPT_PORT_NAMES.has(p.name ?? ''));
  if (ports.some((p) => p.name === 'grpc')) {
    if (val('PRISM_MTLS_ENABLED') !== 'true') problems.push(`${w.app}: PRISM_MTLS_ENABLED is not true (gRPC without mutual TLS)`);
    else for (const n of ['PRISM_MTLS_CERT_FILE', 'PRISM_MTLS_KEY_FILE', 'PRISM_MTLS_CA_FILE']) problems.push(...certFileProblems(f, w, n, n === 'PRISM_MTLS_CERT_FILE'));
  }
  for (const p of ports.filter((x) => x.name !== 'grpc')) {
    if (val('PRISM_TLS_ENABLED') !== 'true') {
      problems.push(`${w.app}: port ${p.name ?? p.containerPort} serves plaintext (PRISM_TLS_ENABLED is not true)`);
      continue;
    }
    for (const n of ['PRISM_TLS_CERT_FILE', 'PRISM_TLS_KEY_FILE']) problems.push(...certFileProblems(f, w, n, n === 'PRISM_TLS_CERT_FILE'));
    if (val('PRISM_TLS_CLIENT_AUTH') === 'true') problems.push(...certFileProblems(f, w, 'PRISM_TLS_CLIENT_CA_FILE', false));
    break;
  }
  return problems;
}

export const CHECKLIST: Readonly<Record<ChecklistItemId, ChecklistItem>> = {
  // ── Security ───────────────────────────────────────────────────────────────────────────────
  'tls-all-endpoints': {
    section: 'Security',
    guide: 'TLS enabled on all endpoints',
    rule:
      'The edge: every Ingress host is covered by spec.tls with a cert-manager issuer and HTTP redirected to HTTPS. Inside: every Prism ' +
      "service's gRPC port requires mutual TLS (PRISM_MTLS_ENABLED true) and its HTTP port serves TLS (PRISM_TLS_ENABLED true; client " +
      'certificates optional, as the edge reaches it), the certificate, key and CA files mounted from the Secret of a cert-manager ' +
      'Certificate issued by a CA Issuer in the output and naming the service; every service-to-service URL (env and gateway config) ' +
      "is https, and every Ingress speaks TLS to its backends and verifies it (proxy-ssl-verify; the CA of the Issuer of the backends' " +
      "certificates, from a Certificate's Secret; a proxy-ssl-name each backend's certificate carries). Only the metrics/health port stays plaintext.",
    check(f) {
      const problems: string[] = [];
      const ing = ingresses(f);
      if (!ing.length) problems.push('no Ingress');
      const issuerOf = (i: ManifestObject) => annotation(i, 'cert-manager.io/cluster-issuer') ?? annotation(i, 'cert-manager.io/issuer');
      const tlsSecrets = (i: ManifestObject) => (spec<{ tls?: { secretName?: string }[] }>(i).tls ?? []).flatMap((t) => (t.secretName ? [t.secretName] : []));
      const issuing = ing.filter(issuerOf);
      for (const i of ing) {
        const s = spec<{ tls?: { hosts?: string[]; secretName?: string }[]; rules?: { host?: string }[] }>(i);
        const covered = new Set((s.tls ?? []).filter((t) => t.secretName).flatMap((t) => t.hosts ?? []));
        for (const r of s.rules ?? []) if (!r.host || !covered.has(r.host)) problems.push(`Ingress ${i.metadata.name}: host ${r.host ?? '(any)'} without TLS`);
        // cert-manager issues each TLS Secret for one Ingress that asks (Ingresses sharing the host share it).
        for (const t of s.tls ?? [])
          if (t.secretName && !issuing.some((x) => tlsSecrets(x).includes(t.secretName!))) problems.push(`Ingress ${i.metadata.name}: TLS Secret ${t.secretName} from no cert-manager issuer`);
        if (annotation(i, 'nginx.ingress.kubernetes.io/ssl-redirect') === 'false') problems.push(`Ingress ${i.metadata.name}: ssl-redirect off`);
        problems.push(...ingressBackendTls(f, i));
      }
      const services = f.services();
      for (const w of services) problems.push(...serviceTls(f, w));
      // Every service-to-service address must be https: env values and the gateway's routes.
      for (const w of services) {
        for (const e of w.pod.containers.flatMap((c) => c.env ?? [])) {
          const m = /^http:\/\/([a-z0-9-]+)[:/]/.exec(e.value ?? '');
          if (m && isService(m[1]!)) problems.push(`${w.app}: ${e.name} is plaintext (${e.value})`);
        }
      }
      for (const g of f.gatewayConfigs()) {
        for (const url of [g.doc.auth?.jwks_url, ...g.doc.routes.map((r) => r.upstream)]) {
          const m = /^http:\/\/([a-z0-9-]+)[:/]/.exec(url ?? '');
          if (m && isService(m[1]!)) problems.push(`${g.object.metadata.name}: ${url} is plaintext`);
        }
      }
      const exempt = [...TLS_EXEMPT_PORT_NAMES].join(', ');
      return verdict(
        problems.length > 12 ? [...problems.slice(0, 12), `and ${problems.length - 12} more`] : problems,
        `Ingress ${ing.map((i) => i.metadata.name).join(', ')} TLS (${[...new Set(issuing.map(issuerOf))].join(', ')}), backends verified against the mesh CA; mutual TLS on the gRPC ports and HTTPS on the HTTP ports of ${services.map((w) => w.app).join(', ')} from cert-manager Certificates; plaintext only on ${exempt}`,
      );
    },
  },
  'jwt-keys': {
    section: 'Security',
    guide: 'JWT keys rotated and secured',
    rule:
      'Keys by reference: the private key is read only by auth, the public key by auth and the gateway, both from a Secret delivered by a secrets manager, ' +
      'no PEM in any object; the gateway reads the JWKS (new kids without a redeploy); a rotation procedure in the runbook; rotation tests in auth and the gateway.',
    check(f) {
      const problems: string[] = [];
      const priv = readersOf(f, 'jwt-private-key').map((w) => w.app);
      const pub = readersOf(f, 'jwt-public-key').map((w) => w.app);
      if (priv.length === 0) problems.push('no workload reads jwt-private-key from a Secret');
      const strangers = [...new Set(priv)].filter((a) => a !== 'auth');
      if (strangers.length) problems.push(`jwt-private-key also read by ${strangers.join(', ')}`);
      if (!pub.includes('gateway')) problems.push('the gateway does not read jwt-public-key');
      const pem = f.input.objects.filter((o) => JSON.stringify(o).includes('-----BEGIN'));
      if (pem.length) problems.push(`PEM material in ${pem.map((o) => `${o.kind} ${o.metadata.name}`).join(', ')}`);
      const managed = f.secretsManaged(['jwt-private-key', 'jwt-public-key']);
      if (!managed.ok) problems.push(managed.evidence);
      const gateway = f.services().find((w) => w.app === 'gateway');
      if (!gateway || !envOf(gateway, 'PRISM_AUTH_JWKS_URL')?.value) problems.push('the gateway has no PRISM_AUTH_JWKS_URL (rotated keys need a restart)');
      const runbook = [...f.docs()].find(([, t]) => headings(t).some((h) => /rotat/i.test(h) && /jwt/i.test(h)));
      if (!runbook) problems.push('no runbook section on rotating the JWT keys');
      const tested = (svc: string) =>
        [...f.input.files].filter(([p, t]) => p.startsWith(`services/${svc}/test/`) && /\b(?:describe|it)\(\s*['"`][^'"`]*(?:key[^'"`]*rotat|rotat[^'"`]*key)/i.test(t)).map(([p]) => p);
      const tests = [...tested('auth'), ...tested('gateway')];
      if (!tested('auth').length) problems.push('no rotation test in services/auth/test');
      if (!tested('gateway').length) problems.push('no rotation test in services/gateway/test');
      return verdict(
        problems,
        `private key read by auth only, public by ${describeList([...new Set(pub)])}; ${managed.evidence}; gateway follows the JWKS; procedure: ${runbook?.[0]}; tests: ${tests.join(', ')}`,
      );
    },
  },
  'database-credentials': {
    section: 'Security',
    guide: 'Database credentials in secrets management',
    rule: "Every PostgreSQL password variable (the services' PRISM_*_DB_PASSWORD, the servers' POSTGRES_PASSWORD) is a secretKeyRef, never a value, and those keys come from a secrets manager.",
    check(f) {
      const problems: string[] = [];
      const keys = new Set<string>();
      let count = 0;
      for (const w of f.workloads) {
        for (const c of containersOf(w)) {
          for (const e of c.env ?? []) {
            if (!/^(PRISM_[A-Z]+_DB_PASSWORD|POSTGRES_PASSWORD|PGPASSWORD)$/.test(e.name)) continue;
            count++;
            if (!isSecretRef(e)) problems.push(`${w.kind} ${w.name}: ${e.name} is not a secret reference`);
            else keys.add(e.valueFrom!.secretKeyRef!.key);
          }
        }
      }
      if (count === 0) problems.push('no database password variable found');
      const managed = f.secretsManaged([...keys]);
      if (!managed.ok) problems.push(managed.evidence);
      return verdict(problems, `${count} password variables, all secretKeyRefs to ${describeList([...keys].sort())}; ${managed.evidence}`);
    },
  },
  'redis-password': {
    section: 'Security',
    guide: 'Redis password configured',
    rule: 'Every Redis server runs with --requirepass from a secret-referenced variable, and every workload given PRISM_REDIS_ADDRESS is given PRISM_REDIS_PASSWORD from the same secret key.',
    check(f) {
      const problems: string[] = [];
      const servers = f.workloads.filter((w) => w.pod.containers.some((c) => /(^|\/)redis$/.test(c.image.split(':')[0]!) || (c.command ?? []).includes('redis-server')));
      if (!servers.length) problems.push('no Redis server');
      const serverKeys = new Set<string>();
      for (const w of servers) {
        const c = w.pod.containers.find((x) => (x.command ?? []).includes('redis-server') || /redis/.test(x.image))!;
        const args = [...(c.command ?? []), ...(c.args ?? [])];
        const i = args.indexOf('--requirepass');
        const v = i >= 0 ? /^\$\(([A-Z_]+)\)$/.exec(args[i + 1] ?? '')?.[1] : undefined;
        const e = v ? env(c, v) : undefined;
        if (!e || !isSecretRef(e)) problems.push(`${w.name}: no --requirepass from a secret reference`);
        else serverKeys.add(e.valueFrom!.secretKeyRef!.key);
      }
      const clients = f.workloads.filter((w) => envOf(w, 'PRISM_REDIS_ADDRESS'));
      for (const w of clients) {
        const p = envOf(w, 'PRISM_REDIS_PASSWORD');
        if (!isSecretRef(p)) problems.push(`${w.name}: PRISM_REDIS_PASSWORD missing or not a secret reference`);
        else if (!serverKeys.has(p!.valueFrom!.secretKeyRef!.key)) problems.push(`${w.name}: PRISM_REDIS_PASSWORD is not the server's key`);
      }
      return verdict(problems, `${servers.map((w) => w.name).join(', ')} --requirepass from ${describeList([...serverKeys])}; clients ${clients.map((w) => w.app).join(', ')} use the same key`);
    },
  },
  'network-policies': {
    section: 'Security',
    guide: 'Network policies configured',
    rule:
      'A default deny of ingress and egress in the namespace; every pod selected by its own policy; no policy admitting any source; and every flow of the model ' +
      '(component and task, to a port) allowed at both ends, so the data tier is reachable only by its users.',
    check(f) {
      const problems: string[] = [];
      const ns = f.namespace;
      const deny = defaultDeny(f.input.objects, ns);
      if (!deny) problems.push(`no default deny (ingress and egress) in ${ns}`);
      const mine = f.workloads.filter((w) => w.namespace === ns);
      for (const w of mine) if (!policiesSelecting(f.input.objects, podOf(w)).length) problems.push(`${w.kind} ${w.name}: no policy selects its pods`);
      for (const o of openIngress(f.input.objects, ns)) problems.push(`NetworkPolicy ${o.metadata.name} admits any source`);
      let flows = 0;
      const byApp = (name: string) => mine.filter((w) => w.app === name);
      for (const c of f.input.platform.components) {
        for (const owner of [{ name: c.name, flows: c.flows }, ...c.tasks.map((t) => ({ name: t.name, flows: t.flows }))]) {
          for (const flow of owner.flows) {
            const target = f.input.platform.components.find((x) => x.name === flow.to);
            const port = target?.ports.find((p) => p.name === flow.port)?.port;
            for (const from of byApp(owner.name)) {
              for (const to of byApp(flow.to)) {
                flows++;
                if (port === undefined || !allows(f.input.objects, podOf(from), podOf(to), port)) problems.push(`${owner.name} → ${flow.to}:${port ?? flow.port} not allowed`);
              }
            }
          }
        }
      }
      return verdict([...new Set(problems)], `default deny ${deny?.metadata.name}; ${mine.length} workloads each selected by a policy; ${flows} model flows allowed at both ends`);
    },
  },
  'rate-limiting': {
    section: 'Security',
    guide: 'Rate limiting enabled at Traefik and Gateway',
    rule:
      'Both layers: the edge (Ingress limit-rps > 0; Traefik in Compose) and the gateway (rate_limit enabled with a positive rate, shared through Redis); and the gateway ' +
      "sees the real client behind the edge (trusted forwarding), or every client shares the proxy's one per-IP bucket.",
    check(f) {
      const problems: string[] = [];
      const edge: string[] = [];
      for (const i of ingresses(f)) {
        const rps = Number(annotation(i, 'nginx.ingress.kubernetes.io/limit-rps') ?? traefikRateLimit(f, i) ?? 0);
        if (!(rps > 0)) problems.push(`Ingress ${i.metadata.name}: no edge rate limit`);
        else edge.push(`Ingress ${i.metadata.name} ${rps}/s per IP`);
      }
      if (!ingresses(f).length) problems.push('no edge');
      const gw = f.gatewayConfigs();
      if (!gw.length) problems.push('no gateway config');
      const gateway = f.services().find((w) => w.app === 'gateway');
      for (const g of gw) {
        const rl = g.doc.rate_limit;
        if (!rl.enabled || !((rl.requests_per_second ?? 0) > 0)) problems.push(`${g.object.metadata.name}: gateway rate limit off`);
        const s = g.doc.server ?? {};
        const trusted = s.trust_forwarded_for === true || Object.entries(s).some(([k, v]) => /trusted_prox/.test(k) && Array.isArray(v) && v.length > 0);
        if (!trusted) problems.push(`${g.object.metadata.name}: the gateway trusts no forwarded address, so all clients behind the edge share one per-IP bucket`);
      }
      if (!gateway || !envOf(gateway, 'PRISM_REDIS_ADDRESS')) problems.push('the gateway has no Redis for a shared limit');
      const rl = gw[0]?.doc.rate_limit;
      return verdict(problems, `${edge.join(', ')}; gateway ${rl?.requests_per_second}/s burst ${rl?.burst} per identity through Redis, client address from the edge`);
    },
  },
  'oauth-secrets': {
    section: 'Security',
    guide: 'OAuth secrets secured',
    rule: 'The OAuth client ids and secrets reach auth only, as secret references from a secrets manager, and the redirect base URL is https.',
    check(f) {
      const problems: string[] = [];
      const names = ['PRISM_GOOGLE_CLIENT_ID', 'PRISM_GOOGLE_CLIENT_SECRET', 'PRISM_GITHUB_CLIENT_ID', 'PRISM_GITHUB_CLIENT_SECRET'];
      const keys: string[] = [];
      const auth = f.services().filter((w) => w.app === 'auth');
      if (!auth.length) problems.push('no auth workload');
      for (const w of auth) {
        for (const n of names) {
          const e = envOf(w, n);
          if (!isSecretRef(e)) problems.push(`auth: ${n} ${e ? 'is not a secret reference' : 'missing'}`);
          else keys.push(e!.valueFrom!.secretKeyRef!.key);
        }
        const base = envOf(w, 'PRISM_PUBLIC_BASE_URL')?.value ?? '';
        if (!base.startsWith('https://')) problems.push(`auth: PRISM_PUBLIC_BASE_URL ${base || 'unset'} is not https`);
      }
      for (const k of new Set(keys)) {
        const others = readersOf(f, k).filter((w) => w.app !== 'auth');
        if (others.length) problems.push(`${k} also read by ${others.map((w) => w.name).join(', ')}`);
      }
      const managed = f.secretsManaged([...new Set(keys)]);
      if (!managed.ok) problems.push(managed.evidence);
      return verdict(problems, `${[...new Set(keys)].join(', ')} read by auth only; ${managed.evidence}`);
    },
  },
  'minio-policies': {
    section: 'Security',
    guide: 'MinIO access policies configured',
    rule:
      'A set-up Job attaches a bucket policy that reaches only the backup bucket (no wildcard action or resource); the DB manager uses that least-privilege user, ' +
      'not the root user; the root password is read only by MinIO and its set-up.',
    check(f) {
      const problems: string[] = [];
      const policies: { name: string; statements: { Action: string | string[]; Resource: string | string[] }[] }[] = [];
      for (const o of f.input.objects.filter((x) => x.kind === 'ConfigMap')) {
        for (const [key, text] of Object.entries((o.data as Record<string, string>) ?? {})) {
          if (!key.endsWith('.json')) continue;
          try {
            const doc = JSON.parse(text) as { Statement?: { Action: string | string[]; Resource: string | string[] }[] };
            if (Array.isArray(doc.Statement)) policies.push({ name: `${o.metadata.name}/${key}`, statements: doc.Statement });
          } catch {
            /* not a policy document */
          }
        }
      }
      const bucket = f.workloads.map((w) => envOf(w, 'PRISM_S3_BUCKET')?.value).find(Boolean);
      if (!policies.length) problems.push('no MinIO policy document');
      for (const p of policies) {
        for (const s of p.statements) {
          const actions = [s.Action].flat();
          const resources = [s.Resource].flat();
          if (actions.some((a) => a === '*' || a === 's3:*' || a.startsWith('admin:'))) problems.push(`${p.name}: wildcard or admin action`);
          if (resources.some((r) => !bucket || !(r === `arn:aws:s3:::${bucket}` || r.startsWith(`arn:aws:s3:::${bucket}/`))))
            problems.push(`${p.name}: a resource beyond the ${bucket ?? 'backup'} bucket`);
        }
      }
      const mounted = (w: Workload) => (w.pod.volumes ?? []).some((v) => v.configMap && policies.some((p) => p.name.startsWith(`${v.configMap!.name}/`)));
      const setup = f.workloads.filter((w) => w.kind === 'Job' && mounted(w));
      if (!setup.length) problems.push('no set-up Job applies the policy');
      const root = f.workloads.flatMap((w) => w.pod.containers.map((c) => env(c, 'MINIO_ROOT_USER')?.value)).find(Boolean);
      const s3Users = f.workloads.filter((w) => envOf(w, 'PRISM_S3_ACCESS_KEY'));
      for (const w of s3Users) {
        if (envOf(w, 'PRISM_S3_ACCESS_KEY')?.value === root) problems.push(`${w.name} uses the MinIO root user`);
        if (!isSecretRef(envOf(w, 'PRISM_S3_SECRET_KEY'))) problems.push(`${w.name}: PRISM_S3_SECRET_KEY not a secret reference`);
      }
      const rootReaders = readersOf(f, 'minio-root-password').filter((w) => w.app !== 'minio' && !setup.includes(w));
      if (rootReaders.length) problems.push(`the MinIO root password is also read by ${rootReaders.map((w) => w.name).join(', ')}`);
      return verdict(
        problems,
        `${policies.map((p) => p.name).join(', ')} limited to bucket ${bucket}, applied by Job ${setup.map((w) => w.name).join(', ')}; ${s3Users.length} backup workloads use user ${envOf(s3Users[0]!, 'PRISM_S3_ACCESS_KEY')?.value}`,
      );
    },
  },

  // ── Reliability ────────────────────────────────────────────────────────────────────────────
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
        if (c.livenessProbe?.httpGet?.path !== HEALTH_PATHS.live) problems.push(`${w.app}: liveness is not ${HEALTH_PATHS.live}`);
        if (c.readinessProbe?.httpGet?.path !== HEALTH_PATHS.ready) problems.push(`${w.app}: readiness is not ${HEALTH_PATHS.ready}`);
      }
      return verdict(problems, `${n} containers with liveness and readiness; services on ${HEALTH_PATHS.live} and ${HEALTH_PATHS.ready}`);
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
      return verdict(problems, `${n} containers in ${f.workloads.length} workloads with CPU and memory requests and limits`);
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
      const needing = f.workloads.filter((w) => ['Deployment', 'StatefulSet'].includes(w.kind) && (minReplicas(f, w) > 1 || (isService(w.app) && !singletons.has(w.app))));
      const covered: string[] = [];
      for (const w of needing) {
        const pdb = pdbs.find((p) => (p.metadata.namespace ?? w.namespace) === w.namespace && selects(spec<{ selector: { matchLabels: Record<string, string> } }>(p).selector, w.podLabels));
        const s = pdb ? spec<{ minAvailable?: number | string; maxUnavailable?: number | string }>(pdb) : undefined;
        if (!pdb) problems.push(`${w.kind} ${w.name}: no PodDisruptionBudget`);
        else if (s!.minAvailable === 0 || s!.minAvailable === '0%' || (s!.maxUnavailable !== undefined && Number(s!.maxUnavailable) >= minReplicas(f, w)))
          problems.push(`${pdb.metadata.name}: allows every pod of ${w.name} to go`);
        else covered.push(`${w.name} (${s!.minAvailable !== undefined ? `minAvailable ${s!.minAvailable}` : `maxUnavailable ${s!.maxUnavailable}`})`);
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
          if (!cb || !(cb.failure_threshold! > 0 && cb.reset_timeout_ms! > 0 && cb.half_open_max_requests! > 0)) problems.push(`route ${r.prefix}: no circuit breaker`);
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
            problems.push(`route ${r.prefix}: ${r.timeout_ms} ms × ${1 + (r.retries ?? 0)} attempts exceeds the ${requestMs} ms request timeout`);
        }
      }
      if (!f.gatewayConfigs().length) problems.push('no gateway config');
      for (const i of ingresses(f)) {
        for (const k of ['connect', 'read', 'send']) if (!annotation(i, `nginx.ingress.kubernetes.io/proxy-${k}-timeout`)) problems.push(`Ingress ${i.metadata.name}: no proxy-${k}-timeout`);
        const read = Number(annotation(i, 'nginx.ingress.kubernetes.io/proxy-read-timeout') ?? 0);
        if (read && read * 1000 < requestMs) problems.push(`Ingress ${i.metadata.name}: read timeout ${read} s cuts the gateway's ${requestMs} ms`);
      }
      for (const w of f.workloads.filter(isLongRunning)) {
        for (const c of w.pod.containers) {
          for (const [kind, p] of [
            ['liveness', c.livenessProbe],
            ['readiness', c.readinessProbe],
          ] as const)
            if (p && p.timeoutSeconds === undefined) problems.push(`${w.name}/${c.name}: ${kind} probe on the 1 s default timeout`);
        }
      }
      for (const w of f.workloads.filter((x) => x.kind === 'Job' || x.kind === 'CronJob')) {
        const job = w.kind === 'CronJob' ? spec<{ jobTemplate: { spec: { activeDeadlineSeconds?: number } } }>(w.object).jobTemplate.spec : spec<{ activeDeadlineSeconds?: number }>(w.object);
        if (!(job.activeDeadlineSeconds! > 0)) problems.push(`${w.kind} ${w.name}: no activeDeadlineSeconds`);
      }
      for (const w of f.services()) {
        const shutdown = Number(envOf(w, 'PRISM_SHUTDOWN_TIMEOUT_SECONDS')?.value ?? 20);
        const grace = w.pod.terminationGracePeriodSeconds ?? 30;
        if (grace <= shutdown) problems.push(`${w.app}: grace period ${grace} s not above the ${shutdown} s shutdown timeout`);
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
      const nats = f.workloads.filter((w) => w.kind === 'StatefulSet' && w.pod.containers.some((c) => /(^|\/)nats$/.test(c.image.split(':')[0]!)));
      if (!nats.length) return { met: false, evidence: 'no NATS StatefulSet' };
      const w = nats[0]!;
      const claims = spec<{ volumeClaimTemplates?: { metadata: { name: string } }[] }>(w.object).volumeClaimTemplates ?? [];
      const conf = f.input.objects
        .filter((o) => o.kind === 'ConfigMap' && w.pod.volumes?.some((v) => v.configMap?.name === o.metadata.name))
        .flatMap((o) => Object.values((o.data as Record<string, string>) ?? {}))
        .find((t) => /\bjetstream\s*\{/.test(t));
      const storeDir = conf ? /store_dir:\s*"?([^"\s]+)"?/.exec(conf)?.[1] : undefined;
      const c = w.pod.containers[0]!;
      const onClaim = storeDir && c.volumeMounts?.some((m) => claims.some((t) => t.metadata.name === m.name) && storeDir.startsWith(m.mountPath));
      if (!conf) problems.push('JetStream not enabled in the NATS config');
      else if (!onClaim) problems.push(`JetStream store_dir ${storeDir ?? 'unset'} is not on a volume claim`);
      if (conf && /max_file_store:\s*0\b/.test(conf)) problems.push('max_file_store is 0 (memory only)');
      const replicas = w.replicas ?? 1;
      const routes = conf ? [...conf.matchAll(/nats:\/\/[^\s]+:\d+/g)].length : 0;
      if (replicas < 3 || replicas % 2 === 0) problems.push(`${replicas} NATS server${replicas === 1 ? '' : 's'}: no quorum to survive the loss of one`);
      else if (routes < replicas) problems.push(`cluster routes name ${routes} of ${replicas} servers`);
      const pdb = f.input.objects.find((o) => o.kind === 'PodDisruptionBudget' && selects(spec<{ selector: { matchLabels: Record<string, string> } }>(o).selector, w.podLabels));
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

  // ── Observability ──────────────────────────────────────────────────────────────────────────
  'prometheus-scraping': {
    section: 'Observability',
    guide: 'Prometheus scraping enabled',
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
        problems.push('Prometheus may reach the Kubernetes API (pod discovery) only on public addresses; API servers are private on kubeadm, EKS and private GKE/AKS');
      const scraped: string[] = [];
      const candidates = f.workloads.filter((x) => isLongRunning(x) && x.namespace === f.namespace && !prom.includes(x));
      /** Why Prometheus cannot read the workload's own annotated endpoint; undefined when it can. */
      const scrapeProblem = (w: Workload): string | undefined => {
        const port = Number(w.podAnnotations['prometheus.io/port']);
        if (w.podAnnotations['prometheus.io/scrape'] !== 'true') return `${w.name} is not scraped`;
        if (!w.pod.containers.some((c) => c.ports?.some((p) => p.containerPort === port))) return `${w.name}: scrape port ${port} is not a container port`;
        if (!allows(f.input.objects, podOf(prom[0]!), podOf(w), port)) return `${w.name}: Prometheus may not reach port ${port}`;
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
          const port = f.input.platform.components.find((x) => x.name === w.app)?.ports.find((p) => p.name === flow?.port)?.port;
          const running = candidates.filter((x) => x.app === c.name);
          if (!running.length) problems.push(`${w.name}: its exporter ${c.name} does not run`);
          for (const e of running) {
            const bad = scrapeProblem(e);
            if (bad) problems.push(`${w.name}: exporter ${bad}`);
            else if (port === undefined || !allows(f.input.objects, podOf(e), podOf(w), port)) problems.push(`${w.name}: exporter ${e.name} may not reach it on ${flow?.port ?? 'any port'}`);
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
      const grafana = f.workloads.filter((w) => w.pod.containers.some((c) => /(^|\/)grafana$/.test(c.image.split(':')[0]!)));
      if (!grafana.length) return { met: false, evidence: 'no Grafana' };
      const ds = f.grafanaDatasources();
      for (const t of ['prometheus', 'loki', 'jaeger']) if (!ds.some((d) => d.type === t)) problems.push(`no ${t} data source`);
      const uids = new Set(ds.map((d) => d.uid).filter(Boolean));
      const mountedMaps = new Set(grafana.flatMap((w) => (w.pod.volumes ?? []).flatMap((v) => (v.configMap ? [v.configMap.name] : []))));
      const dashboards: string[] = [];
      for (const o of f.input.objects.filter((x) => x.kind === 'ConfigMap' && mountedMaps.has(x.metadata.name))) {
        for (const [key, text] of Object.entries((o.data as Record<string, string>) ?? {})) {
          if (!key.endsWith('.json')) continue;
          let d: { title?: string; panels?: { datasource?: { uid?: string }; targets?: { datasource?: { uid?: string } }[] }[] };
          try {
            d = JSON.parse(text) as typeof d;
          } catch {
            problems.push(`${key}: not JSON`);
            continue;
          }
          if (!d.panels?.length) problems.push(`${key}: no panels`);
          for (const p of d.panels ?? [])
            for (const u of [p.datasource?.uid, ...(p.targets ?? []).map((t) => t.datasource?.uid)]) if (u && !uids.has(u)) problems.push(`${key}: data source ${u} is not provisioned`);
          dashboards.push(d.title ?? key);
        }
      }
      if (!dashboards.length) problems.push('no dashboard mounted into Grafana');
      const provider = configValuesHave(f, (t) => /providers:/.test(t) && /type: file/.test(t));
      if (!provider) problems.push('no file dashboard provider');
      return verdict([...new Set(problems)], `${dashboards.join(', ')}; data sources ${ds.map((d) => d.name).join(', ')}`);
    },
  },
  'loki-logs': {
    section: 'Observability',
    guide: 'Loki log aggregation configured',
    rule: 'Loki runs on a persistent volume; a log shipper (DaemonSet reading node files, or a Deployment reading through the API) pushes to its /loki/api/v1/push through the Loki Service; Grafana has Loki as a data source.',
    check(f) {
      const problems: string[] = [];
      const loki = f.workloads.filter((w) => w.kind === 'StatefulSet' && w.pod.containers.some((c) => /(^|\/)loki$/.test(c.image.split(':')[0]!)));
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
            Object.values((o.data as Record<string, string>) ?? {}).some((t) => lokiServices.some((s) => new RegExp(`//${s}[.:][^\\s"]*/loki/api/v1/push`).test(t))),
        );
      });
      if (!shippers.length) problems.push('no log shipper pushes to Loki');
      if (!f.grafanaDatasources().some((d) => d.type === 'loki')) problems.push('Grafana has no Loki data source');
      return verdict(problems, `StatefulSet ${loki.map((w) => w.name).join(', ')}; shipper ${shippers.map((w) => `${w.kind} ${w.namespace}/${w.name}`).join(', ')}; Grafana data source`);
    },
  },
  'jaeger-tracing': {
    section: 'Observability',
    guide: 'Jaeger tracing enabled',
    rule: 'Jaeger runs; every Prism service exports traces (PRISM_OTLP_ENDPOINT resolving to Jaeger through a Service, allowed by the network policies); Grafana has Jaeger as a data source.',
    check(f) {
      const problems: string[] = [];
      const jaeger = f.workloads.filter((w) => w.pod.containers.some((c) => /jaeger/.test(c.image.split(':')[0]!)));
      if (!jaeger.length) return { met: false, evidence: 'no Jaeger' };
      const ok: string[] = [];
      for (const w of f.services()) {
        const url = envOf(w, 'PRISM_OTLP_ENDPOINT')?.value;
        const target = url ? f.resolve(url) : undefined;
        if (!url) problems.push(`${w.app}: no PRISM_OTLP_ENDPOINT`);
        else if (!target || !jaeger.includes(target)) problems.push(`${w.app}: ${url} does not reach Jaeger`);
        else if (!allows(f.input.objects, podOf(w), podOf(target), Number(/:(\d+)/.exec(url.replace(/^[a-z]+:\/\//, ''))?.[1]))) problems.push(`${w.app}: network policies block ${url}`);
        else ok.push(w.app);
      }
      if (!f.grafanaDatasources().some((d) => d.type === 'jaeger')) problems.push('Grafana has no Jaeger data source');
      return verdict(problems, `${jaeger[0]!.name} receives OTLP from ${ok.join(', ')}; Grafana data source`);
    },
  },
  alerting: {
    section: 'Observability',
    guide: 'Alerting rules set up',
    rule:
      'Prometheus loads alert rules (each with a severity and a runbook_url) and sends to an Alertmanager in the output (alerting.alertmanagers, allowed by the network ' +
      'policies), whose config routes to receivers that exist, at least one with a real integration.',
    check(f) {
      const problems: string[] = [];
      const rules = f.allAlertRules();
      if (!rules.length) problems.push('no alert rules');
      for (const r of rules) if (!r.labels?.severity || !r.annotations?.runbook_url) problems.push(`${r.alert}: no severity or runbook_url`);
      const cfg = f.prometheusConfigs();
      if (!cfg.some((c) => Array.isArray(c.doc.rule_files) && c.doc.rule_files.length)) problems.push('Prometheus loads no rule files');
      const am = f.alertmanager();
      const targets = cfg.flatMap((c) => (c.doc.alerting as { alertmanagers?: { static_configs?: { targets: string[] }[]; kubernetes_sd_configs?: unknown[] }[] } | undefined)?.alertmanagers ?? []);
      if (!targets.length) problems.push('Prometheus sends alerts nowhere (no alerting.alertmanagers)');
      if (!am.length) problems.push('no Alertmanager in the output');
      const prom = f.prometheus()[0];
      for (const t of targets.flatMap((a) => (a.static_configs ?? []).flatMap((s) => s.targets))) {
        const w = f.resolve(t);
        if (!w || !am.includes(w)) problems.push(`alertmanager target ${t} is not an Alertmanager`);
        else if (prom && !allows(f.input.objects, podOf(prom), podOf(w), Number(t.split(':').pop()))) problems.push(`network policies block Prometheus → ${t}`);
      }
      const amc = f.alertmanagerConfigs();
      if (am.length && !amc.length) problems.push('no Alertmanager configuration found');
      const receivers: string[] = [];
      for (const { doc } of amc) {
        const names = new Set(doc.receivers.map((r) => r.name));
        const walk = (r: AlertmanagerRoute): string[] => [...(r.receiver ? [r.receiver] : []), ...(r.routes ?? []).flatMap(walk)];
        for (const n of walk(doc.route)) if (!names.has(n)) problems.push(`route names unknown receiver ${n}`);
        const real = doc.receivers.filter((r) => Object.keys(r).some((k) => k.endsWith('_configs') && Array.isArray(r[k]) && (r[k] as unknown[]).length > 0));
        if (!real.length) problems.push('no receiver has an integration (webhook, Slack, PagerDuty, e-mail, ...)');
        receivers.push(...real.map((r) => r.name));
      }
      const bySeverity = [...new Set(rules.map((r) => r.labels?.severity))].map((s) => `${rules.filter((r) => r.labels?.severity === s).length} ${s}`);
      return verdict(problems, `${rules.length} rules (${bySeverity.join(', ')}); Prometheus → ${am.map((w) => w.name).join(', ')} → receivers ${receivers.join(', ')}`);
    },
  },
  'correlation-ids': {
    section: 'Observability',
    guide: 'Request tracing with correlation IDs',
    rule: "Every Prism service exports traces to Jaeger, its logs reach Loki through a log shipper, and Grafana's Loki data source links a log line's trace id to the Jaeger data source.",
    check(f) {
      const problems: string[] = [];
      const tracing = CHECKLIST['jaeger-tracing'].check(f);
      if (!tracing.met) problems.push(`traces: ${tracing.evidence}`);
      const logs = CHECKLIST['loki-logs'].check(f);
      if (!logs.met) problems.push(`logs: ${logs.evidence}`);
      const ds = f.grafanaDatasources();
      const jaegerUids = new Set(ds.filter((d) => d.type === 'jaeger').map((d) => d.uid));
      const linked = ds.some((d) => d.type === 'loki' && d.jsonData?.derivedFields?.some((x) => jaegerUids.has(x.datasourceUid)));
      if (!linked) problems.push('Grafana does not link log lines to traces (no Loki derived field to Jaeger)');
      return verdict(problems, `services export traces; logs shipped to Loki; Loki's derived field links trace ids to Jaeger`);
    },
  },

  // ── Operations ─────────────────────────────────────────────────────────────────────────────
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
          else if (!test(j.schedule.schedule)) problems.push(`CronJob ${j.w.name} (${j.schedule.schedule}) runs less than ${often}`);
          else if (!envOf(j.w, 'PRISM_S3_ENDPOINT')) problems.push(`CronJob ${j.w.name}: no object store`);
          else found.push(`${j.w.name} ${j.schedule.schedule}`);
        }
      }
      if (!f.allAlertRules().some((r) => r.expr.includes(METRICS.backupLastSuccess))) problems.push(`no alert on ${METRICS.backupLastSuccess}`);
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
        else if (!weekly(j.schedule.schedule)) problems.push(`CronJob ${j.w.name} (${j.schedule.schedule}) runs less than weekly`);
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
      const commands = new Set((Object.keys(DATABASES) as (keyof typeof DATABASES)[]).flatMap((db) => [DBMANAGER_CLI.backup(db, 'full').join(' '), DBMANAGER_CLI.verifyLatest(db).join(' ')]));
      const backupJobs = cronJobs(f).filter((j) => commands.has(argsOf(j.w)));
      for (const j of backupJobs) if (!text.includes(j.w.name)) problems.push(`does not name CronJob ${j.w.name}`);
      problems.push(...brokenLinks(f, path, text));
      return verdict(problems, `${path}: ${hs.filter((h) => /recovery point|restore procedure|cluster/i.test(h)).join(' / ')}; names ${backupJobs.map((j) => j.w.name).join(', ')}`);
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
        if (p !== path || !a || !anchorSet.has(a)) problems.push(`${r.alert}: runbook_url ${r.annotations?.runbook_url ?? 'unset'} is not a section of ${path}`);
      }
      for (const [topic, re] of GUIDE_TROUBLESHOOTING) if (![...hs].some((h) => re.test(h))) problems.push(`no troubleshooting section for "${topic}"`);
      problems.push(...brokenLinks(f, path, text));
      return verdict(problems, `${path}: ${rules.length} alert sections linked from their rules; ${GUIDE_TROUBLESHOOTING.length} troubleshooting topics`);
    },
  },
  'on-call-rotation': {
    section: 'Operations',
    guide: 'On-call rotation set up',
    rule:
      'What a machine can see: the incident-response document has an on-call section whose paging table lists exactly the critical alerts and names every Alertmanager ' +
      'receiver; the Alertmanager routes critical alerts to a receiver with an integration.',
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
      else if (listed.join() !== critical.join()) problems.push(`paging table lists ${describeList(listed)}; the critical alerts are ${describeList(critical)}`);
      const amc = f.alertmanagerConfigs();
      if (!amc.length) problems.push('no Alertmanager receivers to page anyone');
      const receivers = amc.flatMap((c) => c.doc.receivers.map((r) => r.name));
      for (const r of receivers) if (!(oncall ?? '').includes(r)) problems.push(`on-call section does not name receiver ${r}`);
      for (const { doc } of amc) {
        const routes = (r: AlertmanagerRoute): AlertmanagerRoute[] => [r, ...(r.routes ?? []).flatMap(routes)];
        const pagesCritical = routes(doc.route).some((r) => r.receiver && ((r.matchers ?? []).some((m) => /severity\s*=~?\s*"?[^"]*critical/.test(m)) || r.match?.severity === 'critical'));
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
      if (!relativeLinks(runbook).some((l) => l.split('#')[0] === 'incident-response.md')) problems.push('the runbook does not link to the incident process');
      problems.push(...brokenLinks(f, path, text));
      return verdict(
        problems,
        `${path}: ${hs.filter((h) => /severity|running an incident|post-incident/i.test(h)).join(' / ')}; names ${named.length} real alerts; alerts → runbook → incident process`,
      );
    },
  },
};

/** The average of a Traefik rateLimit Middleware an Ingress routes through, if any. */
function traefikRateLimit(f: Facts, i: ManifestObject): number | undefined {
  const refs = (annotation(i, 'traefik.ingress.kubernetes.io/router.middlewares') ?? '').split(',').filter(Boolean);
  for (const ref of refs) {
    // `<namespace>-<name>@kubernetescrd`
    const m = f.input.objects.find((o) => o.kind === 'Middleware' && ref.startsWith(`${o.metadata.namespace ?? f.namespace}-${o.metadata.name}@`));
    const avg = (m?.spec as { rateLimit?: { average?: number } } | undefined)?.rateLimit?.average;
    if (avg) return avg;
  }
  return undefined;
}

/** Private ranges: an egress block that excepts them all reaches public addresses only. */
const PRIVATE = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'];
function reachesPrivateApiServer(f: Facts, prom: Workload): boolean {
  return f.input.objects.some((o) => {
    if (o.kind !== 'NetworkPolicy' || (o.metadata.namespace ?? f.namespace) !== prom.namespace) return false;
    const s = spec<{ podSelector: { matchLabels?: Record<string, string> }; egress?: { to?: { ipBlock?: { cidr: string; except?: string[] } }[]; ports?: { port?: number }[] }[] }>(o);
    if (!selects(s.podSelector, prom.podLabels)) return false;
    return (s.egress ?? []).some((r) => (r.ports ?? []).some((p) => p.port === 443 || p.port === 6443) && (r.to ?? []).some((t) => t.ipBlock && !PRIVATE.every((p) => t.ipBlock!.except?.includes(p))));
  });
}

/** The guide's troubleshooting topics, as the runbook's headings may word them. */
const GUIDE_TROUBLESHOOTING: readonly (readonly [string, RegExp])[] = [
  ['Service Not Starting', /service.*not starting/i],
  ['Database Connection Issues', /database connection/i],
  ['Redis Connection Issues', /redis/i],
  ['NATS Connection Issues', /nats/i],
  ['gRPC Connection Issues', /grpc/i],
  ['High Latency', /high latency/i],
];

function configValuesHave(f: Facts, test: (text: string) => boolean): boolean {
  return f.input.objects.some((o) => o.kind === 'ConfigMap' && Object.values((o.data as Record<string, string>) ?? {}).some(test));
}

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
