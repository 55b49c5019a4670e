import { randomInt, timingSafeEqual } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { API_KEY_PATTERN } from '#contract';
import type { AuthContext } from './context.js';
import { inTx, query, type Tx } from './db.js';
import { HttpError } from './errors.js';
import { EVENTS } from './events.js';
import { appendEvent } from './outbox.js';
import { sha256 } from './tokens.js';

/**
 * API keys: `prism_<id>_<secret><checksum>` (see API_KEY_PATTERN in infra/contract/auth.ts).
 * The id finds the row; the SHA-256 of the whole key is compared in constant time; the key
 * itself is returned once, at creation, and never stored.
 */
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

function randomBase62(length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += BASE62[randomInt(62)];
  return out;
}

/** `body` followed by its checksum: six base62 digits of its CRC32. */
export function withChecksum(body: string): string {
  return body + checksum(body);
}

function checksum(body: string): string {
  let n = crc32(body);
  let out = '';
  for (let i = 0; i < 6; i++) {
    out = BASE62[n % 62] + out;
    n = Math.floor(n / 62);
  }
  return out;
}

export function generateApiKey(): { key: string; prefix: string } {
  const prefix = randomBase62(12);
  return { key: withChecksum(`prism_${prefix}_${randomBase62(32)}`), prefix };
}

/** The id of a well-formed key with a valid checksum, else undefined (no database lookup needed). */
export function parseApiKey(key: string): string | undefined {
  const m = API_KEY_PATTERN.exec(key);
  if (!m) return undefined;
  return checksum(key.slice(0, -6)) === m[3] ? m[1] : undefined;
}

export interface ApiKeyView {
  id: string;
  name: string;
  prefix: string;
  scopes: string[];
  created_at: string;
  last_used_at: string | null;
  expires_at: string | null;
  revoked_at: string | null;
}

interface ApiKeyRow {
  id: string;
  name: string;
  prefix: string;
  scopes: string[];
  created_at: Date;
  last_used_at: Date | null;
  expires_at: Date | null;
  revoked_at: Date | null;
}

/**
 * Active (not revoked, not expired) keys one account may hold. The gateway limits API-key traffic per
 * account, so more keys would not buy more requests; the cap bounds what one account stores and
 * what a stolen session can mint.
 */
export const MAX_ACTIVE_API_KEYS = 20;

const COLUMNS = 'id, name, prefix, scopes, created_at, last_used_at, expires_at, revoked_at';
const iso = (d: Date | null) => d?.toISOString() ?? null;

function view(r: ApiKeyRow): ApiKeyView {
  return {
    ...r,
    created_at: r.created_at.toISOString(),
    last_used_at: iso(r.last_used_at),
    expires_at: iso(r.expires_at),
    revoked_at: iso(r.revoked_at),
  };
}

export async function createApiKey(
  ctx: AuthContext,
  userId: string,
  input: { name: string; scopes: string[]; expires_in_days?: number | undefined },
  requestId?: string,
): Promise<ApiKeyView & { key: string }> {
  const { key, prefix } = generateApiKey();
  const row = await inTx(ctx.db, async (tx) => {
    // The user's row lock makes parallel creations count one after another.
    await tx.query('SELECT 1 FROM users WHERE id = $1 FOR UPDATE', [userId]);
    const active = await tx.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM api_keys WHERE user_id = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())`,
      [userId],
    );
    if (active.rows[0]!.n >= MAX_ACTIVE_API_KEYS) {
      throw new HttpError(
        409,
        'api_key_limit',
        `an account may hold at most ${MAX_ACTIVE_API_KEYS} active API keys; revoke one first`,
      );
    }
    const { rows } = await tx.query<ApiKeyRow>(
      `INSERT INTO api_keys (user_id, name, prefix, key_hash, scopes, expires_at)
       VALUES ($1, $2, $3, $4, $5, CASE WHEN $6::int IS NULL THEN NULL ELSE now() + make_interval(days => $6::int) END)
       RETURNING ${COLUMNS}`,
      [userId, input.name, prefix, sha256(key), [...new Set(input.scopes)].sort(), input.expires_in_days ?? null],
    );
    await appendEvent(
      tx,
      EVENTS.apiKeyCreated,
      { user_id: userId, key_id: rows[0]!.id, prefix, scopes: rows[0]!.scopes },
      requestId,
    );
    return rows[0]!;
  });
  ctx.eventsWritten();
  return { ...view(row), key };
}

export async function listApiKeys(ctx: AuthContext, userId: string): Promise<ApiKeyView[]> {
  const { rows } = await query<ApiKeyRow>(
    ctx.db,
    `SELECT ${COLUMNS} FROM api_keys WHERE user_id = $1 ORDER BY created_at DESC`,
    [userId],
  );
  return rows.map(view);
}

export async function revokeApiKey(ctx: AuthContext, userId: string, keyId: string, requestId?: string): Promise<void> {
  const done = await inTx(ctx.db, async (tx) => {
    const { rowCount } = await tx.query(
      'UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL',
      [keyId, userId],
    );
    if (rowCount !== 1) return false;
    // The gateway's marker, before the commit: if Redis is down the revocation fails (503) and is retried.
    await ctx.revocations.revokeApiKeys([keyId]);
    await appendEvent(tx, EVENTS.apiKeyRevoked, { user_id: userId, key_id: keyId }, requestId);
    return true;
  });
  if (!done) throw new HttpError(404, 'not_found', 'no such active API key');
  ctx.eventsWritten();
}

/** Revokes every active key of the user in `tx` (a password change); the gateway's markers are written before the commit. Returns how many. */
export async function revokeAllApiKeys(tx: Tx, ctx: AuthContext, userId: string, requestId?: string): Promise<number> {
  const { rows } = await tx.query<{ id: string }>(
    'UPDATE api_keys SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL RETURNING id',
    [userId],
  );
  const ids = rows.map((r) => r.id);
  await ctx.revocations.revokeApiKeys(ids);
  for (const id of ids) await appendEvent(tx, EVENTS.apiKeyRevoked, { user_id: userId, key_id: id }, requestId);
  return ids.length;
}

export type ApiKeyCheck =
  | { valid: true; keyId: string; userId: string; scopes: string[]; expiresAt: number }
  | { valid: false; reason: 'malformed' | 'unknown' | 'revoked' | 'expired' | 'user_disabled' };

/** Validates a raw key (the gateway's `X-API-Key`), constant-time on the hash. */
export async function validateApiKey(ctx: AuthContext, key: string): Promise<ApiKeyCheck> {
  const prefix = parseApiKey(key);
  if (!prefix) return { valid: false, reason: 'malformed' };
  const { rows } = await query<{
    id: string;
    user_id: string;
    key_hash: Buffer;
    scopes: string[];
    expires_at: Date | null;
    revoked: boolean;
    expired: boolean;
    active: boolean;
  }>(
    ctx.db,
    `SELECT k.id, k.user_id, k.key_hash, k.scopes, k.expires_at, k.revoked_at IS NOT NULL AS revoked,
            (k.expires_at IS NOT NULL AND k.expires_at <= now()) AS expired, u.status = 'active' AS active
       FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.prefix = $1`,
    [prefix],
  );
  const row = rows[0];
  if (!row || !timingSafeEqual(sha256(key), row.key_hash)) return { valid: false, reason: 'unknown' };
  if (row.revoked) return { valid: false, reason: 'revoked' };
  if (row.expired) return { valid: false, reason: 'expired' };
  if (!row.active) return { valid: false, reason: 'user_disabled' };
  // At most one write a minute per key, so a busy key does not turn every request into an UPDATE.
  void query(
    ctx.db,
    `UPDATE api_keys SET last_used_at = now() WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')`,
    [row.id],
  ).catch(() => undefined);
  return {
    valid: true,
    keyId: row.id,
    userId: row.user_id,
    scopes: row.scopes,
    expiresAt: row.expires_at ? Math.floor(row.expires_at.getTime() / 1000) : 0,
  };
}
