import { describe, expect, it } from 'vitest';
import { CHECKLIST_ITEM_IDS, type ChecklistItemId } from '../../infra/config/index.js';
import { CHECKLIST, evaluateChecklist, formatReport, type ChecklistReport } from '../../infra/checklist/index.js';
import {
  asInput,
  byApp,
  container,
  editConfig,
  editFile,
  environment,
  type Mutable,
  type Obj,
  podSpec,
  setEnv,
} from './support.js';

const evaluate = (m: Mutable): ChecklistReport => evaluateChecklist(asInput(m));
const status = (r: ChecklistReport, id: ChecklistItemId) => r.items.find((i) => i.id === id)!;

/** The guide's checklist, verbatim and in order (deployment guide, "Production Checklist"). */
const GUIDE = [
  'TLS enabled on all endpoints',
  'JWT keys rotated and secured',
  'Database credentials in secrets management',
  'Redis password configured',
  'Network policies configured',
  'Rate limiting enabled at Traefik and Gateway',
  'OAuth secrets secured',
  'MinIO access policies configured',
  'Multiple replicas for each service',
  'Health checks configured',
  'Resource limits set',
  'PodDisruptionBudget configured',
  'Circuit breakers enabled',
  'Proper timeouts configured',
  'NATS JetStream configured for durability',
  'Prometheus scraping enabled',
  'Grafana dashboards imported',
  'Loki log aggregation configured',
  'Jaeger tracing enabled',
  'Alerting rules set up',
  'Request tracing with correlation IDs',
  'Automated backup schedule configured',
  'Backup verification process',
  'Disaster recovery plan documented',
  'Runbook documentation',
  'On-call rotation set up',
  'Incident response process',
];

describe('the production checklist', () => {
  it("has the guide's 27 items, in its words and order, each with a rule", () => {
    expect(CHECKLIST_ITEM_IDS.map((id) => CHECKLIST[id].guide)).toEqual(GUIDE);
    for (const id of CHECKLIST_ITEM_IDS) expect(CHECKLIST[id].rule.length, id).toBeGreaterThan(40);
    expect(CHECKLIST_ITEM_IDS.filter((id) => CHECKLIST[id].section === 'Security')).toHaveLength(8);
    expect(CHECKLIST_ITEM_IDS.filter((id) => CHECKLIST[id].section === 'Operations')).toHaveLength(6);
  });

  it('prod meets all 27 items; the five whose rules read wiring only say they are configured, not verified by behaviour', () => {
    const r = evaluate(environment('prod'));
    expect(r.items).toHaveLength(27);
    const wiringOnly: ChecklistItemId[] = [
      'prometheus-scraping',
      'loki-logs',
      'jaeger-tracing',
      'alerting',
      'correlation-ids',
    ];
    expect(
      r.items
        .filter((i) => i.status !== (wiringOnly.includes(i.id) ? 'configured' : 'met'))
        .map((i) => `${i.id}: ${i.status}: ${i.evidence}`),
    ).toEqual([]);
    for (const id of wiringOnly) expect(status(r, id).evidence).toContain('not verified by behaviour: ');
    expect(r.ok).toBe(true);
    expect(status(r, 'multiple-replicas').evidence).toMatch(
      /gateway HPA 3–10, auth HPA 3–6, config 2, dbmanager 1: a singleton by design/,
    );
  });

  it('dev and staging: what they do not meet is declared not applicable in their stack file, with the reason, or waits for the same features', () => {
    for (const env of ['dev', 'staging']) {
      const r = evaluate(environment(env));
      expect(r.items.filter((i) => i.status === 'not met').map((i) => `${env} ${i.id}: ${i.evidence}`)).toEqual([]);
      for (const i of r.items.filter((x) => x.status === 'not applicable'))
        expect(i.evidence).toContain(`stacks/Pulumi.${env}.yaml`);
      expect(r.ok).toBe(true);
    }
  });

  it('a waiver is reported as not applicable with its reason and does not fail the run; without it the item is not met', () => {
    const m = environment('dev');
    expect(status(evaluate(m), 'multiple-replicas')).toMatchObject({
      status: 'not applicable',
      evidence: expect.stringContaining('dev runs one replica of each service on purpose'),
    });
    const { 'multiple-replicas': _, ...rest } = m.stack.config.checklist.notApplicable;
    m.stack.config = { ...m.stack.config, checklist: { notApplicable: rest } };
    const r = evaluate(m);
    expect(status(r, 'multiple-replicas')).toMatchObject({
      status: 'not met',
      evidence: expect.stringContaining('gateway: 1 replica'),
    });
    expect(r.ok).toBe(false);
  });

  it('the edge limit may be a Traefik rateLimit Middleware the Ingress routes through', () => {
    const m = environment('prod');
    const ingress = m.objects.find((o) => o.kind === 'Ingress')!;
    delete ingress.metadata.annotations['nginx.ingress.kubernetes.io/limit-rps'];
    expect(status(evaluate(m), 'rate-limiting').status).toBe('not met');
    ingress.metadata.annotations['traefik.ingress.kubernetes.io/router.middlewares'] = 'prism-edge-limit@kubernetescrd';
    m.objects.push({
      apiVersion: 'traefik.io/v1alpha1',
      kind: 'Middleware',
      metadata: { name: 'edge-limit', namespace: 'prism' },
      spec: { rateLimit: { average: 50, burst: 100 } },
    });
    expect(status(evaluate(m), 'rate-limiting')).toMatchObject({
      status: 'met',
      evidence: expect.stringContaining('50/s per IP'),
    });
  });

  it('prints one line per item, with the status and the evidence', () => {
    const text = formatReport(evaluate(environment('prod')));
    const lines = text.split('\n').filter((l) => /^\s+\[[ x~-]\] /.test(l));
    expect(lines).toHaveLength(27);
    expect(text).toMatch(
      /^Production checklist for prod: 22 met, 5 configured \(not verified by behaviour\), 0 not met, 0 not applicable$/m,
    );
    expect(text).toMatch(
      /^ {2}\[~\] Jaeger tracing enabled: configured \(not verified by behaviour\) \(.*not verified by behaviour: that spans arrive/m,
    );
    expect(text).toMatch(/^ {2}\[x\] Resource limits set: met \(\d+ containers/m);
    expect(text).toMatch(/^ {2}\[x\] TLS enabled on all endpoints: met \(.*plaintext only on metrics/m);
  });
});

const secretEnv = (name: string, key: string): Obj => ({
  name,
  valueFrom: { secretKeyRef: { name: 'prism-secrets', key } },
});

/** For every item, violations planted in a prod that meets all 27; each must turn its item to "not met". */
const VIOLATIONS: Record<ChecklistItemId, Record<string, (m: Mutable) => void>> = {
  'tls-all-endpoints': {
    'config turns mutual TLS off on its gRPC port': (m) =>
      setEnv(byApp(m, 'Deployment', 'config'), 'PRISM_MTLS_ENABLED', 'false'),
    'auth serves plaintext HTTP': (m) => setEnv(byApp(m, 'Deployment', 'auth'), 'PRISM_TLS_ENABLED', undefined),
    "the gateway's HTTPS key is not from a Certificate": (m) =>
      setEnv(byApp(m, 'Deployment', 'gateway'), 'PRISM_TLS_KEY_FILE', '/tmp/tls.key'),
    'the gateway reaches auth over http': (m) =>
      editConfig(m, 'gateway.yaml', (g) => (g.routes[0].upstream = 'http://auth:8081')),
    'the gateway fetches the JWKS over http (gateway.yaml)': (m) =>
      editConfig(m, 'gateway.yaml', (g) => (g.auth.jwks_url = 'http://auth:8081/.well-known/jwks.json')),
    'the gateway fetches the JWKS over http (env)': (m) =>
      setEnv(byApp(m, 'Deployment', 'gateway'), 'PRISM_AUTH_JWKS_URL', 'http://auth:8081/.well-known/jwks.json'),
    'the Ingress speaks plaintext to its backends': (m) =>
      delete m.objects.find((o) => o.kind === 'Ingress')!.metadata.annotations[
        'nginx.ingress.kubernetes.io/backend-protocol'
      ],
    'the Ingress loses its TLS section': (m) => delete m.objects.find((o) => o.kind === 'Ingress')!.spec.tls,
    'an Ingress does not verify its backend': (m) =>
      delete m.objects.find((o) => o.kind === 'Ingress')!.metadata.annotations[
        'nginx.ingress.kubernetes.io/proxy-ssl-verify'
      ],
    "an Ingress checks a name its backend's certificate lacks": (m) =>
      (m.objects.find((o) => o.kind === 'Ingress')!.metadata.annotations['nginx.ingress.kubernetes.io/proxy-ssl-name'] =
        'auth.prism.svc'),
    'an Ingress takes its CA Secret from another namespace': (m) =>
      (m.objects.find((o) => o.kind === 'Ingress')!.metadata.annotations[
        'nginx.ingress.kubernetes.io/proxy-ssl-secret'
      ] = 'other/prism-ingress-mtls'),
    "the edge's CA Secret is no Certificate's": (m) =>
      (m.objects = m.objects.filter((o) => !(o.kind === 'Certificate' && o.metadata.name === 'prism-ingress-mtls'))),
    "the edge's CA is not the backends' issuer": (m) =>
      (m.objects.find(
        (o) => o.kind === 'Certificate' && o.metadata.name === 'prism-ingress-mtls',
      )!.spec.issuerRef.name = 'other-ca'),
    'no Ingress asks cert-manager for the shared TLS Secret': (m) =>
      delete m.objects.find((o) => o.kind === 'Ingress')!.metadata.annotations['cert-manager.io/cluster-issuer'],
    "auth's certificate comes from no CA Issuer": (m) =>
      (m.objects = m.objects.filter((o) => !(o.apiVersion.startsWith('cert-manager.io/') && /Issuer$/.test(o.kind)))),
    'dbmanager reads its certificate from a plain Secret': (m) =>
      (m.objects = m.objects.filter((o) => !(o.kind === 'Certificate' && o.metadata.name === 'dbmanager-mtls'))),
    "auth's certificate does not name auth": (m) =>
      (m.objects.find((o) => o.kind === 'Certificate' && o.metadata.name === 'auth-mtls')!.spec.dnsNames = ['other']),
    // PostgreSQL: the servers refuse plaintext TCP, every client verifies the server (issue 22, item 6).
    'auth connects to PostgreSQL without verifying it (sslmode require)': (m) =>
      setEnv(byApp(m, 'Deployment', 'auth'), 'PGSSLMODE', 'require'),
    'the db-migrate Job has no PGSSLMODE (libpq would prefer, and fall back to plaintext)': (m) =>
      setEnv(byApp(m, 'Job', 'db-migrate'), 'PGSSLMODE', undefined),
    "a backup CronJob's root certificate is not mounted": (m) => {
      const pod = podSpec(byApp(m, 'CronJob', 'backup-auth'));
      pod.volumes = pod.volumes.filter((v: Obj) => v.name !== 'mtls');
      container(byApp(m, 'CronJob', 'backup-auth')).volumeMounts = container(
        byApp(m, 'CronJob', 'backup-auth'),
      ).volumeMounts.filter((v: Obj) => v.name !== 'mtls');
    },
    "the auth database's exporter turns TLS off": (m) =>
      setEnv(
        byApp(m, 'Deployment', 'postgres-auth-exporter'),
        'DATA_SOURCE_URI',
        'postgres-auth:5432/prism_auth?sslmode=disable',
      ),
    "the ops database's exporter verifies against a CA from no Certificate": (m) =>
      (m.objects = m.objects.filter(
        (o) => !(o.kind === 'Certificate' && o.metadata.name === 'postgres-ops-exporter-mtls'),
      )),
    "postgres-auth's pg_hba.conf admits plaintext TCP (host)": (m) => {
      const cm = m.objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'postgres-auth-config')!;
      cm.data['pg_hba.conf'] = cm.data['pg_hba.conf'].replace(/^hostssl(\s+all)/m, 'host   $1');
    },
    'postgres-ops serves without TLS (no ssl=on)': (m) => {
      const c = container(byApp(m, 'StatefulSet', 'postgres-ops'));
      c.args = c.args.map((a: string) => (a === 'ssl=on' ? 'ssl=off' : a));
    },
    'postgres-auth allows TLS 1.0': (m) => {
      const c = container(byApp(m, 'StatefulSet', 'postgres-auth'));
      c.args = c.args.map((a: string) => a.replace(/^ssl_min_protocol_version=.*/, 'ssl_min_protocol_version=TLSv1'));
    },
    "postgres-ops's certificate is a plain Secret, not a Certificate's": (m) =>
      (m.objects = m.objects.filter((o) => !(o.kind === 'Certificate' && o.metadata.name === 'postgres-ops-mtls'))),
    // The mesh CA as it was: its key Secret and its CA Issuer in the application namespace.
    'the mesh CA key Secret is rendered in the application namespace': (m) =>
      (m.objects.find((o) => o.kind === 'Certificate' && o.spec.isCA)!.metadata.namespace = 'prism'),
    'the mesh CA Issuer is an Issuer in the application namespace': (m) => {
      const ca = m.objects.find((o) => o.kind === 'ClusterIssuer' && o.spec.ca)!;
      Object.assign(ca, { kind: 'Issuer', metadata: { ...ca.metadata, namespace: 'prism' } });
      for (const c of m.objects.filter((o) => o.kind === 'Certificate' && o.spec.issuerRef.name === ca.metadata.name))
        c.spec.issuerRef.kind = 'Issuer';
    },
    'a Secret named as the CA key is rendered in the application namespace': (m) =>
      m.objects.push({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: {
          name: m.objects.find((o) => o.kind === 'ClusterIssuer' && o.spec.ca)!.spec.ca.secretName,
          namespace: 'prism',
        },
      }),
    'no approval policy restricts the mesh issuer': (m) =>
      (m.objects = m.objects.filter(
        (o) => !(o.kind === 'CertificateRequestPolicy' && /mesh-workload-/.test(o.metadata.name)),
      )),
    "cert-manager's controller may not use the mesh policy": (m) =>
      (m.objects = m.objects.filter((o) => o.kind !== 'ClusterRoleBinding')),
    'the mesh policy allows any identity': (m) =>
      (m.objects.find((o) => /mesh-workload-gateway$/.test(o.metadata.name))!.spec.allowed.uris.values = [
        'spiffe://prism/*',
      ]),
    "the gateway's policy allows auth's identity too": (m) =>
      m.objects
        .find((o) => /mesh-workload-gateway$/.test(o.metadata.name))!
        .spec.allowed.uris.values.push('spiffe://prism/auth'),
    'the mesh policy allows a CA': (m) =>
      (m.objects.find((o) => /mesh-workload-gateway$/.test(o.metadata.name))!.spec.allowed.isCA = true),
    'the operator policy is usable by cert-manager (any Certificate becomes an operator)': (m) =>
      m.objects
        .find((o) => o.kind === 'ClusterRole' && /certificate-approval$/.test(o.metadata.name))!
        .rules[0].resourceNames.push(m.objects.find((o) => /mesh-operators$/.test(o.metadata.name))!.metadata.name),
    "a workload's certificate outlives what its policy allows": (m) =>
      (m.objects.find((o) => o.kind === 'Certificate' && o.metadata.name === 'config-mtls')!.spec.duration = '4000h'),
    "the CA's own request is allowed by no policy": (m) =>
      (m.objects = m.objects.filter(
        (o) => !(o.kind === 'CertificateRequestPolicy' && /mesh-ca-bootstrap$/.test(o.metadata.name)),
      )),
    "the Ingress TLS certificate's request is allowed by no policy": (m) =>
      (m.objects = m.objects.filter(
        (o) => !(o.kind === 'CertificateRequestPolicy' && /edge-tls$/.test(o.metadata.name)),
      )),
  },
  'jwt-keys': {
    'the gateway mounts the private key': (m) =>
      podSpec(byApp(m, 'Deployment', 'gateway'))
        .volumes.find((v: Obj) => v.name === 'secret-files')
        .secret.items.push({ key: 'jwt-private-key', path: 'private.pem' }),
    'the rotation procedure is gone from the runbook': (m) =>
      editFile(m, 'docs/operations/runbook.md', (t) => t.replace('### Rotating the JWT keys', '### Changing keys')),
    'the gateway has no rotation test': (m) => m.files.delete('services/gateway/test/auth.test.ts'),
    'a PEM in a ConfigMap': (m) =>
      editConfig(m, 'gateway.yaml', (g) => (g.auth.public_key_file = '-----BEGIN PUBLIC KEY-----')),
  },
  'database-credentials': {
    'a password written as a value': (m) =>
      setEnv(byApp(m, 'Deployment', 'config'), 'PRISM_OPS_DB_PASSWORD', 'hunter2'),
    'secrets from a local file': (m) => (m.stack.config = { ...m.stack.config, secrets: { mode: 'local' } }),
    'the ExternalSecret lacks a key': (m) => {
      const es = m.objects.find((o) => o.kind === 'ExternalSecret')!;
      es.spec.data = es.spec.data.filter((d: Obj) => d.secretKey !== 'postgres-auth-password');
    },
    'db-migrate holds the backup key': (m) =>
      container(m.objects.find((o) => o.kind === 'Job' && o.metadata.name.startsWith('db-migrate'))!).env.push(
        secretEnv('PRISM_S3_SECRET_KEY', 'minio-backup-secret-key'),
      ),
    "backup-ops holds auth's database password": (m) =>
      container(byApp(m, 'CronJob', 'backup-ops')).env.push(
        secretEnv('PRISM_AUTH_DB_PASSWORD', 'postgres-auth-password'),
      ),
    "prism_auth's backup job holds the ops backup role's password": (m) =>
      container(byApp(m, 'CronJob', 'backup-auth')).env.push(
        secretEnv('PRISM_PG_OPS_BACKUP_PASSWORD', 'postgres-ops-backup-password'),
      ),
    "the exporter logs in with auth's application role": (m) =>
      container(byApp(m, 'Deployment', 'postgres-auth-exporter')).env.push(
        secretEnv('DATA_SOURCE_PASS_FILE', 'postgres-auth-app-password'),
      ),
    'the Redis exporter holds the operator password': (m) =>
      container(byApp(m, 'Deployment', 'redis-exporter')).env.push(secretEnv('REDIS_ADMIN', 'redis-password')),
    'the gateway holds the MinIO root password': (m) =>
      container(byApp(m, 'Deployment', 'gateway')).env.push(secretEnv('X', 'minio-root-password')),
  },
  'redis-password': {
    'redis without ACL users': (m) => (container(byApp(m, 'StatefulSet', 'redis')).args = ['/etc/redis/redis.conf']),
    'redis with the default user on': (m) =>
      container(byApp(m, 'StatefulSet', 'redis')).args.push('--requirepass', '$(REDIS_PASSWORD)'),
    'auth connects without the password': (m) =>
      setEnv(byApp(m, 'Deployment', 'auth'), 'PRISM_REDIS_PASSWORD', undefined),
    'auth connects as the gateway': (m) => setEnv(byApp(m, 'Deployment', 'auth'), 'PRISM_REDIS_USERNAME', 'gateway'),
    'the exporter holds the operator password': (m) =>
      setEnv(byApp(m, 'Deployment', 'redis-exporter'), 'REDIS_USER', 'prism-admin'),
  },
  'network-policies': {
    "postgres-auth's policy removed": (m) =>
      (m.objects = m.objects.filter(
        (o) => !(o.kind === 'NetworkPolicy' && o.spec.podSelector?.matchLabels?.app === 'postgres-auth'),
      )),
    'no default deny': (m) =>
      (m.objects = m.objects.filter(
        (o) =>
          !(
            o.kind === 'NetworkPolicy' &&
            Object.keys(o.spec.podSelector.matchLabels ?? {}).length === 0 &&
            !o.spec.egress
          ),
      )),
    'a policy admitting anyone to redis': (m) =>
      m.objects
        .find((o) => o.kind === 'NetworkPolicy' && o.spec.podSelector?.matchLabels?.app === 'redis')!
        .spec.ingress.push({ ports: [{ protocol: 'TCP', port: 6379 }] }),
    "the gateway's egress to config removed": (m) => {
      const p = m.objects.find(
        (o) => o.kind === 'NetworkPolicy' && o.spec.podSelector?.matchLabels?.app === 'gateway',
      )!;
      p.spec.egress = p.spec.egress.filter((r: Obj) => r.to[0].podSelector?.matchLabels?.app !== 'config');
    },
  },
  'rate-limiting': {
    'no edge limit': (m) =>
      delete m.objects.find((o) => o.kind === 'Ingress')!.metadata.annotations['nginx.ingress.kubernetes.io/limit-rps'],
    'the gateway limit off': (m) => editConfig(m, 'gateway.yaml', (g) => (g.rate_limit.enabled = false)),
    'the gateway trusts no forwarded address': (m) =>
      editConfig(m, 'gateway.yaml', (g) => {
        delete g.server.trust_forwarded_for;
        delete g.server.trusted_proxies;
      }),
  },
  'oauth-secrets': {
    'config reads the Google client secret': (m) =>
      container(byApp(m, 'Deployment', 'config')).env.push({
        name: 'GOOGLE',
        valueFrom: { secretKeyRef: { name: 'prism-secrets', key: 'google-client-secret' } },
      }),
    'the GitHub secret as a value': (m) => setEnv(byApp(m, 'Deployment', 'auth'), 'PRISM_GITHUB_CLIENT_SECRET', 'abc'),
    'redirects over http': (m) =>
      setEnv(byApp(m, 'Deployment', 'auth'), 'PRISM_PUBLIC_BASE_URL', 'http://api.prism.example.com'),
  },
  'minio-policies': {
    'a policy with s3:* on everything': (m) =>
      editConfig(m, 'backup-policy.json', (p) =>
        p.Statement.push({ Effect: 'Allow', Action: ['s3:*'], Resource: ['arn:aws:s3:::*'] }),
      ),
    'the DB manager as the root user': (m) =>
      setEnv(byApp(m, 'Deployment', 'dbmanager'), 'PRISM_S3_ACCESS_KEY', 'prism-admin'),
    'the set-up Job removed': (m) =>
      (m.objects = m.objects.filter((o) => o.kind !== 'Job' || !o.metadata.name.startsWith('minio-setup'))),
    'the backup user may delete versions': (m) =>
      editConfig(m, 'backup-policy.json', (p) => (p.Statement = p.Statement.filter((s: Obj) => s.Effect !== 'Deny'))),
    'the bucket made without object lock': (m) => {
      const cm = m.objects.find((o) => o.kind === 'ConfigMap' && /\bmc mb\b/.test(o.data?.['setup.sh'] ?? ''))!;
      cm.data['setup.sh'] = cm.data['setup.sh'].replace(' --with-lock', '');
    },
    'public metrics': (m) => setEnv(byApp(m, 'StatefulSet', 'minio'), 'MINIO_PROMETHEUS_AUTH_TYPE', 'public'),
    'the metrics user may list buckets too': (m) =>
      editConfig(m, 'metrics-policy.json', (p) => p.Statement[0].Action.push('s3:ListBucket')),
  },
  'multiple-replicas': {
    'config with one replica': (m) => (byApp(m, 'Deployment', 'config').spec.replicas = 1),
    'the auth HPA down to one': (m) =>
      (m.objects.find(
        (o) => o.kind === 'HorizontalPodAutoscaler' && o.spec.scaleTargetRef.name === 'auth',
      )!.spec.minReplicas = 1),
  },
  'health-checks': {
    'redis without a readiness probe': (m) => delete container(byApp(m, 'StatefulSet', 'redis')).readinessProbe,
    'the gateway probing another path': (m) =>
      (container(byApp(m, 'Deployment', 'gateway')).livenessProbe.httpGet.path = '/'),
  },
  'resource-limits': {
    'one service without limits': (m) => delete container(byApp(m, 'Deployment', 'gateway')).resources.limits,
    'a CronJob without a memory request': (m) =>
      delete container(byApp(m, 'CronJob', 'backup-ops')).resources.requests.memory,
  },
  'pod-disruption-budgets': {
    "the gateway's PDB removed": (m) =>
      (m.objects = m.objects.filter((o) => !(o.kind === 'PodDisruptionBudget' && o.metadata.name === 'gateway'))),
    'a PDB that lets every pod go': (m) =>
      (m.objects.find((o) => o.kind === 'PodDisruptionBudget' && o.metadata.name === 'config')!.spec = {
        selector: { matchLabels: { app: 'config' } },
        maxUnavailable: 2,
      }),
  },
  'circuit-breakers': {
    'a route without a breaker': (m) => editConfig(m, 'gateway.yaml', (g) => delete g.routes[0].circuit_breaker),
    'the gateway config not mounted': (m) =>
      (podSpec(byApp(m, 'Deployment', 'gateway')).volumes = podSpec(byApp(m, 'Deployment', 'gateway')).volumes.filter(
        (v: Obj) => !v.configMap,
      )),
  },
  timeouts: {
    "a route's retries outlast the request": (m) =>
      editConfig(m, 'gateway.yaml', (g) => (g.routes[0].timeout_ms = 20_000)),
    'the edge read timeout shorter than the gateway': (m) =>
      (m.objects.find((o) => o.kind === 'Ingress')!.metadata.annotations[
        'nginx.ingress.kubernetes.io/proxy-read-timeout'
      ] = '10'),
    'a backup Job without a deadline': (m) =>
      delete byApp(m, 'CronJob', 'backup-auth').spec.jobTemplate.spec.activeDeadlineSeconds,
    'a probe on the default timeout': (m) =>
      delete container(byApp(m, 'StatefulSet', 'consul')).livenessProbe.timeoutSeconds,
  },
  'nats-durability': {
    'a single NATS server': (m) => (byApp(m, 'StatefulSet', 'nats').spec.replicas = 1),
    'JetStream off': (m) => {
      const cm = m.objects.find((o) => o.kind === 'ConfigMap' && 'nats-server.conf' in (o.data ?? {}))!;
      cm.data['nats-server.conf'] = cm.data['nats-server.conf'].replace(/jetstream \{[^}]*\}/, '');
    },
    'auth streams with one replica': (m) => setEnv(byApp(m, 'Deployment', 'auth'), 'PRISM_NATS_STREAM_REPLICAS', '1'),
    "the cluster's PDB removed": (m) =>
      (m.objects = m.objects.filter((o) => !(o.kind === 'PodDisruptionBudget' && o.metadata.name === 'nats'))),
  },
  'prometheus-scraping': {
    'auth not annotated': (m) =>
      delete byApp(m, 'Deployment', 'auth').spec.template.metadata.annotations['prometheus.io/scrape'],
    "Prometheus' access to the redis exporter blocked": (m) =>
      (m.objects = m.objects.filter((o) => o.metadata.name !== 'redis-exporter')),
    'the API server reachable on public addresses only': (m) => {
      for (const p of m.objects.filter(
        (o) => o.kind === 'NetworkPolicy' && o.spec.podSelector?.matchLabels?.app === 'prometheus',
      ))
        p.spec.egress = (p.spec.egress ?? []).filter((r: Obj) => !(r.to ?? []).some((t: Obj) => t.ipBlock));
    },
    'the redis exporter not scraped (redis has no endpoint of its own)': (m) => {
      const e = byApp(m, 'Deployment', 'redis-exporter');
      delete e.spec.template.metadata.annotations['prometheus.io/scrape'];
    },
    'the postgres-auth exporter may not reach postgres-auth': (m) => {
      for (const p of m.objects.filter(
        (o) => o.kind === 'NetworkPolicy' && o.spec.podSelector?.matchLabels?.app === 'postgres-auth-exporter',
      ))
        p.spec.egress = (p.spec.egress ?? []).filter(
          (r: Obj) => !(r.to ?? []).some((t: Obj) => t.podSelector?.matchLabels?.app === 'postgres-auth'),
        );
    },
    'no pod discovery': (m) =>
      editConfig(
        m,
        'prometheus.yml',
        (p) => (p.scrape_configs = [{ job_name: 'self', static_configs: [{ targets: ['localhost:9090'] }] }]),
      ),
  },
  'grafana-dashboards': {
    'a dashboard naming a missing data source': (m) =>
      editConfig(m, 'prism-auth.json', (d) => (d.panels[0].datasource.uid = 'influx')),
    'no Loki data source': (m) =>
      editConfig(m, 'datasources.yaml', (d) => (d.datasources = d.datasources.filter((x: Obj) => x.type !== 'loki'))),
  },
  'loki-logs': {
    'no log shipper': (m) => (m.objects = m.objects.filter((o) => o.kind !== 'DaemonSet')),
    'a Deployment shipper (reading through the API) counts, one pushing elsewhere does not': (m) => {
      const ds = m.objects.find((o) => o.kind === 'DaemonSet')!;
      ds.kind = 'Deployment';
      expect(status(evaluate(m), 'loki-logs').status).toBe('configured');
      const cm = m.objects.find((o) => o.kind === 'ConfigMap' && o.metadata.namespace === 'prism-logging')!;
      for (const k of Object.keys(cm.data)) cm.data[k] = cm.data[k].replaceAll('loki.prism', 'logs.example');
    },
    'the shipper pushing elsewhere': (m) => {
      const cm = m.objects.find((o) => o.kind === 'ConfigMap' && o.metadata.namespace === 'prism-logging')!;
      for (const k of Object.keys(cm.data)) cm.data[k] = cm.data[k].replaceAll('loki.prism', 'logs.example');
    },
  },
  'jaeger-tracing': {
    'config exports no traces': (m) => setEnv(byApp(m, 'Deployment', 'config'), 'PRISM_OTLP_ENDPOINT', undefined),
    'auth exporting to a port Jaeger does not serve': (m) =>
      setEnv(byApp(m, 'Deployment', 'auth'), 'PRISM_OTLP_ENDPOINT', 'http://jaeger:9999/v1/traces'),
    'the gateway sampling no trace': (m) => setEnv(byApp(m, 'Deployment', 'gateway'), 'PRISM_TRACE_SAMPLE_RATIO', '0'),
  },
  alerting: {
    'Prometheus sends alerts nowhere': (m) => editConfig(m, 'prometheus.yml', (p) => delete p.alerting),
    'receivers without an integration': (m) =>
      editConfig(m, 'alertmanager.yml', (a) => (a.receivers = a.receivers.map((r: Obj) => ({ name: r.name })))),
    'a rule without a runbook': (m) =>
      editConfig(m, 'prism-alerts.yml', (a) => delete a.groups[0].rules[0].annotations.runbook_url),
    'the route names an unknown receiver': (m) =>
      editConfig(m, 'alertmanager.yml', (a) => (a.route.receiver = 'nobody')),
  },
  'correlation-ids': {
    'logs not linked to traces': (m) =>
      editConfig(m, 'datasources.yaml', (d) => delete d.datasources.find((x: Obj) => x.type === 'loki').jsonData),
    'the gateway exports no traces': (m) => setEnv(byApp(m, 'Deployment', 'gateway'), 'PRISM_OTLP_ENDPOINT', undefined),
  },
  'backup-schedule': {
    'the backup schedule off': (m) => (byApp(m, 'CronJob', 'backup-auth').spec.suspend = true),
    'no WAL shipping for ops': (m) =>
      (m.objects = m.objects.filter((o) => !(o.kind === 'CronJob' && o.metadata.name === 'wal-ops'))),
    'a monthly full backup': (m) => (byApp(m, 'CronJob', 'backup-ops').spec.schedule = '0 2 1 * *'),
  },
  'backup-verification': {
    'no verification of ops': (m) =>
      (m.objects = m.objects.filter((o) => !(o.kind === 'CronJob' && o.metadata.name === 'verify-ops'))),
    'verification suspended': (m) => (byApp(m, 'CronJob', 'verify-auth').spec.suspend = true),
    'no alert on the result': (m) =>
      editConfig(m, 'prism-alerts.yml', (a) => (a.groups = a.groups.filter((g: Obj) => g.name !== 'prism-backups'))),
  },
  'disaster-recovery-plan': {
    'no plan for a lost cluster': (m) =>
      editFile(m, 'docs/operations/disaster-recovery.md', (t) =>
        t.replace('## Losing a whole cluster', '## Other losses'),
      ),
    'the plan is gone': (m) => m.files.delete('docs/operations/disaster-recovery.md'),
    'a CronJob the plan does not name': (m) => (byApp(m, 'CronJob', 'verify-ops').metadata.name = 'check-ops-restore'),
  },
  runbooks: {
    'an alert without a runbook section': (m) =>
      editFile(m, 'docs/operations/runbook.md', (t) => t.replace('### PrismBackupMissing', '### Backups missing')),
    'no troubleshooting for NATS': (m) =>
      editFile(m, 'docs/operations/runbook.md', (t) => t.replaceAll(/^### NATS.*$/gm, '### Messaging')),
  },
  'on-call-rotation': {
    'a critical alert missing from the paging table': (m) =>
      editFile(m, 'docs/operations/incident-response.md', (t) =>
        t.replace('| `PrismTargetDown`, `PrismBackupMissing`, ', '| `PrismTargetDown`, '),
      ),
    'a receiver the on-call section does not name': (m) =>
      editConfig(m, 'alertmanager.yml', (a) =>
        a.receivers.push({ name: 'night-pager', pagerduty_configs: [{ routing_key_file: '/k' }] }),
      ),
    'critical alerts not routed': (m) => editConfig(m, 'alertmanager.yml', (a) => delete a.route.routes),
  },
  'incident-response': {
    'no severity levels': (m) =>
      editFile(m, 'docs/operations/incident-response.md', (t) => t.replace('## Severity levels', '## Levels')),
    'an alert that does not exist': (m) =>
      editFile(m, 'docs/operations/incident-response.md', (t) => `${t}\nSee also \`PrismDiskFull\`.\n`),
    'the runbook does not link to it': (m) =>
      editFile(m, 'docs/operations/runbook.md', (t) => t.replaceAll('](incident-response.md', '](other.md')),
  },
};

describe('every item fails on a planted violation', () => {
  for (const id of CHECKLIST_ITEM_IDS) {
    const cases = Object.entries(VIOLATIONS[id]);
    it(`${id}: has planted violations`, () => expect(cases.length).toBeGreaterThan(0));
    for (const [what, plant] of cases) {
      it(`${id}: ${what}`, () => {
        const m = environment('prod');
        expect(status(evaluate(m), id).status).toBe(CHECKLIST[id].unverifiedBehaviour ? 'configured' : 'met');
        plant(m);
        const after = status(evaluate(m), id);
        expect(after.status, after.evidence).toBe('not met');
      });
    }
  }
});
