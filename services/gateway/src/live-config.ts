import { type CONFIG_KEYS, configKeySpec, GRPC_APIS } from '#contract';
import { grpc, loadProto, type Logger } from '../../runtime/src/index.js';
import type { ConfigChange__Output as ConfigChange } from '../../runtime/src/proto/prism/config/v1/ConfigChange.js';
import type { ConfigServiceClient } from '../../runtime/src/proto/prism/config/v1/ConfigService.js';
import type { ListResponse__Output as ListResponse } from '../../runtime/src/proto/prism/config/v1/ListResponse.js';
import type { RateLimitSettings } from './rate-limit.js';

/** What operators change at run time through the config service (keys in infra/contract/config-keys.ts). */
export interface LiveSettings {
  readonly rateLimit: RateLimitSettings;
  readonly maintenance: { readonly enabled: boolean; readonly message: string };
  readonly logLevel: string;
}

export const DEFAULT_MAINTENANCE_MESSAGE = 'Prism is down for maintenance; please try again later';

/** Config key (checked against the contract's) → where its value goes in {@link LiveSettings}. */
type Setter = (s: Mutable, v: never) => void;
const APPLY: Readonly<Record<string, Setter>> = {
  'rate_limit.enabled': (s, v: boolean) => (s.rateLimit.enabled = v),
  'rate_limit.requests_per_second': (s, v: number) => (s.rateLimit.requestsPerSecond = v),
  'rate_limit.burst': (s, v: number) => (s.rateLimit.burst = v),
  'rate_limit.on_redis_failure': (s, v: 'open' | 'closed') => (s.rateLimit.onRedisFailure = v),
  'maintenance.enabled': (s, v: boolean) => (s.maintenance.enabled = v),
  'maintenance.message': (s, v: string) => (s.maintenance.message = v),
  'log.level': (s, v: string) => (s.logLevel = v),
} satisfies Partial<Record<keyof typeof CONFIG_KEYS, Setter>>;
/** The gateway's own values win over the global ones. */
const SCOPES = ['global', 'gateway'] as const;
/** The keys and scopes the gateway reads: the contract declares no live key nobody reads (a test checks). */
export const GATEWAY_LIVE_KEYS: readonly string[] = Object.keys(APPLY);
export const GATEWAY_LIVE_SCOPES: readonly string[] = SCOPES;

type Mutable = {
  rateLimit: { -readonly [K in keyof RateLimitSettings]: RateLimitSettings[K] };
  maintenance: { enabled: boolean; message: string };
  logLevel: string;
};

export interface LiveConfigOptions {
  readonly address: string;
  readonly credentials: grpc.ChannelCredentials;
  readonly environment: string;
  /** gateway.yaml's values, which hold until the config service says otherwise (and again after a delete). */
  readonly base: LiveSettings;
  /** Called with the settings in force after every change (and once after the first read). */
  readonly apply: (s: LiveSettings) => void;
  readonly log: Logger;
  /** Longest wait between two attempts to reach the config service. @default 30 s */
  readonly maxBackoffMs?: number;
  /** How often the values are listed again while the watch holds, to catch a change whose notice was lost. @default 60 s */
  readonly resyncMs?: number;
  /** After each re-read: the `<scope>/<key>`s found behind the config service (empty: in step). */
  readonly onResync?: (behind: readonly string[]) => void;
}

/**
 * The gateway's settings from the config service: `List` reads the values in force for the
 * environment (scopes `global` and `gateway`; the gateway's own win), `Watch` follows each change
 * as it is made. A value is checked against its key's schema from the contract before it is used;
 * a value that fails is logged and ignored. A deleted value falls back to the global one, then to
 * gateway.yaml's. When the config service is unreachable the gateway keeps what it has and tries
 * again with backoff, listing afresh once it is back, so no change made meanwhile is missed.
 *
 * The watch carries notices that travel over NATS between the config service's replicas; one can be
 * lost (NATS down while a change is committed). So the values are listed again whenever the watch is
 * re-opened (the config service ends watches after its NATS connection comes back) and every
 * `resyncMs`; versions are compared, and what was behind is applied, logged and reported (`onResync`).
 */
export class LiveConfig {
  private readonly client: ConfigServiceClient;
  /** `<scope>/<key>` → the newest version seen and its value (undefined once deleted). */
  private readonly entries = new Map<string, { version: number; value: unknown }>();
  private stream: grpc.ClientReadableStream<ConfigChange> | undefined;
  private retry: NodeJS.Timeout | undefined;
  private failures = 0;
  private closed = false;
  private current = '';
  private synced = false;
  private resyncTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: LiveConfigOptions) {
    const { ConfigService } = loadProto(GRPC_APIS.config.proto).prism.config.v1;
    // gRPC's own reconnection backoff grows to 2 minutes; the retry loop here decides the pace instead.
    this.client = new ConfigService(options.address, options.credentials, { 'grpc.max_reconnect_backoff_ms': 2_000 });
  }

  /** Reads the current values (waiting at most `firstReadMs`), then follows changes in the background. */
  async start(firstReadMs: number): Promise<void> {
    await this.connect(firstReadMs);
    this.resyncTimer = setInterval(() => void this.resync(), this.options.resyncMs ?? 60_000).unref();
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.retry);
    clearInterval(this.resyncTimer);
    this.stream?.cancel();
    this.client.close();
  }

  /** Opens the watch, then lists: a change made between the two arrives on the watch and is kept by version. */
  private async connect(listDeadlineMs: number): Promise<void> {
    if (this.closed) return;
    const stream = this.client.Watch({ environment: this.options.environment, service: '', keyPrefix: '' });
    this.stream = stream;
    stream.on('data', (c: ConfigChange) =>
      this.take(c.service, c.key, c.version, c.action === 'delete' ? '' : c.valueJson),
    );
    stream.on(
      'error',
      (e: grpc.ServiceError) => e.code !== grpc.status.CANCELLED && this.lost(stream, e.details || e.message),
    );
    stream.on('end', () => this.lost(stream, 'watch ended'));
    // The service sends its headers once the watch's subscription is live: only then is the list complete.
    const watching = await new Promise<boolean>((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(timer);
        resolve(ok);
      };
      const timer = setTimeout(done, listDeadlineMs, false);
      stream.once('metadata', () => done(true));
      stream.once('error', () => done(false));
    });
    if (!watching) return this.lost(stream, 'watch not established');
    try {
      await this.reread(listDeadlineMs);
      if (this.failures > 0)
        this.options.log.info({ address: this.options.address }, 'config service reachable again; settings re-read');
      this.failures = 0;
    } catch (e) {
      this.lost(stream, (e as grpc.ServiceError).details || (e as Error).message);
    }
  }

  /** Lists the values in force and applies what is newer than what the watch brought; reports what was behind. */
  private async reread(deadlineMs: number): Promise<void> {
    const before = new Map([...this.entries].map(([id, e]) => [id, e.version]));
    const { entries } = await new Promise<ListResponse>((resolve, reject) =>
      this.client.List(
        { environment: this.options.environment, service: '', keyPrefix: '' },
        { deadline: Date.now() + deadlineMs },
        (err, res) => (res ? resolve(res) : reject(err ?? new Error('List returned nothing'))),
      ),
    );
    const behind: string[] = [];
    const listed = new Set<string>();
    for (const e of entries) {
      listed.add(`${e.service}/${e.key}`);
      if (this.take(e.service, e.key, e.version, e.valueJson, false)) behind.push(`${e.service}/${e.key}`);
    }
    // Deleted meanwhile: known with a value, not listed, and not changed by the watch while the list was read.
    for (const [id, known] of this.entries) {
      if (listed.has(id) || known.value === undefined || before.get(id) !== known.version) continue;
      this.entries.set(id, { version: known.version, value: undefined });
      behind.push(id);
    }
    this.publish();
    if (!this.synced) {
      this.synced = true;
      return;
    }
    if (behind.length > 0)
      this.options.log.warn(
        { behind },
        'settings were behind the config service (a change notice was lost); caught up',
      );
    this.options.onResync?.(behind);
  }

  /** The periodic re-read, while the watch holds (a broken watch re-reads when it is re-opened). */
  private async resync(): Promise<void> {
    if (this.closed || !this.stream || !this.synced) return;
    await this.reread(5_000).catch((e: Error) =>
      this.options.log.debug({ err: e.message }, 'periodic config re-read failed; the watch decides'),
    );
  }

  private lost(stream: grpc.ClientReadableStream<ConfigChange>, why: string): void {
    if (this.closed || this.stream !== stream) return;
    this.stream = undefined;
    stream.cancel();
    // A watch the service ended (its NATS connection came back, or it drains) is re-opened at once.
    const ended = why === 'watch ended';
    const delay = ended ? 100 : Math.min(this.options.maxBackoffMs ?? 30_000, 500 * 2 ** this.failures++);
    if (ended)
      this.options.log.info(
        { address: this.options.address },
        'config watch ended by the service; re-opening it and re-reading the settings',
      );
    else if (this.failures === 1)
      this.options.log.warn(
        { address: this.options.address, err: why },
        'config service unreachable; keeping the settings in force and retrying',
      );
    this.retry = setTimeout(() => void this.connect(5_000), delay);
  }

  /** Records one value (JSON text; '' for a deleted one) if it is newer than what is known; true if it was. */
  private take(scope: string, key: string, version: number, valueJson: string, publish = true): boolean {
    if (!(SCOPES as readonly string[]).includes(scope) || !(key in APPLY)) return false;
    const id = `${scope}/${key}`;
    const known = this.entries.get(id);
    if (known && known.version >= version) return false;
    let value: unknown;
    if (valueJson !== '') {
      const parsed = configKeySpec(key)!.schema.safeParse(safeJson(valueJson));
      if (!parsed.success) {
        this.options.log.warn({ scope, key, version }, 'config value does not match its schema; ignored');
        return false;
      }
      value = parsed.data;
    }
    this.entries.set(id, { version, value });
    if (publish) this.publish();
    return true;
  }

  /** Computes the settings in force and hands them over when they changed. */
  private publish(): void {
    const b = this.options.base;
    const s: Mutable = { rateLimit: { ...b.rateLimit }, maintenance: { ...b.maintenance }, logLevel: b.logLevel };
    for (const key of Object.keys(APPLY)) {
      for (const scope of [...SCOPES].reverse()) {
        const v = this.entries.get(`${scope}/${key}`)?.value;
        if (v !== undefined) {
          APPLY[key]!(s, v as never);
          break;
        }
      }
    }
    const text = JSON.stringify(s);
    if (text === this.current) return;
    const first = this.current === '';
    this.current = text;
    if (!first) this.options.log.info({ settings: s }, 'settings changed by the config service');
    this.options.apply(s);
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
