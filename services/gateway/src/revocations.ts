import { connect, type NatsConnection, type NodeConnectionOptions } from '@nats-io/transport-node';
import {
  API_KEY_CACHE_MAX_SECONDS,
  AUTH_EVENT_SUBJECTS,
  AUTH_REVOCATION_SUBJECTS,
  AUTH_REDIS_KEYS,
  REVOCATION_TTL_MARGIN_SECONDS,
} from '#contract';
import type { Logger } from '../../runtime/src/index.js';

/** What this instance knows of a credential's revocation marker. */
export type RevocationState = 'revoked' | 'clear' | 'unknown';

/**
 * A credential found not revoked in Redis is trusted on the push channel alone for this long, then
 * asked again: the backstop if auth's events stop arriving while the channel itself stays up.
 */
const RECHECK_MS = 60_000;
/** Revocations remembered (a session's marker lives for an access-token lifetime; this covers the longest we allow). */
const REVOKED_TTL_MS = 3_600_000;
const API_KEY_REVOKED_TTL_MS = (API_KEY_CACHE_MAX_SECONDS + REVOCATION_TTL_MARGIN_SECONDS) * 1000;
const MAX_ENTRIES = 200_000;
/** Ping often enough that a silently dead connection counts as down within seconds. */
const PING_INTERVAL_MS = 2_000;

/**
 * Session and API-key revocations pushed by auth (its `session_revoked` and `api_key_revoked` events,
 * core NATS subscription on the subjects of its JetStream stream), so the gateway needs Redis only for a
 * credential it has not seen since the channel came up. While the channel is down every credential is
 * `unknown` (asked in Redis on every request, as before); when it comes back, everything seen before is
 * forgotten and asked once more, since events published meanwhile were missed. The `epoch` changes with
 * each such transition, so an answer to a question asked before it cannot mark a credential clear.
 * A pushed revocation can only refuse, never admit, so a forged event cannot grant anything.
 */
export class RevocationFeed {
  private readonly revoked = new Map<string, number>();
  private readonly known = new Map<string, number>();
  private up = false;
  private current = 0;
  private nc: NatsConnection | undefined;
  private closed = false;
  /** A subscription was refused (e.g. NATS permissions): events cannot arrive, so the channel counts as down for good. */
  private refused = false;

  constructor(private readonly log: Logger) {}

  /** Changes whenever the channel goes down or comes up. */
  get epoch(): number {
    return this.current;
  }

  /** Whether revocations arrive now. */
  get connected(): boolean {
    return this.up;
  }

  state(key: string): RevocationState {
    const until = this.revoked.get(key);
    if (until !== undefined) {
      if (until > Date.now()) return 'revoked';
      this.revoked.delete(key);
    }
    if (!this.up) return 'unknown';
    const checked = this.known.get(key);
    return checked !== undefined && performance.now() - checked < RECHECK_MS ? 'clear' : 'unknown';
  }

  /** Redis' answer for `key`, asked in `epoch`. */
  learned(key: string, revoked: boolean, epoch: number): void {
    if (revoked) this.markRevoked(key, REVOKED_TTL_MS);
    else if (this.up && epoch === this.current) {
      if (this.known.size >= MAX_ENTRIES) this.known.delete(this.known.keys().next().value!);
      this.known.set(key, performance.now());
    }
  }

  private markRevoked(key: string, ttlMs: number): void {
    if (this.revoked.size >= MAX_ENTRIES) this.revoked.delete(this.revoked.keys().next().value!);
    this.revoked.set(key, Date.now() + ttlMs);
    this.known.delete(key);
  }

  /** A revocation event (auth's outbox: `{id, subject, ..., session_id | key_id}`); anything else is dropped. */
  private onEvent(subject: string, data: Uint8Array): void {
    let e: { session_id?: unknown; key_id?: unknown };
    try {
      e = JSON.parse(new TextDecoder().decode(data)) as typeof e;
    } catch {
      return this.log.warn({ subject }, 'revocations: unreadable event dropped');
    }
    if (subject === AUTH_EVENT_SUBJECTS.sessionRevoked && typeof e?.session_id === 'string')
      this.markRevoked(AUTH_REDIS_KEYS.revokedSession(e.session_id), REVOKED_TTL_MS);
    else if (subject === AUTH_EVENT_SUBJECTS.apiKeyRevoked && typeof e?.key_id === 'string')
      this.markRevoked(AUTH_REDIS_KEYS.revokedApiKey(e.key_id), API_KEY_REVOKED_TTL_MS);
    else this.log.warn({ subject }, 'revocations: event without an id dropped');
  }

  private setUp(up: boolean): void {
    if (up && this.refused) return;
    if (this.up === up) return;
    this.up = up;
    this.current++;
    this.known.clear();
    this.log.info(
      { connected: up },
      up ? 'revocations: push channel up' : 'revocations: push channel down; checking every request in Redis',
    );
  }

  /** Connects in the background, retrying forever; until then (and whenever it is down) Redis answers. */
  start(options: NodeConnectionOptions): void {
    void (async () => {
      try {
        const nc = await connect({
          ...options,
          name: `${options.name ?? 'prism-gateway'}-revocations`,
          waitOnFirstConnect: true,
          maxReconnectAttempts: -1,
          pingInterval: PING_INTERVAL_MS,
          maxPingOut: 2,
        });
        if (this.closed) return void (await nc.close());
        this.nc = nc;
        for (const subject of AUTH_REVOCATION_SUBJECTS) {
          nc.subscribe(subject, {
            callback: (err, m) => {
              if (!err) return this.onEvent(m.subject, m.data);
              this.log.error(
                { err: err.message, subject },
                'revocations: subscription refused; checking every request in Redis',
              );
              this.refused = true;
              this.setUp(false);
            },
          });
        }
        // Up once the server has the subscriptions (a round trip after sending them).
        await nc.flush();
        this.setUp(true);
        for await (const s of nc.status()) {
          if (s.type === 'disconnect') this.setUp(false);
          else if (s.type === 'reconnect') {
            // The client re-sends its subscriptions on reconnecting; a flush confirms the server has them.
            await nc.flush().then(
              () => !nc.isClosed() && this.setUp(true),
              () => {},
            );
          }
        }
      } catch (e) {
        this.log.error(
          { err: (e as Error).message },
          'revocations: NATS connection failed; checking every request in Redis',
        );
      } finally {
        this.setUp(false);
      }
    })();
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.nc?.close().catch(() => {});
  }
}
