import { jetstream, jetstreamManager, type JetStreamClient } from '@nats-io/jetstream';
import {
  connect,
  headers as natsHeaders,
  type NatsConnection,
  type NodeConnectionOptions,
} from '@nats-io/transport-node';
import { AUTH_EVENTS_STREAM, SUBJECTS } from '#contract';
import { ensureStream, type Logger, type ServiceMetrics } from '../../runtime/src/index.js';
import { query, type Db, type Tx } from './db.js';
import type { EventSubject } from './events.js';

/**
 * Transactional outbox. {@link appendEvent} writes an event in the caller's transaction, so an
 * event exists exactly when its change was committed. {@link OutboxPublisher} sends unpublished
 * rows to JetStream in order with `Nats-Msg-Id` = the row's msg_id: a publish retried after a
 * lost acknowledgement is dropped as a duplicate by the stream, so nothing is lost or doubled.
 */
export async function appendEvent(
  tx: Tx,
  subject: EventSubject,
  payload: Record<string, unknown>,
  requestId?: string,
): Promise<void> {
  await tx.query('INSERT INTO outbox (subject, payload, headers) VALUES ($1, $2, $3)', [
    subject,
    JSON.stringify({ ...payload, occurred_at: new Date().toISOString() }),
    JSON.stringify(requestId ? { 'x-request-id': requestId } : {}),
  ]);
}

interface OutboxRow {
  id: string;
  msg_id: string;
  subject: string;
  payload: unknown;
  headers: Record<string, string>;
}

export interface PublisherOptions {
  /** Servers, TLS and inbox prefix (natsConnectOptions). */
  readonly nats: NodeConnectionOptions;
  /** Replicas of the auth events stream (PRISM_NATS_STREAM_REPLICAS). @default 1 */
  readonly streamReplicas?: number;
  /** Poll interval for rows written by other replicas or left by a failure. @default 1000 ms */
  readonly pollMs?: number;
  /** Longest wait between retries while NATS is down. @default 5000 ms */
  readonly maxBackoffMs?: number;
  /** Per-publish acknowledgement timeout. @default 2000 ms */
  readonly publishTimeoutMs?: number;
  readonly batchSize?: number;
}

export class OutboxPublisher {
  private nc: NatsConnection | undefined;
  private js: JetStreamClient | undefined;
  private streamReady = false;
  private running = false;
  private wake: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  private failures = 0;

  constructor(
    private readonly db: Db,
    private readonly opts: PublisherOptions,
    private readonly log: Logger,
    private readonly metrics?: ServiceMetrics,
  ) {}

  /**
   * Starts the loop and returns at once: the connection is made in the background and waits
   * for NATS if it is down, so start-up and registrations never depend on NATS.
   */
  start(): void {
    this.running = true;
    this.loop = this.run();
  }

  private async connectOnce(): Promise<JetStreamClient> {
    if (this.js) return this.js;
    this.nc = await connect({
      ...this.opts.nats,
      name: 'prism-auth-outbox',
      reconnect: true,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 500,
      timeout: 2_000,
    });
    const nc = this.nc;
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === 'disconnect' || s.type === 'reconnect')
          this.log.warn({ nats: s.type }, 'NATS connection status');
        if (s.type === 'reconnect') this.kick();
      }
    })();
    this.js = jetstream(nc);
    return this.js;
  }

  /** Publishes promptly after a commit (otherwise rows wait for the next poll). */
  kick(): void {
    this.wake?.();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.kick();
    await this.loop;
    if (this.nc && !this.nc.isClosed()) await this.nc.drain().catch(() => this.nc?.close());
  }

  /** Rows not yet acknowledged by JetStream. */
  async pending(): Promise<number> {
    const r = await query<{ n: string }>(this.db, 'SELECT count(*) AS n FROM outbox WHERE published_at IS NULL');
    return Number(r.rows[0]!.n);
  }

  private async run(): Promise<void> {
    while (this.running) {
      let sent = 0;
      try {
        await this.connectOnce();
        await this.ensureStream();
        sent = await this.publishBatch();
        this.failures = 0;
      } catch (e) {
        this.failures++;
        if (this.failures === 1 || this.failures % 20 === 0)
          this.log.warn({ err: (e as Error).message, failures: this.failures }, 'outbox publish failed; retrying');
      }
      if (sent > 0 && this.failures === 0) continue;
      const backoff = this.failures
        ? Math.min(this.opts.maxBackoffMs ?? 5_000, 100 * 2 ** Math.min(this.failures, 10))
        : (this.opts.pollMs ?? 1_000);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, backoff);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }

  /**
   * Creates the stream, or raises its replicas to the configured number, unless another stream
   * already captures the auth subjects (an operator's own: left as it is).
   */
  private async ensureStream(): Promise<void> {
    if (this.streamReady) return;
    const jsm = await jetstreamManager(this.nc!);
    const subjects = [SUBJECTS.authUser, SUBJECTS.authToken];
    const probes = ['prism.auth.user.probe', 'prism.auth.token.probe'];
    const found = await Promise.all(probes.map((s) => jsm.streams.find(s).catch(() => undefined)));
    if (found.every(Boolean) && found.some((name) => name !== AUTH_EVENTS_STREAM)) {
      this.streamReady = true;
      return;
    }
    await ensureStream(
      jsm,
      {
        name: AUTH_EVENTS_STREAM,
        subjects,
        // Nats-Msg-Id de-duplication window: longer than any retry of one row.
        duplicate_window: 10 * 60 * 1_000_000_000,
        max_age: 30 * 24 * 3600 * 1_000_000_000,
      },
      this.opts.streamReplicas ?? 1,
      this.log,
    );
    this.streamReady = true;
  }

  /** One batch in id order; stops at the first failure so events keep their order. */
  private async publishBatch(): Promise<number> {
    const { rows } = await query<OutboxRow>(
      this.db,
      'SELECT id, msg_id, subject, payload, headers FROM outbox WHERE published_at IS NULL ORDER BY id LIMIT $1',
      [this.opts.batchSize ?? 100],
    );
    let sent = 0;
    for (const row of rows) {
      const h = natsHeaders();
      for (const [k, v] of Object.entries(row.headers)) h.set(k, v);
      try {
        await this.js!.publish(
          row.subject,
          JSON.stringify({ id: row.msg_id, subject: row.subject, ...(row.payload as object) }),
          {
            msgID: row.msg_id,
            headers: h,
            timeout: this.opts.publishTimeoutMs ?? 2_000,
          },
        );
      } catch (e) {
        this.metrics?.events.inc({ result: 'failed' });
        await query(this.db, 'UPDATE outbox SET attempts = attempts + 1, last_error = $2 WHERE id = $1', [
          row.id,
          (e as Error).message.slice(0, 500),
        ]).catch(() => undefined);
        throw e;
      }
      await query(this.db, 'UPDATE outbox SET published_at = now(), attempts = attempts + 1 WHERE id = $1', [row.id]);
      this.metrics?.events.inc({ result: 'published' });
      sent++;
    }
    return sent;
  }
}
