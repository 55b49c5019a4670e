/**
 * Every port number in Prism. Services listen on these, renderers publish them;
 * nothing else in the code base writes a port number down.
 */
export const PORTS = {
  /** Gateway public HTTP (and the edge's upstream). */
  gatewayHttp: 8080,
  /** Auth service HTTP (`/auth/*`). */
  authHttp: 8081,
  authGrpc: 50051,
  configGrpc: 50052,
  dbmanagerGrpc: 50053,
  /** Metrics and health of every Prism service (`/metrics`, `/health/*`). */
  metrics: 9080,

  postgresAuth: 5432,
  postgresOps: 5433,
  redis: 6379,
  natsClient: 4222,
  natsCluster: 6222,
  natsMonitor: 8222,
  consulHttp: 8500,
  consulServerRpc: 8300,
  consulSerfLan: 8301,
  minioApi: 9000,
  minioConsole: 9001,

  prometheus: 9090,
  grafana: 3000,
  loki: 3100,
  /** Jaeger v2's query service: the UI and the HTTP query API (/api/traces). */
  jaegerUi: 16686,
  jaegerOtlpGrpc: 4317,
  jaegerOtlpHttp: 4318,
  /** Jaeger v2's health check (the collector's healthcheckv2 extension, GET /status). */
  jaegerHealth: 13133,
  /** Jaeger v2's own metrics (the collector's telemetry, Prometheus format). */
  jaegerMetrics: 8888,
  alertmanager: 9093,
  /** Grafana Alloy's HTTP server (health, its own metrics). */
  alloy: 12345,
  postgresExporter: 9187,
  redisExporter: 9121,
  natsExporter: 7777,

  traefikWeb: 80,
  traefikWebsecure: 443,
  traefikPing: 8082,
} as const;
