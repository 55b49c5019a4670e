// @peculiar/x509 resolves its algorithms through tsyringe, which needs the Reflect metadata polyfill.
import 'reflect-metadata';
import { X509Certificate as NodeX509, createPrivateKey, KeyObject, webcrypto } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import {
  DATABASES,
  MTLS_FILES,
  NATS_WORKLOAD,
  SERVICE_NAMES,
  type WorkloadName,
  operatorSpiffeId,
  workloadSpiffeId,
} from '../contract/index.js';
import { MTLS_CERT_DIR } from '../model/index.js';
import { writeFileAtomic } from './files.js';

/**
 * The private CA and certificates of local set-ups (the local platform and Compose), the way
 * cert-manager issues them in Kubernetes: one CA, one certificate per workload with its identity as a
 * URI SAN (`spiffe://prism/<service>`), and an operator certificate for grpcurl and the like.
 *
 *   <dir>/ca/ca.crt, ca.key                      the CA (directory 0700, key 0600)
 *   <dir>/<service>/tls.crt, tls.key, ca.crt     each workload's files, the names a cert-manager Secret has
 *   <dir>/operator/tls.crt, tls.key, ca.crt      spiffe://prism/operator/<name>
 *
 * `<dir>` itself is 0700, so other users of the machine cannot enter it. The workload directories are
 * 0755 with 0644 files because Compose bind-mounts them into containers that run as uid 10001 (a bind
 * mount keeps the host's owner and mode); only the container it is mounted into sees a workload's key.
 */

/** The workloads a local set-up issues for: the services, NATS and the PostgreSQL servers (servers and clients of mutual TLS). */
export const LOCAL_PKI_WORKLOADS: readonly WorkloadName[] = [
  ...SERVICE_NAMES,
  NATS_WORKLOAD,
  ...Object.values(DATABASES).map((d) => d.component),
];

/** Where Compose mounts the certificates from; the local platform may use it too. */
export const LOCAL_PKI_DIR = MTLS_CERT_DIR;

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY_MS = 86_400_000;

export interface LocalPkiOptions {
  /** Root directory (created 0700). @default `.secrets/mtls` (git-ignored) */
  readonly dir?: string;
  /** Workloads to issue for. @default {@link LOCAL_PKI_WORKLOADS} */
  readonly workloads?: readonly WorkloadName[];
  /**
   * Host names and IP addresses every workload certificate is valid for, besides the service's own name
   * (its Compose host name). @default localhost and 127.0.0.1 (the local platform)
   */
  readonly hosts?: readonly string[];
  /** Name in the operator's identity (`spiffe://prism/operator/<name>`). @default `local` */
  readonly operator?: string;
  /** Re-issue every certificate now (a rotation), keeping the CA. @default only what is missing, foreign or near expiry */
  readonly renew?: boolean;
  /** Workload and operator certificate lifetime. @default 90 days */
  readonly validityDays?: number;
  /** A certificate with less than this left is re-issued. @default 30 days */
  readonly renewBeforeDays?: number;
  /** @default now */
  readonly now?: Date;
}

export interface PkiFiles {
  readonly dir: string;
  readonly cert: string;
  readonly key: string;
  readonly ca: string;
}

export interface LocalPki {
  readonly dir: string;
  readonly caCert: string;
  readonly workloads: Readonly<Partial<Record<WorkloadName, PkiFiles>>>;
  readonly operator: PkiFiles & { readonly identity: string };
  /** What this call wrote: `ca`, service names, `operator`. Empty when everything was kept. */
  readonly issued: readonly string[];
}

class LocalPkiError extends Error {
  override readonly name = 'LocalPkiError';
}

interface Ca {
  readonly cert: x509.X509Certificate;
  readonly pem: string;
  readonly key: webcrypto.CryptoKey;
}

const filesOf = (dir: string): PkiFiles => ({
  dir,
  cert: join(dir, MTLS_FILES.cert),
  key: join(dir, MTLS_FILES.key),
  ca: join(dir, MTLS_FILES.ca),
});

async function newKeys(): Promise<webcrypto.CryptoKeyPair> {
  return await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify']);
}

function keyPem(key: webcrypto.CryptoKey): string {
  return KeyObject.from(key).export({ type: 'pkcs8', format: 'pem' }).toString();
}

async function createCa(now: Date): Promise<Ca> {
  const keys = await newKeys();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    name: 'CN=Prism local CA, O=Prism',
    notBefore: new Date(now.getTime() - 60_000),
    notAfter: new Date(now.getTime() + 5 * 365 * DAY_MS),
    keys,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { cert, pem: cert.toString('pem'), key: keys.privateKey };
}

async function loadCa(caDir: string, now: Date): Promise<Ca | undefined> {
  const certFile = join(caDir, 'ca.crt');
  const keyFile = join(caDir, 'ca.key');
  if (!existsSync(certFile) || !existsSync(keyFile)) return undefined;
  const pem = readFileSync(certFile, 'utf8');
  const node = new NodeX509(pem);
  const keyObject = createPrivateKey(readFileSync(keyFile));
  if (!node.checkPrivateKey(keyObject))
    throw new LocalPkiError(`${keyFile} does not belong to ${certFile}; delete ${caDir} to start a new CA`);
  // A CA within a year of its end is replaced (and every certificate with it).
  if (new Date(node.validTo).getTime() - now.getTime() < 365 * DAY_MS) return undefined;
  const key = await webcrypto.subtle.importKey(
    'pkcs8',
    keyObject.export({ type: 'pkcs8', format: 'der' }),
    ALG,
    false,
    ['sign'],
  );
  return { cert: new x509.X509Certificate(pem), pem, key };
}

async function issue(
  ca: Ca,
  o: { cn: string; uri: string; hosts: readonly string[]; now: Date; days: number },
): Promise<{ cert: string; key: string }> {
  const keys = await newKeys();
  const names: x509.JsonGeneralName[] = [
    { type: 'url', value: o.uri },
    ...o.hosts.map((h) => ({ type: isIP(h) ? ('ip' as const) : ('dns' as const), value: h })),
  ];
  const cert = await x509.X509CertificateGenerator.create({
    subject: `CN=${o.cn}, O=Prism`,
    issuer: ca.cert.subject,
    notBefore: new Date(o.now.getTime() - 60_000),
    notAfter: new Date(o.now.getTime() + o.days * DAY_MS),
    publicKey: keys.publicKey,
    signingKey: ca.key,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      // Every workload is a server to its callers and a client of its peers.
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      new x509.SubjectAlternativeNameExtension(names),
      await x509.AuthorityKeyIdentifierExtension.create(ca.cert),
    ],
  });
  return { cert: cert.toString('pem'), key: keyPem(keys.privateKey) };
}

/** True when the certificate in `files` is missing, foreign to `ca`, near its end, or names other hosts/identity. */
function needsIssue(
  files: PkiFiles,
  ca: Ca,
  wanted: { uri: string; hosts: readonly string[] },
  now: Date,
  renewBeforeMs: number,
): boolean {
  if (![files.cert, files.key, files.ca].every((f) => existsSync(f))) return true;
  try {
    const cert = new NodeX509(readFileSync(files.cert));
    const caNode = new NodeX509(ca.pem);
    if (!cert.checkIssued(caNode) || !cert.verify(caNode.publicKey)) return true;
    if (!cert.checkPrivateKey(createPrivateKey(readFileSync(files.key)))) return true;
    if (readFileSync(files.ca, 'utf8') !== ca.pem) return true;
    if (new Date(cert.validTo).getTime() - now.getTime() < renewBeforeMs) return true;
    const san = cert.subjectAltName ?? '';
    const expected = [`URI:${wanted.uri}`, ...wanted.hosts.map((h) => (isIP(h) ? `IP Address:${h}` : `DNS:${h}`))];
    return san.split(', ').sort().join(',') !== expected.sort().join(',');
  } catch {
    return true;
  }
}

/**
 * Makes sure the local CA and every certificate exist and are current; writes only what is missing,
 * foreign to the CA, within `renewBeforeDays` of its end, or (with `renew`) everything but the CA.
 * Each file is replaced atomically; running services pick the new files up without a restart.
 */
export async function ensureLocalPki(opts: LocalPkiOptions = {}): Promise<LocalPki> {
  const dir = opts.dir ?? LOCAL_PKI_DIR;
  const now = opts.now ?? new Date();
  const workloads = opts.workloads ?? LOCAL_PKI_WORKLOADS;
  const hosts = opts.hosts ?? ['localhost', '127.0.0.1'];
  const operatorName = opts.operator ?? 'local';
  let operatorUri: string;
  try {
    operatorUri = operatorSpiffeId(operatorName);
  } catch (e) {
    throw new LocalPkiError((e as Error).message);
  }
  const days = opts.validityDays ?? 90;
  const renewBeforeMs = (opts.renewBeforeDays ?? 30) * DAY_MS;
  if (days * DAY_MS <= renewBeforeMs)
    throw new LocalPkiError(
      `validityDays (${days}) must be longer than renewBeforeDays (${opts.renewBeforeDays ?? 30})`,
    );

  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const caDir = join(dir, 'ca');
  mkdirSync(caDir, { recursive: true, mode: 0o700 });
  const issued: string[] = [];
  let ca = await loadCa(caDir, now);
  if (!ca) {
    ca = await createCa(now);
    writeFileAtomic(join(caDir, 'ca.key'), keyPem(ca.key), 0o600);
    writeFileAtomic(join(caDir, 'ca.crt'), ca.pem, 0o644);
    issued.push('ca');
  }

  const ensure = async (
    name: string,
    cn: string,
    uri: string,
    certHosts: readonly string[],
    mode: { dir: number; file: number },
  ): Promise<PkiFiles> => {
    const files = filesOf(join(dir, name));
    mkdirSync(files.dir, { recursive: true, mode: mode.dir });
    chmodSync(files.dir, mode.dir);
    if (opts.renew || issued.includes('ca') || needsIssue(files, ca, { uri, hosts: certHosts }, now, renewBeforeMs)) {
      const { cert, key } = await issue(ca, { cn, uri, hosts: certHosts, now, days });
      // CA first, key before certificate: readers check that the pair matches and keep the old one until it does.
      writeFileAtomic(files.ca, ca.pem, mode.file);
      writeFileAtomic(files.key, key, mode.file);
      writeFileAtomic(files.cert, cert, mode.file);
      issued.push(name);
    }
    return files;
  };

  const out: Partial<Record<WorkloadName, PkiFiles>> = {};
  for (const w of workloads)
    out[w] = await ensure(w, w, workloadSpiffeId(w), [...new Set([w, ...hosts])], { dir: 0o755, file: 0o644 });
  // The operator's key stays with the operator: never mounted anywhere.
  const operator = await ensure('operator', `operator ${operatorName}`, operatorUri, [], { dir: 0o700, file: 0o600 });
  return {
    dir,
    caCert: join(caDir, 'ca.crt'),
    workloads: out,
    operator: { ...operator, identity: operatorUri },
    issued,
  };
}

/** A second, unrelated CA with a certificate claiming `uri`: what an attacker without the platform's CA can make (tests). */
export async function foreignCertificate(
  dir: string,
  uri: string,
  hosts: readonly string[] = ['localhost', '127.0.0.1'],
): Promise<PkiFiles> {
  const now = new Date();
  const ca = await createCa(now);
  const files = filesOf(dir);
  const { cert, key } = await issue(ca, { cn: 'foreign', uri, hosts, now, days: 2 });
  writeFileAtomic(files.ca, ca.pem, 0o644);
  writeFileAtomic(files.key, key, 0o600);
  writeFileAtomic(files.cert, cert, 0o644);
  return files;
}

/** Issues one more certificate from the local CA in `pkiDir` (tests: identities the generator does not make). */
export async function issueFromLocalCa(
  pkiDir: string,
  outDir: string,
  o: { uri: string; hosts?: readonly string[]; days?: number },
): Promise<PkiFiles> {
  const now = new Date();
  const ca = await loadCa(join(pkiDir, 'ca'), now);
  if (!ca) throw new LocalPkiError(`no CA in ${join(pkiDir, 'ca')}: run ensureLocalPki first`);
  const files = filesOf(outDir);
  const { cert, key } = await issue(ca, { cn: 'extra', uri: o.uri, hosts: o.hosts ?? [], now, days: o.days ?? 2 });
  writeFileAtomic(files.ca, ca.pem, 0o644);
  writeFileAtomic(files.key, key, 0o600);
  writeFileAtomic(files.cert, cert, 0o644);
  return files;
}
