import type { Tx } from './db.js';

/**
 * Login throttling, counted twice: per account and client address, and per account from every
 * address together. Keys are the normalised e-mail, whether an account has it or not, so unknown
 * and known e-mails behave alike.
 *
 * Why two counts (chosen on purpose, see docs/security.md "Login throttling"): a lock per account alone
 * lets anyone keep the owner locked out, by a few wrong guesses each time the lock ends. So:
 * - Per account and address, after `freeFailures` failures each further failure locks that pair for
 *   `baseLockSeconds * 2^(n-1)`, capped at `maxLockSeconds`. Guesses from one place lock out that
 *   place only; the owner elsewhere is not affected.
 * - Per account, after `accountFreeFailures` failures from all addresses (a guessing campaign spread
 *   over many addresses), the same backoff locks the account, but not for addresses the account has
 *   signed in from before (a session was opened from them). An attacker with many addresses can then
 *   keep the owner out of new places for a while, never out of their usual ones, and the total number
 *   of guesses on an account stays bounded.
 * A lock always ends by itself: attempts made while locked are refused without being counted and do
 * not extend it, and a count starts again after `windowSeconds` without failures. A successful login
 * clears the account's count and its address's. An attempt counts as a failure from its start until
 * its password proves right, so parallel attempts cannot slip past a limit.
 */
export interface ThrottlePolicy {
  /** Failures per account and address before it is locked. @default 5 */
  readonly freeFailures: number;
  /** @default 30 s */
  readonly baseLockSeconds: number;
  /** @default 900 s (15 min) */
  readonly maxLockSeconds: number;
  /** @default 900 s */
  readonly windowSeconds: number;
  /** Failures per account from all addresses before new addresses are locked out. @default 50 */
  readonly accountFreeFailures: number;
}

export const DEFAULT_THROTTLE: ThrottlePolicy = {
  freeFailures: 5,
  baseLockSeconds: 30,
  maxLockSeconds: 900,
  windowSeconds: 900,
  accountFreeFailures: 50,
};

/** The `client` of the account-wide row (addresses never look like this). */
export const ACCOUNT_WIDE = '*';

/**
 * Locks one throttle row for the rest of the transaction, so concurrent attempts are counted one
 * after another (a burst of parallel guesses cannot slip past the limit). Callers lock the
 * account-wide row before the address row, always in that order, so two logins cannot deadlock.
 * Returns the seconds left on a lock, or 0.
 */
export async function lockThrottleRow(tx: Tx, accountKey: string, client: string): Promise<number> {
  await tx.query(
    'INSERT INTO login_throttle (account_key, client) VALUES ($1, $2) ON CONFLICT (account_key, client) DO NOTHING',
    [accountKey, client],
  );
  const { rows } = await tx.query<{ retry_after: string | null }>(
    // clock_timestamp(), not now(): this transaction may have waited for the lock longer than the
    // transaction that set locked_until, so its start time can predate that lock.
    `SELECT CASE WHEN locked_until > clock_timestamp() THEN ceil(extract(epoch FROM locked_until - clock_timestamp())) END AS retry_after
       FROM login_throttle WHERE account_key = $1 AND client = $2 FOR UPDATE`,
    [accountKey, client],
  );
  return Number(rows[0]?.retry_after ?? 0);
}

/** Counts one failure and sets the lock when more than `freeFailures` are due; returns the lock in seconds (0 when none). */
export async function recordFailure(
  tx: Tx,
  accountKey: string,
  client: string,
  p: ThrottlePolicy,
  freeFailures = p.freeFailures,
): Promise<number> {
  const { rows } = await tx.query<{ failures: number }>(
    `UPDATE login_throttle SET
       failures = CASE WHEN last_failure_at IS NULL OR last_failure_at < now() - make_interval(secs => $3) THEN 1 ELSE failures + 1 END,
       window_started_at = CASE WHEN last_failure_at IS NULL OR last_failure_at < now() - make_interval(secs => $3) THEN now() ELSE window_started_at END,
       last_failure_at = now()
     WHERE account_key = $1 AND client = $2 RETURNING failures`,
    [accountKey, client, p.windowSeconds],
  );
  const failures = rows[0]?.failures ?? 1;
  const lock = lockSeconds(failures, { ...p, freeFailures });
  if (lock > 0) {
    await tx.query(
      'UPDATE login_throttle SET locked_until = clock_timestamp() + make_interval(secs => $3) WHERE account_key = $1 AND client = $2',
      [accountKey, client, lock],
    );
  }
  return lock;
}

export function lockSeconds(
  failures: number,
  p: Pick<ThrottlePolicy, 'freeFailures' | 'baseLockSeconds' | 'maxLockSeconds'>,
): number {
  if (failures <= p.freeFailures) return 0;
  return Math.min(p.maxLockSeconds, p.baseLockSeconds * 2 ** Math.min(failures - p.freeFailures - 1, 30));
}

/** After a successful login: the account's count and this address's. */
export async function clearFailures(tx: Tx, accountKey: string, client: string): Promise<void> {
  await tx.query('DELETE FROM login_throttle WHERE account_key = $1 AND client IN ($2, $3)', [
    accountKey,
    client,
    ACCOUNT_WIDE,
  ]);
}
