import { execFile } from 'node:child_process';
import { chmod, copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { pgTlsServerSettings } from '#contract';
import { ensureLocalPki, issueFromLocalCa, type PkiFiles } from '#infra/local/mtls-pki';

const exec = promisify(execFile);
const asRoot = process.getuid?.() === 0;

export interface PgServerTls {
  /** The mesh CA's certificate (the clients' PGSSLROOTCERT). */
  readonly ca: string;
  /** Where the local PKI lives (to issue more certificates from the same CA). */
  readonly pkiDir: string;
  /** The certificate issued for 127.0.0.1 and localhost. */
  readonly issued: PkiFiles;
  /** The server's copies (the key 0600, the server's user's), which the settings point at. */
  readonly live: { readonly cert: string; readonly key: string };
  /** The contract's server settings as `-c name=value` options for privatePostgres. */
  readonly options: string;
}

/** Hands a path to the server's user when we are root (PostgreSQL refuses root, and a key others can read). */
export async function ownedByPostgres(path: string): Promise<void> {
  if (asRoot) await exec('chown', ['-R', 'postgres:', path]);
}

/** A private server's TLS as the model configures it: a certificate of a local mesh CA for 127.0.0.1, the key private. */
export async function pgServerTls(dir: string): Promise<PgServerTls> {
  const pki = await ensureLocalPki({ dir: join(dir, 'pki'), workloads: [] });
  const issued = await issueFromLocalCa(pki.dir, join(dir, 'issued'), {
    uri: 'spiffe://prism/postgres-auth',
    hosts: ['127.0.0.1', 'localhost'],
  });
  const live = { cert: join(dir, 'live', 'server.crt'), key: join(dir, 'live', 'server.key') };
  await mkdir(join(dir, 'live'), { mode: 0o700 });
  await copyFile(issued.cert, live.cert);
  await copyFile(issued.key, live.key);
  await chmod(live.key, 0o600);
  await chmod(dir, 0o755);
  await ownedByPostgres(join(dir, 'live'));
  const options = pgTlsServerSettings(live)
    .map((s) => `-c ${s}`)
    .join(' ');
  return { ca: pki.caCert, pkiDir: pki.dir, issued, live, options };
}
