import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ServiceName, operatorSpiffeId } from '#contract';
import { type LocalPki, type PkiFiles, ensureLocalPki, foreignCertificate } from '#infra/local/mtls-pki';
import { grpc } from '../../src/index.js';

/** The local platform's CA and certificates (the real generator), plus an attacker's certificate from another CA. */
export interface TestMesh {
  readonly pki: LocalPki;
  /** Claims to be operator/mallory, issued by a CA of its own. */
  readonly foreign: PkiFiles;
  /** PRISM_MTLS_* of a workload. */
  env(service: ServiceName): Record<string, string>;
  /** Plain grpc-js credentials, as any client could make them: trusting the platform CA, presenting `files` (or nothing). */
  creds(files?: PkiFiles): grpc.ChannelCredentials;
  renew(): Promise<LocalPki>;
}

export async function makeMesh(): Promise<TestMesh> {
  const dir = mkdtempSync(join(tmpdir(), 'prism-mtls-'));
  const pki = await ensureLocalPki({ dir: join(dir, 'pki') });
  const foreign = await foreignCertificate(join(dir, 'foreign'), operatorSpiffeId('mallory'));
  const ca = readFileSync(pki.caCert);
  return {
    pki,
    foreign,
    env: (service) => {
      const f = pki.workloads[service]!;
      return {
        PRISM_MTLS_ENABLED: 'true',
        PRISM_MTLS_CERT_FILE: f.cert,
        PRISM_MTLS_KEY_FILE: f.key,
        PRISM_MTLS_CA_FILE: f.ca,
      };
    },
    creds: (files) =>
      files
        ? grpc.credentials.createSsl(ca, readFileSync(files.key), readFileSync(files.cert))
        : grpc.credentials.createSsl(ca),
    renew: () => ensureLocalPki({ dir: join(dir, 'pki'), renew: true }),
  };
}
