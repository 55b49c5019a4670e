import { Gauge, type Registry } from 'prom-client';
import { CIRCUIT_STATE, METRICS } from '#contract';

export interface BreakerSettings {
  /** Consecutive failures (5xx, timeouts, connection errors) that open the circuit. */
  readonly failureThreshold: number;
  /** Time the circuit stays open before letting trial requests through. */
  readonly resetTimeoutMs: number;
  /** Trial requests allowed at once while half-open. */
  readonly halfOpenMaxRequests: number;
}

type State = keyof typeof CIRCUIT_STATE;

/**
 * A circuit breaker for one upstream. Closed: requests pass, consecutive failures are counted.
 * Open: requests are refused at once (the gateway answers 503) until the reset timeout.
 * Half-open: up to `halfOpenMaxRequests` trials pass; a success closes it, a failure opens it again.
 * The state is exported as `prism_gateway_circuit_breaker_state{upstream}` (0 closed, 1 half-open, 2 open).
 */
export class CircuitBreaker {
  private state: State = 'closed';
  private failures = 0;
  private openedAt = 0;
  private trials = 0;

  constructor(
    private readonly upstream: string,
    private readonly settings: BreakerSettings,
    private readonly gauge: Gauge<'upstream'>,
  ) {
    gauge.set({ upstream }, CIRCUIT_STATE.closed);
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
    this.failures = 0;
  }

  onFailure(): void {
    if (this.state === 'halfOpen') return this.transition('open');
    if (this.state === 'closed' && ++this.failures >= this.settings.failureThreshold) this.transition('open');
  }

  /** The request ended without saying anything about the upstream (the client left): frees a half-open trial. */
  release(): void {
    if (this.state === 'halfOpen' && this.trials > 0) this.trials--;
  }

  private transition(to: State): void {
    this.state = to;
    this.trials = 0;
    this.failures = 0;
    if (to === 'open') this.openedAt = Date.now();
    this.gauge.set({ upstream: this.upstream }, CIRCUIT_STATE[to]);
  }
}

export function breakerGauge(registers: Registry[]): Gauge<'upstream'> {
  return new Gauge({ name: METRICS.circuitBreakerState, help: 'Circuit breaker state per upstream: 0 closed, 1 half-open, 2 open', labelNames: ['upstream'], registers });
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
