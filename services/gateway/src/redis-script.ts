import { createHash } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import RedisParser from 'redis-parser';

export interface ScriptPipelineOptions {
  readonly host: string;
  readonly port: number;
  /** Sent with AUTH on every connect ('' for none), as this ACL user when given. */
  readonly password: string;
  readonly username?: string;
  /** The Lua script: loaded on every connect, called with EVALSHA. */
  readonly lua: string;
  /** A call unanswered this long drops the connection (its replies can no longer be matched). */
  readonly timeoutMs: number;
  /** Name shown by CLIENT LIST. */
  readonly connectionName: string;
  /** Told why the connection went down (the caller rate-limits its logging). */
  readonly onDown?: (err: Error) => void;
}

/** Why a call failed without an answer from the script: not connected, timed out, connection lost. */
export class ScriptUnavailable extends Error {}

type Reply = (err: Error | null, reply: unknown) => void;

/** Calls waiting for their replies at most; beyond, calls fail at once rather than queue. */
const MAX_PENDING = 50_000;
const MAX_BACKOFF_MS = 2_000;

/**
 * One Redis connection that runs one Lua script, pipelined: the gateway's per-request
 * rate-limit call. It exists for speed: through ioredis the call cost the gateway 6-10 µs of CPU,
 * this costs about 2 (measured in `npm run bench:gateway`'s breakdown), and it is on every request.
 * General Redis use in the gateway stays on ioredis.
 *
 * Calls made in one event-loop turn go out in one write, and RESP answers in order, so replies are
 * matched first-in first-out (parsed by redis-parser, ioredis' own parser). There is no offline
 * queue: while the connection is down, calls fail at once, so the caller's Redis-failure policy
 * applies immediately. Every connect sends AUTH and SCRIPT LOAD (a restarted Redis has no scripts)
 * before any call; a NOSCRIPT answer (SCRIPT FLUSH) loads it again. A reply later than `timeoutMs`
 * drops the connection, failing what is pending, and reconnects with backoff.
 */
export class ScriptPipeline {
  readonly sha: string;
  private readonly head: string;
  private sock: Socket | undefined;
  private ready = false;
  private closed = false;
  private attempts = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private readonly sweeper: NodeJS.Timeout;
  /** Reply handlers in send order, with when each was sent; `first` is the oldest unanswered. */
  private replies: Reply[] = [];
  private sentAt: number[] = [];
  private first = 0;
  private out = '';
  private flushScheduled = false;
  private readyWaiters: (() => void)[] = [];

  constructor(private readonly options: ScriptPipelineOptions) {
    this.sha = createHash('sha1').update(options.lua).digest('hex');
    this.head = `$7\r\nEVALSHA\r\n$40\r\n${this.sha}\r\n`;
    this.sweeper = setInterval(this.sweep, Math.max(10, options.timeoutMs / 2)).unref();
    this.connect();
  }

  /** Whether calls can be made now (connected, authenticated, script loaded). */
  get connected(): boolean {
    return this.ready;
  }

  /** Resolves when connected, or rejects after `timeoutMs`. */
  waitReady(timeoutMs: number): Promise<void> {
    if (this.ready) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no Redis connection within ${timeoutMs} ms`)), timeoutMs);
      this.readyWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** EVALSHA with `keys` (any number: the script reads KEYS) and `args`; the script's reply. */
  call(keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    if (!this.ready) return Promise.reject(new ScriptUnavailable('Redis not connected'));
    if (this.replies.length - this.first >= MAX_PENDING)
      return Promise.reject(new ScriptUnavailable('too many Redis calls waiting'));
    let cmd = `*${3 + keys.length + args.length}\r\n${this.head}${bulk(String(keys.length))}`;
    for (const k of keys) cmd += bulk(k);
    for (const a of args) cmd += bulk(String(a));
    return new Promise((resolve, reject) => this.send(cmd, (err, reply) => (err ? reject(err) : resolve(reply))));
  }

  /** PING over the same connection (readiness). */
  ping(): Promise<void> {
    if (!this.ready) return Promise.reject(new ScriptUnavailable('Redis not connected'));
    return new Promise((resolve, reject) =>
      this.send('*1\r\n$4\r\nPING\r\n', (err) => (err ? reject(err) : resolve())),
    );
  }

  close(): void {
    this.closed = true;
    clearInterval(this.sweeper);
    clearTimeout(this.reconnectTimer);
    this.sock?.end('*1\r\n$4\r\nQUIT\r\n');
    this.sock?.destroySoon();
  }

  private send(cmd: string, onReply: Reply): void {
    this.out += cmd;
    this.replies.push(onReply);
    this.sentAt.push(performance.now());
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flush);
    }
  }

  private readonly flush = (): void => {
    this.flushScheduled = false;
    if (this.out === '') return;
    const out = this.out;
    this.out = '';
    this.sock?.write(out);
  };

  private connect(): void {
    if (this.closed) return;
    const sock = connect({ host: this.options.host, port: this.options.port, noDelay: true });
    this.sock = sock;
    const parser = new RedisParser({
      returnReply: (reply: unknown) => this.answer(null, reply),
      returnError: (err: Error) => this.answer(err, null),
      returnFatalError: (err: Error) => sock.destroy(err),
    });
    sock.on('data', (chunk: Buffer) => parser.execute(chunk));
    sock.once('connect', () => {
      // The handshake goes first on the pipeline; calls are refused until its last reply.
      const { username, password } = this.options;
      const auth = username
        ? `*3\r\n${bulk('AUTH')}${bulk(username)}${bulk(password)}`
        : `*2\r\n${bulk('AUTH')}${bulk(password)}`;
      if (password !== '')
        this.send(auth, (err) => err && sock.destroy(new Error(`Redis AUTH failed: ${err.message}`)));
      this.send(`*3\r\n${bulk('CLIENT')}${bulk('SETNAME')}${bulk(this.options.connectionName)}`, () => {});
      this.send(`*3\r\n${bulk('SCRIPT')}${bulk('LOAD')}${bulk(this.options.lua)}`, (err) => {
        if (err) return sock.destroy(new Error(`Redis SCRIPT LOAD failed: ${err.message}`));
        this.ready = true;
        this.attempts = 0;
        for (const w of this.readyWaiters.splice(0)) w();
      });
    });
    sock.on('error', () => {}); // reported by 'close'
    sock.once('close', () => this.down(sock, sock.errored ?? new Error('Redis connection closed')));
  }

  /** The connection is gone: fail everything pending and reconnect. */
  private down(sock: Socket, cause: Error): void {
    if (this.sock !== sock) return;
    this.sock = undefined;
    this.ready = false;
    this.out = '';
    const pending = this.replies.slice(this.first);
    this.replies = [];
    this.sentAt = [];
    this.first = 0;
    const err = new ScriptUnavailable(`Redis connection lost: ${cause.message}`);
    for (const r of pending) r(err, null);
    if (this.closed) return;
    this.options.onDown?.(cause);
    const delay = Math.min(MAX_BACKOFF_MS, 50 * 2 ** this.attempts++);
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
  }

  private answer(err: Error | null, reply: unknown): void {
    const r = this.replies[this.first];
    if (r === undefined) return;
    this.replies[this.first] = undefined as unknown as Reply;
    this.first++;
    // Compact now and then rather than shifting on every reply.
    if (this.first > 1024 && this.first * 2 > this.replies.length) {
      this.replies = this.replies.slice(this.first);
      this.sentAt = this.sentAt.slice(this.first);
      this.first = 0;
    }
    if (err?.message.startsWith('NOSCRIPT')) {
      // Someone flushed the scripts: load it again for the next calls; this one fails.
      this.send(`*3\r\n${bulk('SCRIPT')}${bulk('LOAD')}${bulk(this.options.lua)}`, () => {});
      return r(new ScriptUnavailable('Redis lost the script (NOSCRIPT); reloading'), null);
    }
    r(err, reply);
  }

  private readonly sweep = (): void => {
    const oldest = this.sentAt[this.first];
    if (oldest !== undefined && performance.now() - oldest > this.options.timeoutMs)
      this.sock?.destroy(new Error(`no reply within ${this.options.timeoutMs} ms`));
  };
}

/** A RESP bulk string. */
function bulk(s: string): string {
  return `$${Buffer.byteLength(s)}\r\n${s}\r\n`;
}
