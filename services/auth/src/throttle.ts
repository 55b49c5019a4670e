import type { Tx } from './db.js';

/**
 * Login throttling per account key (the normalised e-mail, whether an account has it or not,
 * so unknown and known e-mails behave alike).
 *
 * After `freeFailures` failures, each further failure locks the key for
 * `baseLockSeconds * 2^(n-1)`, capped at `maxLockSeconds`. A lock always ends by itself:
 * attempts made while locked are refused without being counted and do not extend it, and the
 * count starts again after `windowSeconds` without failures. So an attacker can slow a user
 * down to one attempt per `maxLockSeconds`, never lock them out for good; a successful login
 * clears the count. An attempt counts as a failure from its start until its password proves
 * right, so more than `freeFailures` parallel attempts on one account lock it too.
 */
export interface ThrottlePolicy {
  /** @default 5 */
  readonly freeFailures: number;
  /** @default 30 s */
  readonly baseLockSeconds: number;
  /** @default 900 s (15 min) */
  readonly maxLockSeconds: number;
  /** @default 900 s */
  readonly windowSeconds: number;
}

export const DEFAULT_THROTTLE: ThrottlePolicy = { freeFailures: 5, baseLockSeconds: 30, maxLockSeconds: 900, windowSeconds: 900 };

/**
 * Locks the key's row for the rest of the transaction, so concurrent attempts on one account
 * are counted one after another (a burst of parallel guesses cannot slip past the limit).
 * Returns the seconds left on a lock, or 0.
 */
export async function lockThrottleRow(tx: Tx, accountKey: string): Promise<number> {
  await tx.query('INSERT INTO login_throttle (account_key) VALUES ($1) ON CONFLICT (account_key) DO NOTHING', [accountKey]);
  const { rows } = await tx.query<{ retry_after: string | null }>(
    // clock_timestamp(), not now(): this transaction may have waited for the lock longer than the
    // transaction that set locked_until, so its start time can predate that lock.
    `SELECT CASE WHEN locked_until > clock_timestamp() THEN ceil(extract(epoch FROM locked_until - clock_timestamp())) END AS retry_after
       FROM login_throttle WHERE account_key = $1 FOR UPDATE`,
    [accountKey],
  );
  return Number(rows[0]?.retry_after ?? 0);
}

/** Counts one failure and sets the lock when due; returns the lock in seconds (0 when none). */
export async function recordFailure(tx: Tx, accountKey: string, p: ThrottlePolicy): Promise<number> {
  const { rows } = await tx.query<{ failures: number }>(
    `UPDATE login_throttle SET
       failures = CASE WHEN last_failure_at IS NULL OR last_failure_at < now() - make_interval(secs => $2) THEN 1 ELSE failures + 1 END,
       window_started_at = CASE WHEN last_failure_at IS NULL OR last_failure_at < now() - make_interval(secs => $2) THEN now() ELSE window_started_at END,
       last_failure_at = now()
     WHERE account_key = $1 RETURNING failures`,
    [accountKey, p.windowSeconds],
  );
  const failures = rows[0]?.failures ?? 1;
  const lock = lockSeconds(failures, p);
  if (lock > 0) await tx.query('UPDATE login_throttle SET locked_until = clock_timestamp() + make_interval(secs => $2) WHERE account_key = $1', [accountKey, lock]);
  return lock;
}

export function lockSeconds(failures: number, p: ThrottlePolicy): number {
  if (failures <= p.freeFailures) return 0;
  return Math.min(p.maxLockSeconds, p.baseLockSeconds * 2 ** Math.min(failures - p.freeFailures - 1, 30));
}

export async function clearFailures(tx: Tx, accountKey: string): Promise<void> {
  await tx.query('DELETE FROM login_throttle WHERE account_key = $1', [accountKey]);
}
