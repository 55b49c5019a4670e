import type { AuthContext } from './context.js';
import { inTx, query, type Tx } from './db.js';
import { HttpError } from './errors.js';
import { EVENTS } from './events.js';
import { appendEvent } from './outbox.js';
import { type AccessClaims, InvalidToken, opaqueToken, sha256 } from './tokens.js';

/**
 * Sessions are refresh-token families. A refresh token is 32 random bytes shown once and stored
 * as its SHA-256; each use spends it and issues its successor. Presenting a spent token means it
 * was copied: the whole family (the session) is revoked and an event is emitted.
 */

export interface ClientMeta {
  readonly userAgent?: string | undefined;
  readonly ip?: string | undefined;
  readonly requestId?: string | undefined;
}

export interface TokenPair {
  readonly access_token: string;
  readonly token_type: 'Bearer';
  readonly expires_in: number;
  readonly refresh_token: string;
  readonly session_id: string;
}

export type RevokeReason = 'logout' | 'password_change' | 'reuse_detected' | 'user' | 'admin';

/** Opens a session in `tx` and returns its first refresh token. */
export async function openSession(
  tx: Tx,
  ctx: AuthContext,
  userId: string,
  meta: ClientMeta,
): Promise<{ sessionId: string; refreshToken: string }> {
  const ttl = ctx.settings.refreshTtlSeconds;
  const { rows } = await tx.query<{ id: string }>(
    `INSERT INTO sessions (user_id, expires_at, user_agent, ip) VALUES ($1, now() + make_interval(secs => $2), $3, $4) RETURNING id`,
    [userId, ttl, meta.userAgent?.slice(0, 512) ?? null, meta.ip ?? null],
  );
  const sessionId = rows[0]!.id;
  const refreshToken = opaqueToken();
  await tx.query(
    `INSERT INTO refresh_tokens (session_id, token_hash, expires_at) VALUES ($1, $2, now() + make_interval(secs => $3))`,
    [sessionId, sha256(refreshToken), ttl],
  );
  return { sessionId, refreshToken };
}

/** The response of login, refresh and OAuth sign-in: a fresh access token beside the refresh token. */
export async function tokenPair(
  ctx: AuthContext,
  userId: string,
  roles: readonly string[],
  sessionId: string,
  refreshToken: string,
): Promise<TokenPair> {
  const access = await ctx.tokens.issue(userId, sessionId, roles);
  ctx.authMetrics.tokensIssued.inc({ kind: 'access' });
  ctx.authMetrics.tokensIssued.inc({ kind: 'refresh' });
  return {
    access_token: access.token,
    token_type: 'Bearer',
    expires_in: ctx.settings.accessTtlSeconds,
    refresh_token: refreshToken,
    session_id: sessionId,
  };
}

interface RefreshRow {
  id: string;
  session_id: string;
  spent: boolean;
  expired: boolean;
  user_id: string;
  session_live: boolean;
  roles: string[];
  active: boolean;
}

/** The presented token ($1: its hash) with its session and user, both locked. */
const LOCK_TOKEN = `
  SELECT rt.id, rt.session_id, rt.expires_at, (rt.used_at IS NOT NULL OR rt.revoked_at IS NOT NULL) AS spent,
         rt.expires_at <= now() AS expired, s.user_id, (s.revoked_at IS NULL AND s.expires_at > now()) AS session_live,
         u.roles, u.status = 'active' AS active
    FROM refresh_tokens rt JOIN sessions s ON s.id = rt.session_id JOIN users u ON u.id = s.user_id
   WHERE rt.token_hash = $1
   FOR UPDATE OF rt, s`;

/**
 * A refresh in one statement (one round trip, no transaction to open and close: the refresh is the auth
 * service's most frequent write): lock the token and its session; if both are live, spend the token,
 * issue its successor ($2: its hash; same absolute expiry) and touch the session. A concurrent refresh
 * of the same token waits on the row lock and then reads the token spent, as it would in a transaction.
 */
const ROTATE = `
  WITH cur AS (${LOCK_TOKEN}),
       ok AS (SELECT * FROM cur WHERE NOT spent AND NOT expired AND session_live AND active),
       spent AS (UPDATE refresh_tokens rt SET used_at = now() FROM ok WHERE rt.id = ok.id),
       touched AS (UPDATE sessions s SET last_used_at = now() FROM ok WHERE s.id = ok.session_id),
       issued AS (INSERT INTO refresh_tokens (session_id, token_hash, parent_id, expires_at)
                  SELECT session_id, $2, id, expires_at FROM ok RETURNING 1)
  SELECT cur.*, EXISTS (SELECT 1 FROM issued) AS rotated FROM cur`;

const INVALID_GRANT = () => new HttpError(401, 'invalid_grant', 'the refresh token is invalid, expired or revoked');

export async function refresh(ctx: AuthContext, refreshToken: string, meta: ClientMeta): Promise<TokenPair> {
  const next = opaqueToken();
  const { rows } = await ctx.db.query<RefreshRow & { rotated: boolean }>({
    name: 'refresh-rotate',
    text: ROTATE,
    values: [sha256(refreshToken), sha256(next)],
  });
  const row = rows[0];
  if (row?.rotated) return tokenPair(ctx, row.user_id, row.roles, row.session_id, next);
  if (row?.spent && row.session_live) await revokeOnReuse(ctx, refreshToken, meta);
  throw INVALID_GRANT();
}

/** A spent token presented again while its session lives: whoever holds either copy loses the session. */
async function revokeOnReuse(ctx: AuthContext, refreshToken: string, meta: ClientMeta): Promise<void> {
  const sessionId = await inTx(ctx.db, async (tx) => {
    // Read again under the lock: a concurrent reuse may have revoked the session already.
    const { rows } = await tx.query<RefreshRow>(LOCK_TOKEN, [sha256(refreshToken)]);
    const row = rows[0];
    if (!row?.spent || !row.session_live) return null;
    await revokeSessions(tx, ctx, row.user_id, [row.session_id], 'reuse_detected', meta.requestId);
    await appendEvent(
      tx,
      EVENTS.refreshReuseDetected,
      { user_id: row.user_id, session_id: row.session_id, ip: meta.ip ?? null },
      meta.requestId,
    );
    return row.session_id;
  });
  if (sessionId === null) return;
  ctx.eventsWritten();
  ctx.log.warn({ reqId: meta.requestId, sessionId }, 'refresh token reuse: session revoked');
}

/**
 * Revokes sessions in `tx`: first in Redis (the gateway's copy; if Redis is down this throws and
 * the transaction rolls back, so the caller gets a 503 and can retry), then in PostgreSQL.
 */
export async function revokeSessions(
  tx: Tx,
  ctx: AuthContext,
  userId: string,
  sessionIds: readonly string[],
  reason: RevokeReason,
  requestId?: string,
): Promise<void> {
  if (sessionIds.length === 0) return;
  await ctx.revocations.revoke(sessionIds, reason);
  await tx.query(
    `UPDATE sessions SET revoked_at = now(), revoked_reason = $2 WHERE id = ANY($1::uuid[]) AND revoked_at IS NULL`,
    [sessionIds, reason],
  );
  await tx.query(
    `UPDATE refresh_tokens SET revoked_at = now() WHERE session_id = ANY($1::uuid[]) AND revoked_at IS NULL`,
    [sessionIds],
  );
  for (const sid of sessionIds)
    await appendEvent(tx, EVENTS.sessionRevoked, { user_id: userId, session_id: sid, reason }, requestId);
}

/** The user's live sessions other than `exceptSessionId`, locked for revocation. */
export async function otherLiveSessions(tx: Tx, userId: string, exceptSessionId: string | null): Promise<string[]> {
  const { rows } = await tx.query<{ id: string }>(
    `SELECT id FROM sessions WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > now() AND ($2::uuid IS NULL OR id <> $2) FOR UPDATE`,
    [userId, exceptSessionId],
  );
  return rows.map((r) => r.id);
}

/** Revokes one of the user's own sessions; 404 when it is not theirs or already revoked. */
export async function revokeOwnSession(
  ctx: AuthContext,
  userId: string,
  sessionId: string,
  reason: RevokeReason,
  requestId?: string,
): Promise<void> {
  const found = await inTx(ctx.db, async (tx) => {
    const { rows } = await tx.query(
      'SELECT 1 FROM sessions WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL FOR UPDATE',
      [sessionId, userId],
    );
    if (rows.length === 0) return false;
    await revokeSessions(tx, ctx, userId, [sessionId], reason, requestId);
    return true;
  });
  if (!found) throw new HttpError(404, 'not_found', 'no such active session');
  ctx.eventsWritten();
}

export interface SessionView {
  id: string;
  created_at: string;
  last_used_at: string;
  expires_at: string;
  user_agent: string | null;
  ip: string | null;
  current: boolean;
}

export async function listSessions(ctx: AuthContext, userId: string, currentSessionId: string): Promise<SessionView[]> {
  const { rows } = await query<{
    id: string;
    created_at: Date;
    last_used_at: Date;
    expires_at: Date;
    user_agent: string | null;
    ip: string | null;
  }>(
    ctx.db,
    `SELECT id, created_at, last_used_at, expires_at, user_agent, host(ip) AS ip FROM sessions
      WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > now() ORDER BY last_used_at DESC`,
    [userId],
  );
  return rows.map((r) => ({
    id: r.id,
    created_at: r.created_at.toISOString(),
    last_used_at: r.last_used_at.toISOString(),
    expires_at: r.expires_at.toISOString(),
    user_agent: r.user_agent,
    ip: r.ip,
    current: r.id === currentSessionId,
  }));
}

/**
 * Verifies an access token and that its session is live and its user active (PostgreSQL is
 * the source of truth; the Redis copy is for the gateway). Throws {@link InvalidToken}.
 */
export async function authenticate(ctx: AuthContext, token: string): Promise<AccessClaims> {
  const claims = await ctx.tokens.verify(token);
  const { rows } = await query<{ live: boolean }>(
    ctx.db,
    `SELECT (s.revoked_at IS NULL AND s.expires_at > now() AND u.status = 'active') AS live
       FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = $1 AND s.user_id = $2`,
    [claims.sid, claims.sub],
  );
  if (!rows[0]?.live) throw new InvalidToken('revoked');
  return claims;
}
