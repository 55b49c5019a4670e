import { readFileSync } from 'node:fs';
import type { SecureContextOptions, SecureVersion } from 'node:tls';
import type { ServiceEnv } from './config.js';

/** The guide's TLS section (`enabled`, `cert_file`, `key_file`, `min_version`, `client_auth`, `client_ca_file`). */
export interface TlsSettings {
  readonly enabled: boolean;
  readonly certFile?: string | undefined;
  readonly keyFile?: string | undefined;
  readonly minVersion: '1.2' | '1.3';
  /** Require and verify client certificates (mutual TLS). */
  readonly clientAuth: boolean;
  /** CA of the client certificates; clients also use it to verify servers. */
  readonly clientCaFile?: string | undefined;
}

export function tlsSettingsFromEnv(
  env: Pick<
    ServiceEnv,
    | 'PRISM_TLS_ENABLED'
    | 'PRISM_TLS_CERT_FILE'
    | 'PRISM_TLS_KEY_FILE'
    | 'PRISM_TLS_MIN_VERSION'
    | 'PRISM_TLS_CLIENT_AUTH'
    | 'PRISM_TLS_CLIENT_CA_FILE'
  >,
): TlsSettings {
  const s: TlsSettings = {
    enabled: env.PRISM_TLS_ENABLED ?? false,
    certFile: env.PRISM_TLS_CERT_FILE,
    keyFile: env.PRISM_TLS_KEY_FILE,
    minVersion: env.PRISM_TLS_MIN_VERSION ?? '1.2',
    clientAuth: env.PRISM_TLS_CLIENT_AUTH ?? false,
    clientCaFile: env.PRISM_TLS_CLIENT_CA_FILE,
  };
  if (s.enabled && (!s.certFile || !s.keyFile)) {
    throw new TlsConfigError('PRISM_TLS_ENABLED is true but PRISM_TLS_CERT_FILE or PRISM_TLS_KEY_FILE is not set');
  }
  if (s.enabled && s.clientAuth && !s.clientCaFile) {
    throw new TlsConfigError('PRISM_TLS_CLIENT_AUTH is true but PRISM_TLS_CLIENT_CA_FILE is not set');
  }
  return s;
}

export class TlsConfigError extends Error {
  override readonly name = 'TlsConfigError';
}

const VERSION: Record<TlsSettings['minVersion'], SecureVersion> = { '1.2': 'TLSv1.2', '1.3': 'TLSv1.3' };

function read(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    throw new TlsConfigError(
      `cannot read ${what} ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
}

/** Options for `https.createServer` / `tls.createServer` / HTTP/2: certificate, key, minimum version, client CA. */
export function serverTlsOptions(
  s: TlsSettings,
): SecureContextOptions & { requestCert: boolean; rejectUnauthorized: boolean } {
  return {
    cert: read(s.certFile!, 'TLS certificate'),
    key: read(s.keyFile!, 'TLS key'),
    minVersion: VERSION[s.minVersion],
    ...(s.clientCaFile ? { ca: read(s.clientCaFile, 'client CA') } : {}),
    requestCert: s.clientAuth,
    rejectUnauthorized: s.clientAuth,
  };
}

/**
 * Options of a TLS client: trusts the CA file (the platform's internal CA) and, when it has a
 * certificate and key, presents them (mutual TLS).
 */
export function clientTlsOptions(s: {
  caFile?: string | undefined;
  certFile?: string | undefined;
  keyFile?: string | undefined;
  minVersion?: '1.2' | '1.3';
}): SecureContextOptions {
  return {
    minVersion: VERSION[s.minVersion ?? '1.2'],
    ...(s.caFile ? { ca: read(s.caFile, 'CA') } : {}),
    ...(s.certFile && s.keyFile
      ? { cert: read(s.certFile, 'client certificate'), key: read(s.keyFile, 'client key') }
      : {}),
  };
}
