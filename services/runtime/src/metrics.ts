import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
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
    this.httpRequests = new Counter({ name: METRICS.httpRequests, help: 'HTTP requests served', labelNames: ['method', 'route', 'status'], registers });
    this.httpDuration = new Histogram({
      name: METRICS.httpDuration,
      help: 'HTTP request duration in seconds',
      labelNames: ['method', 'route'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.grpcRequests = new Counter({ name: METRICS.grpcRequests, help: 'gRPC calls served', labelNames: ['method', 'code'], registers });
    this.events = new Counter({ name: METRICS.events, help: 'Events sent to NATS by result', labelNames: ['result'], registers });
  }
}
