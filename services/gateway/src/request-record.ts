import type { Logger, ServiceMetrics } from '../../runtime/src/index.js';
import type { EventPublisher } from './events.js';
import type { Ctx } from './request-context.js';

// What a finished request leaves behind: its metrics, the end of its spans, a debug log line and its event.

interface RequestMetrics {
  readonly count: { inc(): void };
  readonly duration: { observe(seconds: number): void };
}

export class RequestRecorder {
  private readonly metricChildren = new Map<string, RequestMetrics>();
  /** Whether the log takes debug lines: looked up when the level changes, not per request. */
  debug: boolean;

  constructor(
    private readonly deps: {
      readonly log: Logger;
      readonly metrics: ServiceMetrics;
      readonly events: EventPublisher | undefined;
    },
  ) {
    this.debug = deps.log.isLevelEnabled('debug');
  }

  /** Metrics, trace and event of a finished request (called once per request). */
  done(ctx: Ctx): void {
    if (ctx.recorded) return;
    ctx.recorded = true;
    const seconds = (performance.now() - ctx.start) / 1000;
    const method = ctx.req.method ?? '';
    const status = ctx.status || 499;
    const m = this.requestMetrics(method, ctx.route, status);
    m.count.inc();
    m.duration.observe(seconds);
    if (ctx.span) {
      ctx.upstreamSpan?.setAttribute('http.response.status_code', status);
      ctx.upstreamSpan?.end();
      ctx.span.setAttribute('http.response.status_code', status);
      ctx.span.end();
    }
    // Access records go to NATS as events; the log gets them only at debug level (dev).
    if (this.debug)
      this.deps.log.debug(
        {
          reqId: ctx.id,
          method,
          path: ctx.path,
          route: ctx.route,
          status,
          ms: Math.round(seconds * 1e6) / 1e3,
          userId: ctx.identity?.userId,
        },
        'request',
      );
    this.deps.events?.push({
      id: ctx.id,
      ts: Date.now(),
      method,
      path: ctx.path,
      route: ctx.route,
      status,
      durationMs: Math.round(seconds * 1e6) / 1e3,
      userId: ctx.identity?.userId,
      authMethod: ctx.identity?.method,
      clientIp: ctx.ip,
    });
  }

  /**
   * The labelled request counter and histogram of one method, route and status, looked up once:
   * prom-client hashes the label object on every call otherwise. Methods are the parser's fixed set
   * and routes come from the config, so the map stays small.
   */
  private requestMetrics(method: string, route: string, status: number): RequestMetrics {
    const key = `${method} ${route} ${status}`;
    let m = this.metricChildren.get(key);
    if (m === undefined) {
      const { httpRequests, httpDuration } = this.deps.metrics;
      m = { count: httpRequests.labels({ method, route, status }), duration: httpDuration.labels({ method, route }) };
      this.metricChildren.set(key, m);
    }
    return m;
  }
}
