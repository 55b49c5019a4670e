import { toYaml } from './yaml.js';

/** Where Jaeger keeps traces: in memory (the local platform: lost on restart) or Badger files on a volume. */
type JaegerStorage =
  | { readonly memory: { readonly maxTraces: number } }
  | { readonly badger: { readonly dir: string; readonly retentionHours: number } };

export interface JaegerConfig {
  /** The address every listener binds (0.0.0.0 in a container, 127.0.0.1 locally). */
  readonly host: string;
  readonly ports: {
    readonly query: number;
    readonly otlpGrpc: number;
    readonly otlpHttp: number;
    readonly health: number;
    readonly metrics: number;
  };
  readonly storage: JaegerStorage;
}

export const JAEGER_HEALTH_PATH = '/status';

/**
 * Jaeger v2's configuration (an OpenTelemetry Collector pipeline): OTLP over gRPC and HTTP in, one
 * trace store, the query service (UI and HTTP API) out, a health check and the collector's own metrics.
 * The services send OTLP/HTTP only; OTLP/gRPC is there for other senders (the collector's usual port).
 */
export function jaegerYaml(c: JaegerConfig): string {
  const at = (port: number) => `${c.host}:${port}`;
  const store =
    'memory' in c.storage
      ? { memory: { max_traces: c.storage.memory.maxTraces } }
      : {
          badger: {
            directories: { keys: `${c.storage.badger.dir}/keys`, values: `${c.storage.badger.dir}/values` },
            ephemeral: false,
            ttl: { spans: `${c.storage.badger.retentionHours}h` },
          },
        };
  return toYaml({
    service: {
      extensions: ['jaeger_storage', 'jaeger_query', 'healthcheckv2'],
      pipelines: { traces: { receivers: ['otlp'], processors: ['batch'], exporters: ['jaeger_storage_exporter'] } },
      telemetry: {
        resource: { 'service.name': 'jaeger' },
        metrics: {
          level: 'basic',
          readers: [{ pull: { exporter: { prometheus: { host: c.host, port: c.ports.metrics } } } }],
        },
        logs: { level: 'info' },
      },
    },
    extensions: {
      healthcheckv2: {
        use_v2: true,
        http: { endpoint: at(c.ports.health), status: { enabled: true, path: JAEGER_HEALTH_PATH } },
      },
      jaeger_storage: { backends: { traces: store } },
      // Only the HTTP side of the query service: its gRPC API (default :16685) is not used by Grafana or the tests.
      jaeger_query: {
        storage: { traces: 'traces' },
        http: { endpoint: at(c.ports.query) },
        grpc: { endpoint: `${c.host}:0` },
      },
    },
    receivers: {
      otlp: { protocols: { grpc: { endpoint: at(c.ports.otlpGrpc) }, http: { endpoint: at(c.ports.otlpHttp) } } },
    },
    processors: { batch: {} },
    exporters: { jaeger_storage_exporter: { trace_storage: 'traces' } },
  });
}
