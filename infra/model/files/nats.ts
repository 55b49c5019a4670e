/** `nats-server.conf`: JetStream with file storage, monitoring, and a cluster when there are peers. */
export interface NatsConfOptions {
  readonly clientPort: number;
  readonly monitorPort: number;
  readonly clusterPort: number;
  readonly storeDir: string;
  /** Route URLs of every cluster member; a single server when empty. */
  readonly routes: readonly string[];
  readonly maxFileStore: string;
}

export function natsServerConf(o: NatsConfOptions): string {
  const lines = [
    '# Rendered from the Prism platform model; do not edit by hand.',
    `port: ${o.clientPort}`,
    `http_port: ${o.monitorPort}`,
    'server_name: $SERVER_NAME',
    'lame_duck_duration: "30s"',
    'lame_duck_grace_period: "10s"',
    'max_payload: 1MB',
    '',
    'jetstream {',
    `  store_dir: "${o.storeDir}"`,
    '  max_memory_store: 256MB',
    `  max_file_store: ${o.maxFileStore}`,
    '}',
  ];
  if (o.routes.length > 1) {
    lines.push('', 'cluster {', '  name: prism', `  port: ${o.clusterPort}`, '  routes: [', ...o.routes.map((r) => `    ${r}`), '  ]', '}');
  }
  lines.push('');
  return lines.join('\n');
}
