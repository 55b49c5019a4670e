import { connect, RetentionPolicy, StorageType, type JetStreamClient, type NatsConnection } from 'nats';
import { SUBJECTS } from '../../../infra/contract/index.js';
import type { Logger, ServiceMetrics } from '../../runtime/src/index.js';

/** One proxied (or refused) request, as published on `prism.gateway.request.<route>`. */
export interface RequestEvent {
  readonly id: string;
  /** Unix milliseconds when the request arrived. */
  readonly ts: number;
  readonly method: string;
  /** Path without the query string (queries may carry secrets). */
  readonly path: string;
  /** Route name (`auth` for /api/auth), or `none`. */
  readonly route: string;
  readonly status: number;
  readonly durationMs: number;
  readonly userId: string | undefined;
  readonly authMethod: string | undefined;
  readonly clientIp: string;
}

/** The JetStream stream that keeps the request events (created if absent). */
export const REQUEST_STREAM = 'PRISM_GATEWAY_REQUESTS';
const SUBJECT_BASE = SUBJECTS.gatewayRequest.slice(0, -1); // 'prism.gateway.request.'
const MAX_IN_FLIGHT = 256;
const PUBLISH_TIMEOUT_MS = 5_000;
const encoder = new TextEncoder();

/**
 * Request events to NATS JetStream through a bounded in-memory buffer, off the request path:
 * `push` only stores the event (or drops it when the buffer is full); a background loop publishes
 * with at most 256 awaiting their JetStream acknowledgement. Results are counted in
 * `prism_events_total{result=published|dropped|failed}`. A NATS outage never slows a request.
 */
export class EventPublisher {
  private readonly ring: (RequestEvent | undefined)[];
  private head = 0;
  private size = 0;
  private inFlight = 0;
  private scheduled = false;
  private nc: NatsConnection | undefined;
  private js: JetStreamClient | undefined;
  private closed = false;
  private readonly published;
  private readonly dropped;
  private readonly failed;

  constructor(
    capacity: number,
    metrics: ServiceMetrics,
    private readonly log: Logger,
  ) {
    this.ring = new Array(capacity);
    this.published = metrics.events.labels({ result: 'published' });
    this.dropped = metrics.events.labels({ result: 'dropped' });
    this.failed = metrics.events.labels({ result: 'failed' });
    this.published.inc(0);
    this.dropped.inc(0);
    this.failed.inc(0);
  }

  /** Connects in the background (retrying forever) and makes sure the stream exists. */
  start(servers: readonly string[]): void {
    void (async () => {
      try {
        const nc = await connect({ servers: [...servers], name: 'prism-gateway', waitOnFirstConnect: true, maxReconnectAttempts: -1 });
        if (this.closed) return void (await nc.close());
        this.nc = nc;
        await this.ensureStream(nc);
        this.js = nc.jetstream();
        this.log.info({ servers }, 'events: connected to NATS');
        this.schedule();
      } catch (e) {
        this.log.error({ err: (e as Error).message }, 'events: NATS connection failed; events will be dropped');
      }
    })();
  }

  private async ensureStream(nc: NatsConnection): Promise<void> {
    const jsm = await nc.jetstreamManager();
    try {
      await jsm.streams.info(REQUEST_STREAM);
    } catch {
      await jsm.streams.add({
        name: REQUEST_STREAM,
        subjects: [SUBJECTS.gatewayRequest],
        retention: RetentionPolicy.Limits,
        storage: StorageType.File,
        max_age: 7 * 24 * 3600 * 1e9,
        max_bytes: 1024 ** 3,
      });
    }
  }

  /** Stores the event for publishing; never blocks, never throws. */
  push(event: RequestEvent): void {
    const cap = this.ring.length;
    if (this.size === cap) {
      this.dropped.inc();
      return;
    }
    this.ring[(this.head + this.size) % cap] = event;
    this.size++;
    this.schedule();
  }

  get pending(): number {
    return this.size;
  }

  private schedule(): void {
    if (this.scheduled || !this.js) return;
    this.scheduled = true;
    setImmediate(this.drain);
  }

  private readonly drain = (): void => {
    this.scheduled = false;
    const js = this.js;
    if (!js) return;
    while (this.size > 0 && this.inFlight < MAX_IN_FLIGHT) {
      const e = this.ring[this.head]!;
      this.ring[this.head] = undefined;
      this.head = (this.head + 1) % this.ring.length;
      this.size--;
      this.inFlight++;
      js.publish(SUBJECT_BASE + e.route, encoder.encode(JSON.stringify(e)), { timeout: PUBLISH_TIMEOUT_MS }).then(this.onPublished, this.onFailed);
    }
  };

  private readonly onPublished = (): void => {
    this.inFlight--;
    this.published.inc();
    if (this.size > 0) this.schedule();
  };

  private readonly onFailed = (e: unknown): void => {
    this.inFlight--;
    this.failed.inc();
    this.log.debug({ err: (e as Error).message }, 'events: publish failed');
    if (this.size > 0) this.schedule();
  };

  /** Publishes what is buffered (up to `timeoutMs`), then closes the connection. */
  async close(timeoutMs = 2_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while ((this.size > 0 || this.inFlight > 0) && this.js && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    this.closed = true;
    await this.nc?.drain().catch(() => {});
  }
}
