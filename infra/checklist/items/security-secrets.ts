import { OPERATOR_CREDENTIALS, PG_CREDENTIAL_HOLDERS, STORE_CREDENTIALS } from '../../contract/index.js';
import type { ChecklistItemId } from '../../config/index.js';
import { type Facts, isSecretRef } from '../facts.js';
import { containersOf, describeList, env, envOf, secretKeysRead, type Workload } from '../manifests.js';
import { headings } from '../markdown.js';
import { type ChecklistItem, verdict } from './item.js';

/** Security: secrets and who reads them (JWT keys, database and Redis credentials, OAuth secrets, MinIO policies). */

/** The secret keys a component's objects read, for "only its owner reads it" checks. */
/**
 * Store credentials a workload holds without reaching the store (by the model's flows of its component
 * or task, or external egress for the off-site store), and administrator keys held by a client.
 */
function excessCredentials(f: Facts, w: Workload): string[] {
  const c = f.input.platform.components.find((x) => x.name === w.app);
  const t = c
    ? undefined
    : f.input.platform.components
        .flatMap((x) => x.tasks.map((task) => ({ owner: x, task })))
        .find((x) => x.task.name === w.app);
  const flows = c?.flows ?? t?.task.flows ?? [];
  const external = (c?.externalEgress ?? t?.task.externalEgress ?? []).length > 0;
  const out: string[] = [];
  for (const read of secretKeysRead(w)) {
    const key = read.slice(read.indexOf('/') + 1);
    const store = STORE_CREDENTIALS[key];
    const admins = OPERATOR_CREDENTIALS[key];
    const roleHolders = PG_CREDENTIAL_HOLDERS[key];
    if (admins && !admins.includes(w.app)) out.push(`${w.kind} ${w.name} holds ${key}, an administrator key`);
    else if (roleHolders && !roleHolders.includes(w.app))
      out.push(`${w.kind} ${w.name} holds ${key}, the password of another workload's PostgreSQL role`);
    else if (
      store &&
      !admins &&
      w.app !== store &&
      !(store === 'offsite' ? external : flows.some((fl) => fl.to === store))
    )
      out.push(`${w.kind} ${w.name} holds ${key} but does not reach ${store}`);
  }
  return out;
}

function readersOf(f: Facts, key: string): Workload[] {
  return f.workloads.filter((w) => [...secretKeysRead(w)].some((k) => k.endsWith(`/${key}`)));
}

export const SECURITY_SECRETS_ITEMS = {
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
      if (!gateway || !envOf(gateway, 'PRISM_AUTH_JWKS_URL')?.value)
        problems.push('the gateway has no PRISM_AUTH_JWKS_URL (rotated keys need a restart)');
      const runbook = [...f.docs()].find(([, t]) => headings(t).some((h) => /rotat/i.test(h) && /jwt/i.test(h)));
      if (!runbook) problems.push('no runbook section on rotating the JWT keys');
      const tested = (svc: string) =>
        [...f.input.files]
          .filter(
            ([p, t]) =>
              p.startsWith(`services/${svc}/test/`) &&
              /\b(?:describe|it)\(\s*['"`][^'"`]*(?:key[^'"`]*rotat|rotat[^'"`]*key)/i.test(t),
          )
          .map(([p]) => p);
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
    rule:
      "Every PostgreSQL password variable (the services' PRISM_*_DB_PASSWORD, the DB manager's PRISM_PG_*_PASSWORD, the exporters' DATA_SOURCE_PASS, the servers' POSTGRES_PASSWORD) is a secretKeyRef, never a value, and those keys come from a secrets manager; " +
      'and each workload holds only the store credentials (database, Redis, object store, off-site store) of the stores it reaches, administrator keys only the store itself and its set-up, ' +
      "a PostgreSQL role's password only the workloads of that role (PG_ROLES) and the migration that sets it.",
    check(f) {
      const problems: string[] = [];
      const keys = new Set<string>();
      let count = 0;
      for (const w of f.workloads) {
        for (const c of containersOf(w)) {
          for (const e of c.env ?? []) {
            if (
              !/^(PRISM_[A-Z]+_DB_PASSWORD|PRISM_PG_[A-Z_]+_PASSWORD|POSTGRES_PASSWORD|PGPASSWORD|DATA_SOURCE_PASS)$/.test(
                e.name,
              )
            )
              continue;
            count++;
            if (!isSecretRef(e)) problems.push(`${w.kind} ${w.name}: ${e.name} is not a secret reference`);
            else keys.add(e.valueFrom!.secretKeyRef!.key);
          }
        }
      }
      if (count === 0) problems.push('no database password variable found');
      for (const w of f.workloads) problems.push(...excessCredentials(f, w));
      const managed = f.secretsManaged([...keys]);
      if (!managed.ok) problems.push(managed.evidence);
      return verdict(
        problems,
        `${count} password variables, all secretKeyRefs to ${describeList([...keys].sort())}; each workload holds only the credentials of the stores it reaches; ${managed.evidence}`,
      );
    },
  },
  'redis-password': {
    section: 'Security',
    guide: 'Redis password configured',
    rule:
      'Every Redis server turns its default user off (redis.conf `user default off`, no --requirepass) and declares each ACL user with `--user <name> ... >$(VAR)`, ' +
      'VAR a secret-referenced variable, a distinct key per user; every workload given PRISM_REDIS_ADDRESS (or REDIS_ADDR) connects as one of those users with that user’s key, and no two workloads share a user.',
    check(f) {
      const problems: string[] = [];
      const servers = f.workloads.filter((w) =>
        w.pod.containers.some(
          (c) => /(^|\/)redis$/.test(c.image.split(':')[0]!) || (c.command ?? []).includes('redis-server'),
        ),
      );
      if (!servers.length) problems.push('no Redis server');
      const users = new Map<string, string>();
      for (const w of servers) {
        const c = w.pod.containers.find((x) => (x.command ?? []).includes('redis-server') || /redis/.test(x.image))!;
        const args = [...(c.command ?? []), ...(c.args ?? [])];
        if (args.includes('--requirepass'))
          problems.push(`${w.name}: --requirepass sets the default user's password; the default user must be off`);
        const conf = f.input.objects.find(
          (o) =>
            o.kind === 'ConfigMap' &&
            w.pod.volumes?.some((v) => v.configMap?.name === o.metadata.name) &&
            typeof (o.data as Record<string, string> | undefined)?.['redis.conf'] === 'string',
        );
        if (!/^user default off$/m.test(((conf?.data as Record<string, string> | undefined) ?? {})['redis.conf'] ?? ''))
          problems.push(`${w.name}: redis.conf does not turn the default user off`);
        for (let i = args.indexOf('--user'); i >= 0; i = args.indexOf('--user', i + 1)) {
          const name = args[i + 1]!;
          const end = args.findIndex((a, j) => j > i && a.startsWith('--'));
          const pw = args.slice(i + 2, end < 0 ? undefined : end).find((a) => a.startsWith('>'));
          const v = /^>\$\(([A-Z_]+)\)$/.exec(pw ?? '')?.[1];
          const e = v ? env(c, v) : undefined;
          if (!e || !isSecretRef(e)) problems.push(`${w.name}: user ${name} has no password from a secret reference`);
          else if ([...users.values()].includes(e.valueFrom!.secretKeyRef!.key))
            problems.push(`${w.name}: user ${name} shares its password key with another user`);
          else users.set(name, e.valueFrom!.secretKeyRef!.key);
        }
      }
      if (!users.size) problems.push('no Redis ACL user');
      const clients = f.workloads.filter((w) => envOf(w, 'PRISM_REDIS_ADDRESS') || envOf(w, 'REDIS_ADDR'));
      const taken = new Map<string, string>();
      for (const w of clients) {
        const [userVar, pwVar] = envOf(w, 'PRISM_REDIS_ADDRESS')
          ? ['PRISM_REDIS_USERNAME', 'PRISM_REDIS_PASSWORD']
          : ['REDIS_USER', 'REDIS_PASSWORD'];
        const user = envOf(w, userVar)?.value;
        const p = envOf(w, pwVar);
        if (!user || !users.has(user)) problems.push(`${w.name}: ${userVar} names no ACL user of the server`);
        else if (!isSecretRef(p)) problems.push(`${w.name}: ${pwVar} missing or not a secret reference`);
        else if (users.get(user) !== p!.valueFrom!.secretKeyRef!.key)
          problems.push(`${w.name}: ${pwVar} is not user ${user}'s key`);
        else if (taken.has(user) && taken.get(user) !== w.app)
          problems.push(`${w.name}: shares Redis user ${user} with ${taken.get(user)}`);
        else taken.set(user, w.app);
      }
      return verdict(
        problems,
        `${servers.map((w) => w.name).join(', ')}: default user off, ACL users ${describeList([...users.keys()])} with their own keys; clients ${[...taken].map(([u, a]) => `${a} as ${u}`).join(', ')}`,
      );
    },
  },
  'oauth-secrets': {
    section: 'Security',
    guide: 'OAuth secrets secured',
    rule: 'The OAuth client ids and secrets reach auth only, as secret references from a secrets manager, and the redirect base URL is https.',
    check(f) {
      const problems: string[] = [];
      const names = [
        'PRISM_GOOGLE_CLIENT_ID',
        'PRISM_GOOGLE_CLIENT_SECRET',
        'PRISM_GITHUB_CLIENT_ID',
        'PRISM_GITHUB_CLIENT_SECRET',
      ];
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
      'A set-up Job attaches a bucket policy that reaches only the backup bucket (no wildcard action or resource) and denies deleting object versions, ' +
      'bypassing governance retention and changing the bucket’s lock, lifecycle or versioning; the set-up creates the bucket with object lock and a default retention; the DB manager uses that least-privilege user, ' +
      'not the root user; the root password is read only by MinIO and its set-up; MinIO serves metrics only for a bearer token (MINIO_PROMETHEUS_AUTH_TYPE jwt; ' +
      'the metrics user’s policy is admin:Prometheus alone).',
    check(f) {
      const problems: string[] = [];
      const policies: { name: string; statements: { Action: string | string[]; Resource: string | string[] }[] }[] = [];
      for (const o of f.input.objects.filter((x) => x.kind === 'ConfigMap')) {
        for (const [key, text] of Object.entries((o.data as Record<string, string>) ?? {})) {
          if (!key.endsWith('.json')) continue;
          try {
            const doc = JSON.parse(text) as {
              Statement?: { Action: string | string[]; Resource: string | string[] }[];
            };
            if (Array.isArray(doc.Statement))
              policies.push({ name: `${o.metadata.name}/${key}`, statements: doc.Statement });
          } catch {
            /* not a policy document */
          }
        }
      }
      const bucket = f.workloads.map((w) => envOf(w, 'PRISM_S3_BUCKET')?.value).find(Boolean);
      if (!policies.length) problems.push('no MinIO policy document');
      for (const p of policies) {
        // The metrics user's policy: admin:Prometheus alone, on nothing else (no resource).
        if (p.statements.every((s) => [s.Action].flat().join() === 'admin:Prometheus' && s.Resource === undefined))
          continue;
        for (const s of p.statements) {
          const actions = [s.Action].flat();
          const resources = [s.Resource ?? []].flat();
          if (actions.some((a) => a === '*' || a === 's3:*' || a.startsWith('admin:')))
            problems.push(`${p.name}: wildcard or admin action`);
          if (
            resources.some(
              (r) => !bucket || !(r === `arn:aws:s3:::${bucket}` || r.startsWith(`arn:aws:s3:::${bucket}/`)),
            )
          )
            problems.push(`${p.name}: a resource beyond the ${bucket ?? 'backup'} bucket`);
        }
      }
      const denied = new Set(
        policies.flatMap((p) =>
          p.statements.filter((s) => (s as { Effect?: string }).Effect === 'Deny').flatMap((s) => [s.Action].flat()),
        ),
      );
      for (const a of [
        's3:DeleteObjectVersion',
        's3:BypassGovernanceRetention',
        's3:PutBucketObjectLockConfiguration',
        's3:PutLifecycleConfiguration',
        's3:PutBucketVersioning',
      ])
        if (!denied.has(a)) problems.push(`no policy denies ${a}: the backup user could destroy history`);
      const scripts = f.input.objects
        .filter((o) => o.kind === 'ConfigMap')
        .flatMap((o) => Object.values((o.data as Record<string, string>) ?? {}).filter((t) => /\bmc mb\b/.test(t)));
      if (
        !scripts.some(
          (t) => /mc mb [^\n]*--with-lock/.test(t) && /mc retention set --default (GOVERNANCE|COMPLIANCE)/.test(t),
        )
      )
        problems.push('the set-up does not create the bucket with object lock and a default retention');
      const mounted = (w: Workload) =>
        (w.pod.volumes ?? []).some(
          (v) => v.configMap && policies.some((p) => p.name.startsWith(`${v.configMap!.name}/`)),
        );
      const setup = f.workloads.filter((w) => w.kind === 'Job' && mounted(w));
      if (!setup.length) problems.push('no set-up Job applies the policy');
      const root = f.workloads
        .flatMap((w) => w.pod.containers.map((c) => env(c, 'MINIO_ROOT_USER')?.value))
        .find(Boolean);
      const s3Users = f.workloads.filter((w) => envOf(w, 'PRISM_S3_ACCESS_KEY'));
      for (const w of s3Users) {
        if (envOf(w, 'PRISM_S3_ACCESS_KEY')?.value === root) problems.push(`${w.name} uses the MinIO root user`);
        if (!isSecretRef(envOf(w, 'PRISM_S3_SECRET_KEY')))
          problems.push(`${w.name}: PRISM_S3_SECRET_KEY not a secret reference`);
      }
      // Metrics only for a bearer token (issue 22 item 20): MinIO's metrics tell every bucket's size and traffic.
      for (const w of f.workloads.filter((x) => x.app === 'minio'))
        if (envOf(w, 'MINIO_PROMETHEUS_AUTH_TYPE')?.value !== 'jwt')
          problems.push(`${w.name}: MINIO_PROMETHEUS_AUTH_TYPE is not jwt: its metrics answer anyone`);
      const rootReaders = readersOf(f, 'minio-root-password').filter((w) => w.app !== 'minio' && !setup.includes(w));
      if (rootReaders.length)
        problems.push(`the MinIO root password is also read by ${rootReaders.map((w) => w.name).join(', ')}`);
      return verdict(
        problems,
        `${policies.map((p) => p.name).join(', ')} limited to bucket ${bucket}, version deletion and governance bypass denied, bucket with object lock and a default retention, applied by Job ${setup.map((w) => w.name).join(', ')}; ${s3Users.length} backup workloads use user ${envOf(s3Users[0]!, 'PRISM_S3_ACCESS_KEY')?.value}`,
      );
    },
  },
} satisfies Partial<Record<ChecklistItemId, ChecklistItem>>;
