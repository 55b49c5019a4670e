import type { NatsPermissions } from '../../contract/index.js';

/** The server's certificate, key and the mesh CA, as mounted. */
interface NatsTlsFiles {
  readonly cert: string;
  readonly key: string;
  readonly ca: string;
}

/** `nats-server.conf`: JetStream with file storage, monitoring, and a cluster when there are peers. */
export interface NatsConfOptions {
  readonly clientPort: number;
  readonly monitorPort: number;
  readonly clusterPort: number;
  readonly storeDir: string;
  /** Route URLs of every cluster member; a single server when empty. */
  readonly routes: readonly string[];
  readonly maxFileStore: string;
  readonly tls: NatsTlsFiles;
  /** The servers' own identity (URI SAN): the only one a cluster route is accepted from. */
  readonly serverIdentity: string;
  /** Identity (URI SAN of a mesh certificate) → what its user may publish and subscribe to. */
  readonly users: ReadonlyMap<string, NatsPermissions>;
}

const list = (items: readonly string[]) => `[${items.map((s) => JSON.stringify(s)).join(', ')}]`;

function tlsBlock(t: NatsTlsFiles, indent: string): string[] {
  // verify_and_map: a client certificate of the CA is required and names the user (its URI SAN).
  return [
    `${indent}tls {`,
    `${indent}  cert_file: "${t.cert}"`,
    `${indent}  key_file: "${t.key}"`,
    `${indent}  ca_file: "${t.ca}"`,
    `${indent}  verify_and_map: true`,
    `${indent}}`,
  ];
}

export function natsServerConf(o: NatsConfOptions): string {
  const lines = [
    '# Rendered from the Prism platform model; do not edit by hand.',
    `port: ${o.clientPort}`,
    // Plain HTTP on the pod's network for the probes and the exporter only (network policies); no client reaches it.
    `http_port: ${o.monitorPort}`,
    'server_name: $SERVER_NAME',
    'lame_duck_duration: "30s"',
    'lame_duck_grace_period: "10s"',
    'max_payload: 1MB',
    '',
    ...tlsBlock(o.tls, ''),
    '',
    // One user per workload identity; no user, no connection (no anonymous access, no default user).
    'authorization {',
    '  users: [',
    ...[...o.users].map(
      ([identity, p]) =>
        `    { user: "${identity}", permissions: { publish: { allow: ${list(p.publish)} }, subscribe: { allow: ${list(p.subscribe)} } } }`,
    ),
    '  ]',
    '}',
    '',
    'jetstream {',
    `  store_dir: "${o.storeDir}"`,
    '  max_memory_store: 256MB',
    `  max_file_store: ${o.maxFileStore}`,
    '}',
  ];
  if (o.routes.length > 1) {
    lines.push(
      '',
      'cluster {',
      '  name: prism',
      `  port: ${o.clusterPort}`,
      ...tlsBlock(o.tls, '  '),
      // Routes carry every message: only the servers' own certificate may open one.
      `  authorization { user: "${o.serverIdentity}" }`,
      '  routes: [',
      ...o.routes.map((r) => `    ${r}`),
      '  ]',
      '}',
    );
  }
  lines.push('');
  return lines.join('\n');
}
