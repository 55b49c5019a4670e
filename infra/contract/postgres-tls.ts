import { MTLS_DIR, MTLS_FILES } from './mtls.js';

/**
 * TLS to PostgreSQL: one definition read by the services, the libpq programs (db-migrate, backups,
 * exporters) and the renderers. Clients verify the server against the mesh CA and the host name
 * they dialled (`verify-full`), so an impostor on the database's address gets no password.
 */

/** libpq's own variables; the services' `pg` client reads the same two (see services/runtime pg-tls). */
export const PG_TLS_ENV = { mode: 'PGSSLMODE', rootCert: 'PGSSLROOTCERT' } as const;
export const PG_SSLMODE = 'verify-full';
/** The mesh CA bundle every workload already mounts for mutual TLS. */
export const PG_ROOT_CERT = `${MTLS_DIR}/${MTLS_FILES.ca}`;

/** The client environment of every workload that talks to PostgreSQL. */
export const pgTlsEnv = (rootCert: string = PG_ROOT_CERT): Record<string, string> => ({
  [PG_TLS_ENV.mode]: PG_SSLMODE,
  [PG_TLS_ENV.rootCert]: rootCert,
});

/** The same for a libpq connection URI (clients configured by URL, as postgres_exporter's DATA_SOURCE_URI). */
export const pgTlsUriParams = (rootCert: string = PG_ROOT_CERT): string =>
  `sslmode=${PG_SSLMODE}&sslrootcert=${rootCert}`;

/** Server settings (`-c name=value`): TLS on, nothing older than TLS 1.2. */
export const pgTlsServerSettings = (f: { cert: string; key: string }): string[] => [
  'ssl=on',
  `ssl_cert_file=${f.cert}`,
  `ssl_key_file=${f.key}`,
  'ssl_min_protocol_version=TLSv1.2',
];
