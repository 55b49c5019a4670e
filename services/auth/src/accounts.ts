import { isIP } from 'node:net';
import type { AuthContext } from './context.js';
import { inTx, query, type Tx } from './db.js';
import { HttpError } from './errors.js';
import { EVENTS } from './events.js';
import { appendEvent } from './outbox.js';
import { hashPassword, perSource, verifyDummy, verifyPassword } from './passwords.js';
import {
  type ClientMeta,
  openSession,
  otherLiveSessions,
  revokeSessions,
  tokenPair,
  type TokenPair,
} from './sessions.js';
import { ACCOUNT_WIDE, clearFailures, lockThrottleRow, recordFailure } from './throttle.js';
import { revokeAllApiKeys } from './api-keys.js';

export interface UserView {
  id: string;
  email: string;
  email_verified: boolean;
  display_name: string | null;
  roles: string[];
  status: 'active' | 'disabled';
  created_at: string;
}

interface UserRow {
  id: string;
  email: string;
  email_verified: boolean;
  display_name: string | null;
  roles: string[];
  status: 'active' | 'disabled';
  created_at: Date;
  password_hash: string | null;
}

const USER_COLUMNS = 'id, email, email_verified, display_name, roles, status, created_at';

function userView(r: Omit<UserRow, 'password_hash'>): UserView {
  return {
    id: r.id,
    email: r.email,
    email_verified: r.email_verified,
    display_name: r.display_name,
    roles: r.roles,
    status: r.status,
    created_at: r.created_at.toISOString(),
  };
}

/** E-mails are compared lower-case and trimmed: one account per address. */
function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

const INVALID_CREDENTIALS = () => new HttpError(401, 'invalid_credentials', 'invalid e-mail or password');

/**
 * The one answer to every valid registration, whether or not the e-mail already had an account
 * (issue 22.11): no status, header or body tells which. The client signs in afterwards.
 */
export const REGISTRATION_ACCEPTED = {
  status: 'accepted',
  message: 'registration received: sign in with this e-mail and password',
} as const;

/**
 * Creates an account, or leaves an existing one of that e-mail untouched. Both paths do the same
 * work, so their timing does not tell them apart either: an argon2 hash, one statement, one
 * outbox event, one commit. The insert is `ON CONFLICT DO NOTHING`: of two registrations of one
 * e-mail at once, the second waits for the first to commit and takes the existing-account path.
 */
export async function register(
  ctx: AuthContext,
  input: { email: string; password: string; display_name?: string | undefined },
  meta: ClientMeta,
): Promise<typeof REGISTRATION_ACCEPTED> {
  const email = normalizeEmail(input.email);
  // Hashed before the transaction: no connection is held during the (thread-pool) hash.
  const hash = await hashPassword(input.password, meta.ip);
  await inTx(ctx.db, async (tx) => {
    // One statement either way: the new account's id, or the existing account's.
    const { rows } = await tx.query<{ id: string; created: boolean }>(
      `WITH created AS (
         INSERT INTO users (email, password_hash, display_name, password_changed_at) VALUES ($1, $2, $3, now())
         ON CONFLICT (email) DO NOTHING RETURNING id)
       SELECT id, true AS created FROM created
       UNION ALL SELECT id, false FROM users WHERE email = $1 AND NOT EXISTS (SELECT 1 FROM created)`,
      [email, hash, input.display_name ?? null],
    );
    let row = rows[0];
    // Raced by a registration of the same e-mail that committed after this statement's snapshot
    // was taken: the insert waited for it and did nothing; a new snapshot sees its account.
    row ??= (
      await tx.query<{ id: string; created: boolean }>('SELECT id, false AS created FROM users WHERE email = $1', [
        email,
      ])
    ).rows[0];
    if (row?.created) {
      await appendEvent(tx, EVENTS.userRegistered, { user_id: row.id, method: 'password' }, meta.requestId);
      return;
    }
    // The e-mail has an account: nothing of it changes. The event lets an operator, or a mailer
    // later, tell its owner that someone tried to register their address.
    await appendEvent(
      tx,
      EVENTS.userRegistrationForExisting,
      { user_id: row?.id ?? null, method: 'password' },
      meta.requestId,
    );
  });
  ctx.eventsWritten();
  return REGISTRATION_ACCEPTED;
}

/**
 * Password login. Unknown e-mails, accounts without a password and disabled accounts get the
 * same 401 as a wrong password, after an argon2 verification of the same cost; failures are
 * counted per e-mail and client address, and per e-mail (see throttle.ts for why both).
 *
 * The attempt is counted as a failure before the password is checked (and the count cleared on
 * success), under row locks: parallel guesses are counted one by one, and no database
 * connection is held while argon2 runs.
 */
export function login(
  ctx: AuthContext,
  input: { email: string; password: string },
  meta: ClientMeta,
): Promise<TokenPair> {
  // A few sign-ins per address at once; the rest get 429 before touching the database (issue 22.8).
  return perSource(meta.ip || 'unknown', () => loginOnce(ctx, input, meta));
}

async function loginOnce(
  ctx: AuthContext,
  input: { email: string; password: string },
  meta: ClientMeta,
): Promise<TokenPair> {
  const email = normalizeEmail(input.email);
  const client = meta.ip || 'unknown';
  const policy = ctx.settings.throttle;
  const gate = await inTx(ctx.db, async (tx) => {
    const accountLock = await lockThrottleRow(tx, email, ACCOUNT_WIDE);
    const clientLock = await lockThrottleRow(tx, email, client);
    if (clientLock > 0) return { retryAfter: clientLock, user: undefined };
    const { rows } = await tx.query<UserRow>(`SELECT ${USER_COLUMNS}, password_hash FROM users WHERE email = $1`, [
      email,
    ]);
    const user = rows[0];
    if (accountLock > 0) {
      // The account-wide lock spares the addresses its owner has signed in from.
      if (!user || !(await signedInFrom(tx, user.id, meta.ip))) return { retryAfter: accountLock, user: undefined };
    } else {
      await recordFailure(tx, email, ACCOUNT_WIDE, policy, policy.accountFreeFailures);
    }
    await recordFailure(tx, email, client, policy);
    return { retryAfter: 0, user };
  });
  if (gate.retryAfter > 0) {
    ctx.authMetrics.logins.inc({ outcome: 'locked' });
    throw new HttpError(429, 'too_many_attempts', 'too many failed attempts; try again later', {
      'retry-after': String(gate.retryAfter),
    });
  }
  const user = gate.user;
  const ok = user?.password_hash
    ? await verifyPassword(user.password_hash, input.password, client)
    : await verifyDummy(input.password, client);
  if (!ok || !user || user.status !== 'active') {
    ctx.authMetrics.logins.inc({ outcome: 'failure' });
    throw INVALID_CREDENTIALS();
  }
  const session = await inTx(ctx.db, async (tx) => {
    await clearFailures(tx, email, client);
    const opened = await openSession(tx, ctx, user.id, meta);
    await appendEvent(
      tx,
      EVENTS.userLoggedIn,
      { user_id: user.id, session_id: opened.sessionId, method: 'password' },
      meta.requestId,
    );
    return opened;
  });
  ctx.authMetrics.logins.inc({ outcome: 'success' });
  ctx.eventsWritten();
  return tokenPair(ctx, user.id, user.roles, session.sessionId, session.refreshToken);
}

/** The throttle row of password-change attempts: one per account (a user id never contains `@`, an e-mail always does). */
const passwordChangeKey = (userId: string) => `password-change:${userId}`;

/**
 * Changes the password, revokes every other session of the user (the current one stays) and every
 * API key: a password is changed when it may be known to someone else, who may have minted keys with it.
 *
 * Guesses of the current password (from a stolen session, say) are throttled per account like logins:
 * `throttle.freeFailures` wrong answers, then a lock that doubles; counted before the check, cleared
 * on success. The lock stops password changes only, never the owner's sign-in.
 */
export async function changePassword(
  ctx: AuthContext,
  userId: string,
  currentSessionId: string,
  input: { current_password: string; new_password: string },
  meta: ClientMeta,
): Promise<{ revoked_sessions: number; revoked_api_keys: number }> {
  const key = passwordChangeKey(userId);
  const locked = await inTx(ctx.db, async (tx) => {
    const wait = await lockThrottleRow(tx, key, ACCOUNT_WIDE);
    if (wait === 0) await recordFailure(tx, key, ACCOUNT_WIDE, ctx.settings.throttle);
    return wait;
  });
  if (locked > 0)
    throw new HttpError(429, 'too_many_attempts', 'too many wrong current passwords; try again later', {
      'retry-after': String(locked),
    });
  const { rows } = await query<{ password_hash: string | null }>(
    ctx.db,
    'SELECT password_hash FROM users WHERE id = $1',
    [userId],
  );
  const current = rows[0]?.password_hash;
  const ok = current
    ? await verifyPassword(current, input.current_password, meta.ip)
    : await verifyDummy(input.current_password, meta.ip);
  if (!ok) throw new HttpError(403, 'wrong_password', 'the current password is wrong');
  const hash = await hashPassword(input.new_password, meta.ip);
  const revoked = await inTx(ctx.db, async (tx) => {
    const updated = await tx.query(
      'UPDATE users SET password_hash = $2, password_changed_at = now(), updated_at = now() WHERE id = $1 AND password_hash = $3',
      [userId, hash, current],
    );
    // Another change got in first: refuse rather than overwrite it.
    if (updated.rowCount !== 1) throw new HttpError(409, 'conflict', 'the password was changed meanwhile; try again');
    await tx.query('DELETE FROM login_throttle WHERE account_key = $1', [key]);
    const others = await otherLiveSessions(tx, userId, currentSessionId);
    await revokeSessions(tx, ctx, userId, others, 'password_change', meta.requestId);
    const keys = await revokeAllApiKeys(tx, ctx, userId, meta.requestId);
    await appendEvent(
      tx,
      EVENTS.userPasswordChanged,
      { user_id: userId, revoked_sessions: others.length, revoked_api_keys: keys },
      meta.requestId,
    );
    return { revoked_sessions: others.length, revoked_api_keys: keys };
  });
  ctx.eventsWritten();
  return revoked;
}

export async function getUser(ctx: AuthContext, userId: string): Promise<UserView | undefined> {
  const { rows } = await query<UserRow>(ctx.db, `SELECT ${USER_COLUMNS} FROM users WHERE id = $1`, [userId]);
  return rows[0] ? userView(rows[0]) : undefined;
}

/** Whether a session of the user was ever opened from `ip` (a place the owner has signed in from). */
async function signedInFrom(tx: Tx, userId: string, ip: string | undefined): Promise<boolean> {
  if (!ip || isIP(ip) === 0) return false;
  const { rowCount } = await tx.query('SELECT 1 FROM sessions WHERE user_id = $1 AND ip = $2::inet LIMIT 1', [
    userId,
    ip,
  ]);
  return rowCount === 1;
}
