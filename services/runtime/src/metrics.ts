import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { METRICS } from '#contract';

/** The registry of one service with prom-client's default process metrics and the shared request metrics. */
export class ServiceMetrics {
  readonly registry = new Registry();
  /** {@link METRICS.httpRequests}: labels method, route, status. */
  readonly httpRequests: Counter<'method' | 'route' | 'status'>;
  /** {@link METRICS.httpDuration} in seconds: labels method, route. */
  readonly httpDuration: Histogram<'method' | 'route'>;
  /** {@link METRICS.grpcRequests}: labels method, code. */
  readonly grpcRequests: Counter<'method' | 'code'>;
  /** {@link METRICS.events}: label result (published, dropped, failed). */
  readonly events: Counter<'result'>;

  constructor(readonly service: string) {
    this.registry.setDefaultLabels({ service });
    collectDefaultMetrics({ register: this.registry });
    const registers = [this.registry];
    this.httpRequests = new Counter({
      name: METRICS.httpRequests,
      help: 'HTTP requests served',
      labelNames: ['method', 'route', 'status'],
      registers,
    });
    this.httpDuration = new Histogram({
      name: METRICS.httpDuration,
      help: 'HTTP request duration in seconds',
      labelNames: ['method', 'route'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.grpcRequests = new Counter({
      name: METRICS.grpcRequests,
      help: 'gRPC calls served',
      labelNames: ['method', 'code'],
      registers,
    });
    this.events = new Counter({
      name: METRICS.events,
      help: 'Events sent to NATS by result',
      labelNames: ['result'],
      registers,
    });
    const pools = this.pgPools;
    new Gauge({
      name: METRICS.dbPoolConnections,
      help: 'PostgreSQL pool connections by state (total, idle; waiting: clients queued for a connection)',
      labelNames: ['pool', 'state'],
      registers,
      collect() {
        for (const [pool, p] of pools) {
          this.set({ pool, state: 'total' }, p.totalCount);
          this.set({ pool, state: 'idle' }, p.idleCount);
          this.set({ pool, state: 'waiting' }, p.waitingCount);
        }
      },
    });
    new Gauge({
      name: METRICS.dbPoolMax,
      help: 'The most connections a PostgreSQL pool opens',
      labelNames: ['pool'],
      registers,
      collect() {
        for (const [pool, p] of pools) this.set({ pool }, p.options.max ?? 10); // pg's default
      },
    });
    const redis = this.redisConnections;
    new Gauge({
      name: METRICS.redisConnectionUp,
      help: 'Redis connection ready (1) or not (0)',
      labelNames: ['connection'],
      registers,
      collect() {
        for (const [connection, r] of redis) this.set({ connection }, r.status === 'ready' ? 1 : 0);
      },
    });
    new Gauge({
      name: METRICS.redisCommandsPending,
      help: 'Redis commands sent or queued and not yet answered',
      labelNames: ['connection'],
      registers,
      collect() {
        for (const [connection, r] of redis) {
          // ioredis keeps both queues private: read when present, so an upgrade that renames them shows 0, not a crash.
          const q = r as unknown as { commandQueue?: { length: number }; offlineQueue?: { length: number } };
          this.set({ connection }, (q.commandQueue?.length ?? 0) + (q.offlineQueue?.length ?? 0));
        }
      },
    });
  }

  private readonly pgPools = new Map<string, PgPoolStats>();
  private readonly redisConnections = new Map<string, RedisStats>();

  /** Exports `pool`'s connection counts (read at scrape time) under the label pool=`name`. */
  observePgPool(name: string, pool: PgPoolStats): void {
    this.pgPools.set(name, pool);
  }

  /** Exports a Redis connection's state and pending commands under the label connection=`name`. */
  observeRedis(name: string, connection: RedisStats): void {
    this.redisConnections.set(name, connection);
  }
}

/** What pg.Pool tells about itself (structural, so the runtime does not import pg). */
export interface PgPoolStats {
  readonly totalCount: number;
  readonly idleCount: number;
  readonly waitingCount: number;
  readonly options: { readonly max?: number };
}

/** What an ioredis connection tells about itself (its queues are read as internals, when present). */
export interface RedisStats {
  readonly status: string;
}
