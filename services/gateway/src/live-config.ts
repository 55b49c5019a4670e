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

type Mutable = { rateLimit: { -readonly [K in keyof RateLimitSettings]: RateLimitSettings[K] }; maintenance: { enabled: boolean; message: string }; logLevel: string };

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
}

/**
 * The gateway's settings from the config service: `List` reads the values in force for the
 * environment (scopes `global` and `gateway`; the gateway's own win), `Watch` follows each change
 * as it is made. A value is checked against its key's schema from the contract before it is used;
 * a value that fails is logged and ignored. A deleted value falls back to the global one, then to
 * gateway.yaml's. When the config service is unreachable the gateway keeps what it has and tries
 * again with backoff, listing afresh once it is back, so no change made meanwhile is missed.
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

  constructor(private readonly options: LiveConfigOptions) {
    const { ConfigService } = loadProto(GRPC_APIS.config.proto).prism.config.v1;
    // gRPC's own reconnection backoff grows to 2 minutes; the retry loop here decides the pace instead.
    this.client = new ConfigService(options.address, options.credentials, { 'grpc.max_reconnect_backoff_ms': 2_000 });
  }

  /** Reads the current values (waiting at most `firstReadMs`), then follows changes in the background. */
  async start(firstReadMs: number): Promise<void> {
    await this.connect(firstReadMs);
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.retry);
    this.stream?.cancel();
    this.client.close();
  }

  /** Opens the watch, then lists: a change made between the two arrives on the watch and is kept by version. */
  private async connect(listDeadlineMs: number): Promise<void> {
    if (this.closed) return;
    const stream = this.client.Watch({ environment: this.options.environment, service: '', keyPrefix: '' });
    this.stream = stream;
    stream.on('data', (c: ConfigChange) => this.take(c.service, c.key, c.version, c.action === 'delete' ? '' : c.valueJson));
    stream.on('error', (e: grpc.ServiceError) => e.code !== grpc.status.CANCELLED && this.lost(stream, e.details || e.message));
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
      const { entries } = await new Promise<ListResponse>((resolve, reject) =>
        this.client.List({ environment: this.options.environment, service: '', keyPrefix: '' }, { deadline: Date.now() + listDeadlineMs }, (err, res) =>
          res ? resolve(res) : reject(err ?? new Error('List returned nothing')),
        ),
      );
      for (const e of entries) this.take(e.service, e.key, e.version, e.valueJson, false);
      this.publish();
      if (this.failures > 0) this.options.log.info({ address: this.options.address }, 'config service reachable again; settings re-read');
      this.failures = 0;
    } catch (e) {
      this.lost(stream, (e as grpc.ServiceError).details || (e as Error).message);
    }
  }

  private lost(stream: grpc.ClientReadableStream<ConfigChange>, why: string): void {
    if (this.closed || this.stream !== stream) return;
    this.stream = undefined;
    stream.cancel();
    const delay = Math.min(this.options.maxBackoffMs ?? 30_000, 500 * 2 ** this.failures++);
    if (this.failures === 1) this.options.log.warn({ address: this.options.address, err: why }, 'config service unreachable; keeping the settings in force and retrying');
    this.retry = setTimeout(() => void this.connect(5_000), delay);
  }

  /** Records one value (JSON text; '' for a deleted one) if it is newer than what is known. */
  private take(scope: string, key: string, version: number, valueJson: string, publish = true): void {
    if (!(SCOPES as readonly string[]).includes(scope) || !(key in APPLY)) return;
    const id = `${scope}/${key}`;
    const known = this.entries.get(id);
    if (known && known.version >= version) return;
    let value: unknown;
    if (valueJson !== '') {
      const parsed = configKeySpec(key)!.schema.safeParse(safeJson(valueJson));
      if (!parsed.success) {
        this.options.log.warn({ scope, key, version }, 'config value does not match its schema; ignored');
        return;
      }
      value = parsed.data;
    }
    this.entries.set(id, { version, value });
    if (publish) this.publish();
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
