import { Redis } from 'ioredis';
import { API_KEY_CACHE_MAX_SECONDS, AUTH_REDIS_KEYS, REVOCATION_TTL_MARGIN_SECONDS } from '#contract';
import type { Logger } from '../../runtime/src/index.js';
import { type Db, query } from './db.js';
import { DependencyUnavailable } from './errors.js';

const API_KEY_REVOCATION_TTL_SECONDS = API_KEY_CACHE_MAX_SECONDS + REVOCATION_TTL_MARGIN_SECONDS;

export interface RedisOptions {
  readonly address: string;
  /** An ACL user (REDIS_USERS.auth in the platform); Redis's default user when absent. */
  readonly username?: string;
  readonly password: string;
}

/**
 * ioredis set to fail fast: no offline queue and one retry per command, so a request made while
 * Redis is down gets an error at once (503) instead of hanging; the client reconnects by itself.
 */
export function createRedis(opts: RedisOptions, log: Logger): Redis {
  const [host, port] = opts.address.split(':');
  const redis = new Redis({
    host: host!,
    port: Number(port),
    ...(opts.username ? { username: opts.username } : {}),
    password: opts.password,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2_000,
    commandTimeout: 2_000,
    retryStrategy: (times) => Math.min(100 * times, 2_000),
    lazyConnect: false,
  });
  let lastLog = 0;
  redis.on('error', (e: Error) => {
    // Reconnection errors repeat every retry: log one line every 10 s at most.
    if (Date.now() - lastLog > 10_000) {
      lastLog = Date.now();
      log.warn({ err: e.message }, 'Redis connection error');
    }
  });
  return redis;
}

/**
 * The gateway's view of revoked sessions: `prism:auth:revoked-session:<sid>` (see infra/contract/auth.ts),
 * kept as long as an access token of the session can still be valid.
 */
export class RevocationList {
  constructor(
    private readonly redis: Redis,
    private readonly accessTtlSeconds: number,
  ) {}

  /** Written before the revoking transaction commits: if Redis is down the revocation fails (503) and is retried. */
  async revoke(sessionIds: readonly string[], reason: string): Promise<void> {
    if (sessionIds.length === 0) return;
    const ttl = this.accessTtlSeconds + REVOCATION_TTL_MARGIN_SECONDS;
    await this.setAll(sessionIds.map(AUTH_REDIS_KEYS.revokedSession), reason, ttl);
  }

  /**
   * Marks API keys revoked for the gateway, which may hold a validation cached for up to
   * API_KEY_CACHE_MAX_SECONDS. Written before the revoking transaction commits, like sessions.
   */
  async revokeApiKeys(keyIds: readonly string[]): Promise<void> {
    if (keyIds.length === 0) return;
    await this.setAll(keyIds.map(AUTH_REDIS_KEYS.revokedApiKey), 'revoked', API_KEY_REVOCATION_TTL_SECONDS);
  }

  /** Sets every key in one MULTI; any failure (Redis down, a command refused) is a DependencyUnavailable. */
  private async setAll(keys: readonly string[], value: string, ttlSeconds: number): Promise<void> {
    const multi = this.redis.multi();
    for (const key of keys) multi.set(key, value, 'EX', ttlSeconds);
    try {
      const results = await multi.exec();
      const failed = results?.find(([err]) => err);
      if (!results || failed) throw failed?.[0] ?? new Error('Redis transaction aborted');
    } catch (e) {
      throw new DependencyUnavailable('redis', e);
    }
  }

  /**
   * Rewrites the keys of sessions revoked within the last access-token lifetime (and of API keys
   * revoked within their marker's lifetime), with their
   * remaining TTL: after a Redis restart without persistence (or an eviction) the gateway
   * sees them again. Called whenever the Redis connection becomes ready.
   */
  async resync(db: Db): Promise<number> {
    const ttl = this.accessTtlSeconds + REVOCATION_TTL_MARGIN_SECONDS;
    const { rows } = await query<{ id: string; reason: string; left: number }>(
      db,
      `SELECT id, revoked_reason AS reason, ceil($1 - extract(epoch FROM now() - revoked_at))::int AS left
         FROM sessions WHERE revoked_at > now() - make_interval(secs => $1)`,
      [ttl],
    );
    const keys = await query<{ id: string; left: number }>(
      db,
      `SELECT id, ceil($1 - extract(epoch FROM now() - revoked_at))::int AS left FROM api_keys WHERE revoked_at > now() - make_interval(secs => $1)`,
      [API_KEY_REVOCATION_TTL_SECONDS],
    );
    if (rows.length === 0 && keys.rows.length === 0) return 0;
    const multi = this.redis.multi();
    for (const r of rows) if (r.left > 0) multi.set(AUTH_REDIS_KEYS.revokedSession(r.id), r.reason, 'EX', r.left);
    for (const k of keys.rows) if (k.left > 0) multi.set(AUTH_REDIS_KEYS.revokedApiKey(k.id), 'revoked', 'EX', k.left);
    await multi.exec();
    return rows.length + keys.rows.length;
  }

  async isRevoked(sessionId: string): Promise<boolean> {
    try {
      return (await this.redis.exists(AUTH_REDIS_KEYS.revokedSession(sessionId))) === 1;
    } catch (e) {
      throw new DependencyUnavailable('redis', e);
    }
  }
}
