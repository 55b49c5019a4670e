import { Counter, Gauge, type Registry } from 'prom-client';
import { CIRCUIT_STATE, METRICS } from '#contract';

export interface BreakerSettings {
  /** Consecutive failures (5xx, connection errors), or consecutive timeouts, that open the circuit. */
  readonly failureThreshold: number;
  /** Time the circuit stays open before letting trial requests through. */
  readonly resetTimeoutMs: number;
  /** Trial requests allowed at once while half-open. */
  readonly halfOpenMaxRequests: number;
}

type State = keyof typeof CIRCUIT_STATE;

/**
 * Who a request is: without a verified identity (anonymous, on a public route) or with one. Each class
 * has its own breakers, so anonymous traffic (a flood of slow requests, requests that make the upstream
 * fail) can open only the anonymous breaker, never the one signed-in users go through.
 */
export type RouteClass = 'anonymous' | 'authenticated';

/**
 * What went wrong. `upstream`: the upstream refused, reset or failed the connection, failed TLS, or
 * answered 5xx. `timeout`: the gateway stopped waiting (the route's `timeout_ms`): the request may
 * have been slow by its own making, so timeouts are counted apart from the upstream's failures and
 * never add to them.
 */
export type FailureKind = 'upstream' | 'timeout';

/**
 * A circuit breaker for one upstream and route class. Closed: requests pass; consecutive upstream
 * failures and consecutive timeouts are counted apart, and either reaching `failureThreshold` opens it.
 * Open: requests are refused at once (the gateway answers 503) until the reset timeout.
 * Half-open: up to `halfOpenMaxRequests` trials pass; a success closes it, a failure opens it again.
 * The state is exported as `prism_gateway_circuit_breaker_state{upstream,class}` (0 closed, 1 half-open, 2 open),
 * failures as `prism_gateway_upstream_failures_total{upstream,class,kind}`.
 */
export class CircuitBreaker {
  private state: State = 'closed';
  private readonly counts: Record<FailureKind, number> = { upstream: 0, timeout: 0 };
  private openedAt = 0;
  private trials = 0;
  private readonly labels: { upstream: string; class: RouteClass };

  constructor(
    upstream: string,
    routeClass: RouteClass,
    private readonly settings: BreakerSettings,
    private readonly metrics: BreakerMetrics,
  ) {
    this.labels = { upstream, class: routeClass };
    metrics.state.set(this.labels, CIRCUIT_STATE.closed);
  }

  get current(): State {
    return this.state;
  }

  /** Whether a request may go to the upstream now; when true the caller must report the outcome. */
  tryAcquire(): boolean {
    if (this.state === 'closed') return true;
    if (this.state === 'open') {
      if (Date.now() - this.openedAt < this.settings.resetTimeoutMs) return false;
      this.transition('halfOpen');
    }
    if (this.trials >= this.settings.halfOpenMaxRequests) return false;
    this.trials++;
    return true;
  }

  onSuccess(): void {
    if (this.state === 'halfOpen') this.transition('closed');
    this.counts.upstream = 0;
    this.counts.timeout = 0;
  }

  onFailure(kind: FailureKind = 'upstream'): void {
    this.metrics.failures.inc({ ...this.labels, kind });
    if (this.state === 'halfOpen') return this.transition('open');
    if (this.state === 'closed' && ++this.counts[kind] >= this.settings.failureThreshold) this.transition('open');
  }

  /** The request ended without saying anything about the upstream (the client left): frees a half-open trial. */
  release(): void {
    if (this.state === 'halfOpen' && this.trials > 0) this.trials--;
  }

  private transition(to: State): void {
    this.state = to;
    this.trials = 0;
    this.counts.upstream = 0;
    this.counts.timeout = 0;
    if (to === 'open') this.openedAt = Date.now();
    this.metrics.state.set(this.labels, CIRCUIT_STATE[to]);
  }
}

export interface BreakerMetrics {
  readonly state: Gauge<'upstream' | 'class'>;
  readonly failures: Counter<'upstream' | 'class' | 'kind'>;
}

export function breakerMetrics(registers: Registry[]): BreakerMetrics {
  return {
    state: new Gauge({
      name: METRICS.circuitBreakerState,
      help: 'Circuit breaker state per upstream and route class: 0 closed, 1 half-open, 2 open',
      labelNames: ['upstream', 'class'],
      registers,
    }),
    failures: new Counter({
      name: METRICS.upstreamFailures,
      help: 'Failed upstream requests per upstream and route class; kind: upstream (refused, reset, TLS, 5xx) or timeout (the gateway stopped waiting)',
      labelNames: ['upstream', 'class', 'kind'],
      registers,
    }),
  };
}

/** One breaker per route class of an upstream. */
export function classBreakers(
  upstream: string,
  settings: BreakerSettings,
  metrics: BreakerMetrics,
): Record<RouteClass, CircuitBreaker> {
  return {
    anonymous: new CircuitBreaker(upstream, 'anonymous', settings, metrics),
    authenticated: new CircuitBreaker(upstream, 'authenticated', settings, metrics),
  };
}

/**
 * Retries allowed as a share of requests (per upstream): each request earns `ratio` of a retry,
 * up to `max` saved; a retry spends one. Retries can then never multiply the load on a sick upstream.
 */
export class RetryBudget {
  private tokens: number;
  constructor(
    private readonly ratio = 0.2,
    private readonly max = 10,
  ) {
    this.tokens = max;
  }
  earn(): void {
    if (this.tokens < this.max) this.tokens = Math.min(this.max, this.tokens + this.ratio);
  }
  trySpend(): boolean {
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
