import type { ServiceName } from '../contract/index.js';

/**
 * Every default size of the platform, in one place: CPU and memory of each workload, and the volume of
 * each store. All are stack configuration (`services.<name>.resources`, `resources.<workload>`,
 * `storage.sizes.<store>`); the model reads them from there and sizes nothing itself.
 */

export interface Resources {
  readonly requests: { readonly cpu: string; readonly memory: string };
  readonly limits: { readonly cpu: string; readonly memory: string };
}

/** Requests and limits per resource, each as a `[request, limit]` pair: `resources(['100m', '500m'], ['128Mi', '256Mi'])`. */
const resources = (cpu: [request: string, limit: string], memory: [request: string, limit: string]): Resources => ({
  requests: { cpu: cpu[0], memory: memory[0] },
  limits: { cpu: cpu[1], memory: memory[1] },
});

/** The four services; the gateway's is the guide's. */
export const SERVICE_DEFAULT_RESOURCES: Record<ServiceName, Resources> = {
  gateway: resources(['100m', '500m'], ['128Mi', '256Mi']),
  auth: resources(['100m', '500m'], ['128Mi', '256Mi']),
  config: resources(['50m', '250m'], ['96Mi', '192Mi']),
  dbmanager: resources(['50m', '500m'], ['128Mi', '512Mi']),
};

/** Every other workload: the stores, the observability stack (the four exporters share one size), the edge proxy, the log shipper. */
export const WORKLOAD_DEFAULT_RESOURCES = {
  postgresAuth: resources(['250m', '1'], ['256Mi', '1Gi']),
  postgresOps: resources(['250m', '1'], ['256Mi', '1Gi']),
  // Redis's maxmemory is three quarters of its memory limit.
  redis: resources(['100m', '500m'], ['128Mi', '512Mi']),
  nats: resources(['100m', '1'], ['256Mi', '1Gi']),
  consul: resources(['50m', '500m'], ['64Mi', '256Mi']),
  minio: resources(['100m', '1'], ['256Mi', '1Gi']),
  prometheus: resources(['200m', '1'], ['512Mi', '2Gi']),
  alertmanager: resources(['25m', '250m'], ['64Mi', '256Mi']),
  exporters: resources(['10m', '100m'], ['32Mi', '128Mi']),
  jaeger: resources(['100m', '500m'], ['256Mi', '1Gi']),
  loki: resources(['100m', '1'], ['256Mi', '1Gi']),
  grafana: resources(['50m', '500m'], ['128Mi', '512Mi']),
  edge: resources(['100m', '500m'], ['64Mi', '256Mi']),
  logShipper: resources(['50m', '250m'], ['64Mi', '256Mi']),
} as const satisfies Record<string, Resources>;
export type SizedWorkload = keyof typeof WORKLOAD_DEFAULT_RESOURCES;

/** Volume claim per store. */
export const DEFAULT_VOLUME_SIZES = {
  postgresAuth: '10Gi',
  postgresOps: '10Gi',
  redis: '2Gi',
  nats: '5Gi',
  consul: '1Gi',
  minio: '50Gi',
  prometheus: '20Gi',
  loki: '20Gi',
  grafana: '1Gi',
} as const satisfies Record<string, string>;
export type DataStoreName = keyof typeof DEFAULT_VOLUME_SIZES;
