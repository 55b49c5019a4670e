import { toYaml } from './yaml.js';

/** Single-binary Loki on a filesystem volume, with retention. */
export function lokiYaml(port: number, dataDir: string, retentionDays: number): string {
  return toYaml({
    auth_enabled: false,
    server: { http_listen_port: port, grpc_listen_port: 9095, log_level: 'info' },
    common: {
      instance_addr: '127.0.0.1',
      path_prefix: dataDir,
      storage: { filesystem: { chunks_directory: `${dataDir}/chunks`, rules_directory: `${dataDir}/rules` } },
      replication_factor: 1,
      ring: { kvstore: { store: 'inmemory' } },
    },
    schema_config: {
      configs: [
        {
          from: '2024-01-01',
          store: 'tsdb',
          object_store: 'filesystem',
          schema: 'v13',
          index: { prefix: 'index_', period: '24h' },
        },
      ],
    },
    limits_config: { retention_period: `${retentionDays * 24}h`, allow_structured_metadata: true },
    compactor: {
      working_directory: `${dataDir}/compactor`,
      retention_enabled: true,
      delete_request_store: 'filesystem',
    },
    analytics: { reporting_enabled: false },
  });
}
