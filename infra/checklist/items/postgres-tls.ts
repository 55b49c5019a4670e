import { posix } from 'node:path';
import { PG_SSLMODE, PG_TLS_ENV } from '../../contract/index.js';
import type { Facts } from '../facts.js';
import { type Container, spec, secretsMountedAt, type Workload } from '../manifests.js';

/**
 * "TLS enabled on all endpoints" for PostgreSQL: every server with TLS on (1.2 at least, its certificate from a
 * cert-manager Certificate) and a pg_hba.conf that admits TCP only over TLS; every client (the services, the DB
 * manager's Jobs and CronJobs, the exporters) with libpq's `verify-full` and a CA file from a Certificate's Secret.
 */

const setting = (c: Container, name: string): string | undefined =>
  (c.args ?? []).find((a) => a.startsWith(`${name}=`))?.slice(name.length + 1);

/** Whether `path` is mounted from the Secret of a cert-manager Certificate. */
const fromCertificate = (f: Facts, w: Workload, path: string): boolean => {
  const secrets = secretsMountedAt(w, path);
  return f.input.objects.some(
    (o) => o.kind === 'Certificate' && secrets.includes(spec<{ secretName: string }>(o).secretName),
  );
};

/** The pg_hba.conf a server reads: the ConfigMap key mounted where its `hba_file` setting points. */
function hbaText(f: Facts, w: Workload, c: Container, path: string): string | undefined {
  const mount = (c.volumeMounts ?? []).find((m) => m.mountPath === posix.dirname(path));
  const cm = w.pod.volumes?.find((v) => v.name === mount?.name)?.configMap?.name;
  const object = f.input.objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === cm);
  return (object?.data as Record<string, string> | undefined)?.[posix.basename(path)];
}

function serverProblems(f: Facts, w: Workload, c: Container): string[] {
  const name = `${w.app} (PostgreSQL)`;
  const problems: string[] = [];
  if (setting(c, 'ssl') !== 'on') problems.push(`${name}: ssl is not on`);
  if (!/^TLSv1\.[23]$/.test(setting(c, 'ssl_min_protocol_version') ?? ''))
    problems.push(`${name}: ssl_min_protocol_version is not TLSv1.2 or newer`);
  const cert = setting(c, 'ssl_cert_file');
  if (!cert || !fromCertificate(f, w, cert))
    problems.push(`${name}: ssl_cert_file (${cert ?? 'unset'}) is not mounted from a cert-manager Certificate`);
  const hba = hbaText(f, w, c, setting(c, 'hba_file')!);
  if (hba === undefined) problems.push(`${name}: its pg_hba.conf is not in a ConfigMap of the output`);
  for (const line of (hba ?? '').split('\n').map((l) => l.trim())) {
    const type = line.split(/\s+/)[0] ?? '';
    if (line && !line.startsWith('#') && type !== 'local' && type !== 'hostssl')
      problems.push(`${name}: pg_hba.conf admits TCP without TLS (${line.replace(/\s+/g, ' ')})`);
  }
  return problems;
}

function clientProblems(f: Facts, w: Workload, c: Container): string[] {
  const name = `${w.kind} ${w.name}`;
  const val = (n: string) => c.env?.find((e) => e.name === n)?.value;
  const problems: string[] = [];
  const uri = val('DATA_SOURCE_URI');
  if (uri !== undefined) {
    const params = new URLSearchParams(uri.split('?')[1] ?? '');
    const root = params.get('sslrootcert');
    if (params.get('sslmode') !== PG_SSLMODE) problems.push(`${name}: DATA_SOURCE_URI without sslmode=${PG_SSLMODE}`);
    else if (!root || !fromCertificate(f, w, root))
      problems.push(`${name}: DATA_SOURCE_URI's sslrootcert is not mounted from a cert-manager Certificate`);
  }
  if ((c.env ?? []).some((e) => /^PRISM_[A-Z]+_DB_HOST$/.test(e.name))) {
    const root = val(PG_TLS_ENV.rootCert);
    if (val(PG_TLS_ENV.mode) !== PG_SSLMODE) problems.push(`${name}: ${PG_TLS_ENV.mode} is not ${PG_SSLMODE}`);
    else if (!root || !fromCertificate(f, w, root))
      problems.push(`${name}: ${PG_TLS_ENV.rootCert} is not mounted from a cert-manager Certificate`);
  }
  return problems;
}

/** Problems, and what was checked: the servers and the clients by name. */
export function postgresTls(f: Facts): { problems: string[]; servers: string[]; clients: string[] } {
  const problems: string[] = [];
  const servers: string[] = [];
  const clients: string[] = [];
  for (const w of f.workloads.filter((x) => x.namespace === f.namespace)) {
    for (const c of w.pod.containers) {
      if (setting(c, 'hba_file') !== undefined) {
        servers.push(w.app);
        problems.push(...serverProblems(f, w, c));
      }
      if (c.env?.some((e) => e.name === 'DATA_SOURCE_URI' || /^PRISM_[A-Z]+_DB_HOST$/.test(e.name))) {
        clients.push(w.name);
        problems.push(...clientProblems(f, w, c));
      }
    }
  }
  if (!servers.length) problems.push('no PostgreSQL server (a container with hba_file) found');
  return { problems, servers, clients };
}
