import type { NodeConnectionOptions } from '@nats-io/transport-node';
import { natsInboxPrefix, type ServiceName } from '#contract';
import type { MtlsSettings } from './mtls.js';
import { TlsConfigError } from './tls.js';

/**
 * How a service connects to NATS: the servers of PRISM_NATS_URL and, for `tls://` URLs, the service's
 * mesh certificate as the client certificate (the server maps it to the service's NATS user and checks
 * the server's certificate against the mesh CA). Replies come to the service's own inbox prefix, the only
 * inbox its NATS user may subscribe to. The files are read at each (re)connection, so a renewed
 * certificate is used from the next one.
 */
export function natsConnectOptions(
  url: string,
  service: ServiceName,
  mtls: MtlsSettings,
): Pick<NodeConnectionOptions, 'servers' | 'tls' | 'inboxPrefix' | 'name'> {
  const servers = url
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const base = { servers, inboxPrefix: natsInboxPrefix(service), name: `prism-${service}` };
  if (!servers.some((s) => s.startsWith('tls://'))) return base;
  if (!mtls.enabled || !mtls.certFile || !mtls.keyFile || !mtls.caFile)
    throw new TlsConfigError(
      `PRISM_NATS_URL ${url} asks for TLS, which needs the mesh certificate: set PRISM_MTLS_ENABLED and PRISM_MTLS_*_FILE`,
    );
  return { ...base, tls: { certFile: mtls.certFile, keyFile: mtls.keyFile, caFile: mtls.caFile } };
}
