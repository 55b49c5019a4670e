import { jetstreamManager, RetentionPolicy, StorageType } from '@nats-io/jetstream';
import {
  connect,
  createInbox,
  type Msg,
  type NatsConnection,
  type NodeConnectionOptions,
} from '@nats-io/transport-node';
import { GATEWAY_REQUEST_STREAM, SUBJECTS } from '#contract';
import { ensureStream, type Logger, type ServiceMetrics } from '../../runtime/src/index.js';

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
export const REQUEST_STREAM = GATEWAY_REQUEST_STREAM;
const SUBJECT_BASE = SUBJECTS.gatewayRequest.slice(0, -1); // 'prism.gateway.request.'
/** Messages awaiting their acknowledgement. */
const MAX_IN_FLIGHT = 256;
/** Events per message at most: under load a message carries many events, so acknowledgements stay few. */
const MAX_BATCH = 128;
/**
 * How long an event may wait for others to share its message. Publishing once per event-loop turn
 * instead put a NATS write, a JetStream store and an acknowledgement behind every few requests,
 * which cost the gateway and nats-server together more CPU than the proxying itself.
 */
const LINGER_MS = 10;
const ACK_TIMEOUT_MS = 5_000;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Request events to NATS JetStream through a bounded in-memory buffer, off the request path:
 * `push` only stores the event (or drops it when the buffer is full); the buffer is published when
 * it holds 128 events or its oldest event is 10 ms old, the events of one route in one message
 * (newline-delimited JSON, one event per line), with at most 256 messages awaiting their JetStream
 * acknowledgement. Acknowledgements come back on one inbox subscription (asynchronous publishing,
 * as JetStream clients do it) rather than a request/reply per message. Under light load a message
 * holds the few events of 10 ms; under heavy load up to 128, so the per-event cost stays small. Results are
 * counted per event in `prism_events_total{result=published|dropped|failed}`: failed means a
 * JetStream error answer, no answer within 5 s, or no connection. A NATS outage never slows a request.
 */
export class EventPublisher {
  private readonly ring: (RequestEvent | undefined)[];
  private head = 0;
  private size = 0;
  private scheduled = false;
  private linger: NodeJS.Timeout | undefined;
  private nc: NatsConnection | undefined;
  /** False while the connection is down: events then wait in the buffer instead of the client's. */
  private connected = false;
  private inbox = '';
  private seq = 0;
  /** Publish sequence → [time sent, events in the message], for the messages awaiting their acknowledgement. */
  private readonly awaiting = new Map<number, [number, number]>();
  private sweeper: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly published;
  private readonly dropped;
  private readonly failed;

  constructor(
    capacity: number,
    metrics: ServiceMetrics,
    private readonly log: Logger,
  ) {
    this.ring = new Array<RequestEvent | undefined>(capacity);
    this.published = metrics.events.labels({ result: 'published' });
    this.dropped = metrics.events.labels({ result: 'dropped' });
    this.failed = metrics.events.labels({ result: 'failed' });
    this.published.inc(0);
    this.dropped.inc(0);
    this.failed.inc(0);
  }

  /** Connects in the background (retrying forever) and makes sure the stream exists. */
  start(options: NodeConnectionOptions, streamReplicas = 1): void {
    void (async () => {
      try {
        const nc = await connect({ ...options, waitOnFirstConnect: true, maxReconnectAttempts: -1 });
        if (this.closed) return void (await nc.close());
        // Without the stream, publishing goes on (the acknowledgements say why events fail) while it is tried
        // again: a NATS cluster started with the gateway elects its JetStream leader only once a quorum is up.
        const ready = await this.tryStream(nc, streamReplicas, 1);
        this.inbox = `${createInbox(options.inboxPrefix)}.`;
        nc.subscribe(`${this.inbox}*`, { callback: this.onAck });
        this.sweeper = setInterval(this.sweep, 1_000).unref();
        this.nc = nc;
        this.connected = true;
        void this.follow(nc);
        this.log.info({ servers: options.servers }, 'events: connected to NATS');
        this.schedule();
        if (!ready) void this.retryStream(nc, streamReplicas);
      } catch (e) {
        this.log.error({ err: (e as Error).message }, 'events: NATS connection failed; events will be dropped');
      }
    })();
  }

  /**
   * While NATS is away the buffer keeps what arrives (up to its capacity, the rest is dropped and
   * counted) and nothing is handed to the client, whose own reconnect buffer would lose it; once the
   * connection is back the buffer is published in order.
   */
  private async follow(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect') {
        this.connected = false;
        this.log.warn(
          { buffered: this.size, capacity: this.ring.length },
          'events: NATS connection lost; buffering events',
        );
      } else if (s.type === 'reconnect') {
        this.connected = true;
        this.log.info({ buffered: this.size }, 'events: NATS connection back; publishing the buffer');
        this.schedule();
      }
    }
  }

  /** One attempt at the stream; failures are logged (the first, then every tenth). */
  private tryStream(nc: NatsConnection, replicas: number, attempt: number): Promise<boolean> {
    return this.ensureStream(nc, replicas).then(
      () => true,
      (e: Error) => {
        if (attempt === 1 || attempt % 10 === 0)
          this.log.warn({ err: e.message, attempt }, `events: cannot check or create stream ${REQUEST_STREAM}`);
        return false;
      },
    );
  }

  /** Tries until the stream is there, backing off from 0.5 s to 30 s, until the publisher closes. */
  private async retryStream(nc: NatsConnection, replicas: number): Promise<void> {
    for (let attempt = 2; ; attempt++) {
      await new Promise((r) => setTimeout(r, Math.min(30_000, 250 * 2 ** Math.min(attempt - 1, 7))).unref());
      if (this.closed || nc.isClosed()) return;
      if (await this.tryStream(nc, replicas, attempt)) {
        this.log.info({ attempt }, `events: stream ${REQUEST_STREAM} ready`);
        return;
      }
    }
  }

  private async ensureStream(nc: NatsConnection, replicas: number): Promise<void> {
    const jsm = await jetstreamManager(nc);
    await ensureStream(
      jsm,
      {
        name: REQUEST_STREAM,
        subjects: [SUBJECTS.gatewayRequest],
        retention: RetentionPolicy.Limits,
        storage: StorageType.File,
        max_age: 7 * 24 * 3600 * 1e9,
        max_bytes: 1024 ** 3,
      },
      replicas,
      this.log,
    );
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

  /** Publishes at once when a full message is waiting, otherwise when the oldest event has lingered. */
  private schedule(): void {
    if (this.scheduled || !this.nc || !this.connected) return;
    if (this.size >= MAX_BATCH) {
      this.scheduled = true;
      setImmediate(this.drain);
    } else {
      this.linger ??= setTimeout(this.drain, LINGER_MS);
    }
  }

  private readonly drain = (): void => {
    this.scheduled = false;
    clearTimeout(this.linger);
    this.linger = undefined;
    const nc = this.nc;
    if (!nc || !this.connected) return;
    while (this.size > 0 && this.awaiting.size < MAX_IN_FLIGHT) {
      // Take up to MAX_BATCH events and group them by route, keeping their order.
      const batches = new Map<string, string[]>();
      for (let n = 0; n < MAX_BATCH && this.size > 0; n++) {
        const e = this.ring[this.head]!;
        this.ring[this.head] = undefined;
        this.head = (this.head + 1) % this.ring.length;
        this.size--;
        const lines = batches.get(e.route);
        if (lines) lines.push(JSON.stringify(e));
        else batches.set(e.route, [JSON.stringify(e)]);
      }
      for (const [route, lines] of batches) {
        const seq = ++this.seq;
        try {
          nc.publish(SUBJECT_BASE + route, encoder.encode(lines.join('\n')), { reply: this.inbox + seq });
          this.awaiting.set(seq, [Date.now(), lines.length]);
        } catch (err) {
          this.failed.inc(lines.length);
          this.log.debug({ err: (err as Error).message }, 'events: publish failed');
        }
      }
    }
  };

  /** A JetStream acknowledgement (`{"stream":..,"seq":..}`) or error (`{"error":..}`, or a 503 no-responders status). */
  private readonly onAck = (err: Error | null, msg: Msg): void => {
    if (err) return;
    const seq = Number(msg.subject.slice(this.inbox.length));
    const sent = this.awaiting.get(seq);
    if (sent === undefined) return;
    this.awaiting.delete(seq);
    const ok = msg.data.length > 0 && !msg.headers?.hasError && !decoder.decode(msg.data).includes('"error"');
    if (ok) this.published.inc(sent[1]);
    else this.failed.inc(sent[1]);
    if (this.size > 0) this.schedule();
  };

  private readonly sweep = (): void => {
    const limit = Date.now() - ACK_TIMEOUT_MS;
    for (const [seq, [at, events]] of this.awaiting) {
      if (at > limit) break; // insertion order is send order
      this.awaiting.delete(seq);
      this.failed.inc(events);
    }
    if (this.size > 0) this.schedule();
  };

  /** Publishes what is buffered (up to `timeoutMs`), then closes the connection. */
  async close(timeoutMs = 2_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while ((this.size > 0 || this.awaiting.size > 0) && this.nc && Date.now() < until)
      await new Promise((r) => setTimeout(r, 20));
    this.closed = true;
    clearInterval(this.sweeper);
    clearTimeout(this.linger);
    await this.nc?.drain().catch(() => {});
  }
}
