import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import { PG_SSLMODE, PG_TLS_ENV } from '#contract';

/**
 * The `pg` client's TLS for a connection to `host`, from libpq's variables, with libpq's `verify-full` meaning: TLS
 * required, the chain checked against PGSSLROOTCERT only (not the system roots) and the certificate's names against
 * the host dialled (Node's checkServerIdentity, IP SANs for an address). The check happens before the startup
 * message, so an impostor server never sees the password. Always explicit (`false` for none): left unset, `pg`
 * reads PGSSLMODE itself, trusts the system's CAs for verify-full and asks a Unix socket for TLS too.
 * A Unix socket (a host starting with `/`) and an unset mode: no TLS (tests' private servers, the restore check);
 * any other mode is refused rather than half-honoured.
 */
export function pgClientSsl(host: string | undefined, env: NodeJS.ProcessEnv = process.env): ConnectionOptions | false {
  const mode = env[PG_TLS_ENV.mode];
  if (host?.startsWith('/') || !mode || mode === 'disable') return false;
  if (mode !== PG_SSLMODE) throw new Error(`${PG_TLS_ENV.mode}=${mode}: only ${PG_SSLMODE} or disable are supported`);
  const rootCert = env[PG_TLS_ENV.rootCert];
  if (!rootCert) throw new Error(`${PG_TLS_ENV.mode}=${PG_SSLMODE} needs ${PG_TLS_ENV.rootCert} (the mesh CA file)`);
  return { ca: readFileSync(rootCert, 'utf8'), rejectUnauthorized: true, minVersion: 'TLSv1.2' };
}
