import { PORTS } from '../../contract/index.js';
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
        { from: '2024-01-01', store: 'tsdb', object_store: 'filesystem', schema: 'v13', index: { prefix: 'index_', period: '24h' } },
      ],
    },
    limits_config: { retention_period: `${retentionDays * 24}h`, allow_structured_metadata: true },
    compactor: { working_directory: `${dataDir}/compactor`, retention_enabled: true, delete_request_store: 'filesystem' },
    analytics: { reporting_enabled: false },
  });
}

/** Promtail: tails pod logs on each node and pushes them to Loki. */
export function promtailYaml(lokiUrl: string, namespace: string): string {
  return toYaml({
    server: { http_listen_port: PORTS.promtail, grpc_listen_port: 0 },
    positions: { filename: '/run/promtail/positions.yaml' },
    clients: [{ url: `${lokiUrl}/loki/api/v1/push` }],
    scrape_configs: [
      {
        job_name: 'prism-pods',
        kubernetes_sd_configs: [{ role: 'pod', namespaces: { names: [namespace] } }],
        pipeline_stages: [{ cri: {} }, { json: { expressions: { level: 'level', request_id: 'reqId' } } }, { labels: { level: null } }],
        relabel_configs: [
          { source_labels: ['__meta_kubernetes_pod_node_name'], target_label: '__host__' },
          { source_labels: ['__meta_kubernetes_namespace'], target_label: 'namespace' },
          { source_labels: ['__meta_kubernetes_pod_name'], target_label: 'pod' },
          { source_labels: ['__meta_kubernetes_pod_container_name'], target_label: 'container' },
          { source_labels: ['__meta_kubernetes_pod_label_app_kubernetes_io_name'], target_label: 'app' },
          {
            source_labels: ['__meta_kubernetes_pod_uid', '__meta_kubernetes_pod_container_name'],
            separator: '/',
            replacement: '/var/log/pods/*$1/*.log',
            target_label: '__path__',
          },
        ],
      },
    ],
  });
}
