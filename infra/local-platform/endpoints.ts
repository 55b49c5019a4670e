import { parse as parseYaml } from 'yaml';
import { gatewayConfigSchema, type DatabaseId } from '../contract/index.js';
import type { LocalPki } from '../local/mtls-pki.js';
import { httpScheme, type PlatformContext } from './context.js';
import { ECHO, ECHO_ROUTES, HOST, localGatewayYaml, localPort } from './render.js';

/** What a running platform offers (written to endpoints.json, printed by `local:up` and `local:status`). */
export interface Endpoints {
  readonly environment: string;
  readonly gateways: readonly string[];
  readonly auth: string;
  readonly auth_grpc: string;
  readonly config_grpc: string;
  readonly dbmanager_grpc: string;
  readonly metrics: Readonly<Record<string, string>>;
  readonly echo: string;
  readonly routes: { readonly echo: string; readonly echo_public: string };
  readonly jwt_private_key_file: string;
  readonly jwt_public_key_file: string;
  /** The operator's certificate for the services' gRPC APIs (npm run config, grpcurl), and the CA that issued every certificate. */
  readonly operator_mtls: {
    readonly identity: string;
    readonly cert_file: string;
    readonly key_file: string;
    readonly ca_file: string;
  };
  readonly rate_limit: {
    readonly enabled: boolean;
    readonly requests_per_second: number;
    readonly burst: number;
    readonly on_redis_failure: 'open' | 'closed';
  };
  /** Data stores (addresses only; passwords are in secrets.json). */
  readonly postgres: Readonly<Record<DatabaseId, string>>;
  readonly redis: string;
  readonly nats: string;
  /** NATS' monitoring endpoint (/varz, /jsz) and MinIO's console: the troubleshooting views of docs/operations/runbook.md. */
  readonly nats_monitor: string;
  readonly s3: string;
  readonly s3_console: string;
  /** The trace backend's HTTP query API (Jaeger): `${tracing_query}/traces?service=gateway`, `${tracing_query}/traces/<trace id>`. */
  readonly tracing_query: string;
  /**
   * Where the processes' log lines are: the local platform's directory of `<process>.log` files;
   * `kubernetes:<namespace>` on the real-pods lane (`kubectl logs` of each component's pods), `docker:<project>` in the
   * Compose lane (`docker logs` of each service's containers); '' where none are read.
   */
  readonly logs: string;
  /**
   * The log store's HTTP query API (Loki): `${log_query}/query_range?query=...`. Set where a log shipper sends the
   * pods' or containers' lines there (the real-pods lane, the Compose lane); '' where none does (the local platform).
   */
  readonly log_query: string;
  /**
   * The metrics store's HTTP API (Prometheus): `${metrics_query}/targets`, `${metrics_query}/query?query=...`. Set
   * where the stack runs its Prometheus (the real-pods lane, the Compose lane); '' on the local platform.
   */
  readonly metrics_query: string;
  /**
   * The webhook receiver the stack's Alertmanager notifies, where the lane runs one: `GET ${alert_sink}/received` lists
   * the deliveries (`{path, at, body}`, the body as Alertmanager sent it). Set on the real-pods lane; '' elsewhere.
   */
  readonly alert_sink: string;
}

export function endpointsOf(pc: PlatformContext, pki: LocalPki): Endpoints {
  const ctx = pc.render;
  const url = (k: string) => `http://${HOST}:${localPort(ctx, k)}`;
  const web = (instance: string, name: string) =>
    `${httpScheme(pc.platform, name)}://${HOST}:${localPort(ctx, `${instance}/http`)}`;
  const addr = (k: string) => `${HOST}:${localPort(ctx, k)}`;
  const gws = Array.from({ length: ctx.gateways }, (_, i) => `gateway-${i + 1}`);
  const metrics: Record<string, string> = {};
  for (const s of ['auth', 'config', 'dbmanager', ...gws]) metrics[s] = `${url(`${s}/metrics`)}/metrics`;
  const { rate_limit } = gatewayConfigSchema.parse(parseYaml(localGatewayYaml(ctx)));
  return {
    environment: pc.platform.environment,
    gateways: gws.map((g) => web(g, 'gateway')),
    auth: web('auth', 'auth'),
    auth_grpc: addr('auth/grpc'),
    config_grpc: addr('config/grpc'),
    dbmanager_grpc: addr('dbmanager/grpc'),
    metrics,
    echo: url(`${ECHO}/http`),
    routes: { echo: ECHO_ROUTES.protected, echo_public: ECHO_ROUTES.public },
    jwt_private_key_file: pc.layout.privateKey,
    jwt_public_key_file: pc.layout.publicKey,
    operator_mtls: {
      identity: pki.operator.identity,
      cert_file: pki.operator.cert,
      key_file: pki.operator.key,
      ca_file: pki.operator.ca,
    },
    rate_limit,
    postgres: { auth: addr('postgres-auth/postgres'), ops: addr('postgres-ops/postgres') },
    redis: addr('redis/redis'),
    nats: `nats://${addr('nats/client')}`,
    nats_monitor: `http://${addr('nats/monitor')}`,
    s3: url('minio/api'),
    s3_console: `http://${addr('minio/console')}`,
    tracing_query: `${url('jaeger/ui')}/api`,
    logs: pc.layout.logsDir,
    log_query: '',
    metrics_query: '',
    alert_sink: '',
  };
}
