import { monitorEventLoopDelay } from 'node:perf_hooks';
import { hashSync } from '@node-rs/argon2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ARGON2_PARAMS, hashPassword, verifyPassword } from '../src/passwords.js';
import { DEFAULT_THROTTLE, lockSeconds } from '../src/throttle.js';
import { call, email, type Harness, PASSWORD, startHarness } from './support/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

const login = (address: string, password: string) =>
  call(h.base, 'POST', '/auth/login', { body: { email: address, password } });

describe('argon2id', () => {
  it('hashes with argon2id at or above OWASP minimum and verifies', async () => {
    const phc = await hashPassword(PASSWORD);
    const m = /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$/.exec(phc);
    expect(m).not.toBeNull();
    expect(Number(m![1])).toBeGreaterThanOrEqual(19_456);
    expect(Number(m![2])).toBeGreaterThanOrEqual(2);
    expect(Number(m![3])).toBe(1);
    expect(await verifyPassword(phc, PASSWORD)).toBe(true);
    expect(await verifyPassword(phc, `${PASSWORD} `)).toBe(false);
  });

  it('never blocks the event loop while hashing (compared with a blocking hash measured the same way)', async () => {
    const measure = async (work: () => Promise<unknown>) => {
      const h = monitorEventLoopDelay({ resolution: 1 });
      h.enable();
      // Let the sampling timer start before the work.
      await new Promise((r) => setTimeout(r, 10));
      const t0 = performance.now();
      await work();
      const elapsed = performance.now() - t0;
      // The delay is recorded when the overdue sampling timer finally runs.
      await new Promise((r) => setTimeout(r, 20));
      h.disable();
      return { maxMs: h.max / 1e6, elapsed };
    };
    const n = 16;
    // Control: the same hashes run synchronously on the loop show as one long delay.
    const blocking = await measure(async () => {
      for (let i = 0; i < n; i++) hashSync(`${PASSWORD}${i}`, ARGON2_PARAMS);
    });
    const pooled = await measure(() =>
      Promise.all(Array.from({ length: n }, (_, i) => hashPassword(`${PASSWORD}${i}`))),
    );
    // On the thread pool (at most cores - 1 at once) the loop stays free: its worst delay is a
    // small fraction of the blocking one, and of the time the hashes took.
    expect(blocking.maxMs).toBeGreaterThan(n * 4);
    expect(pooled.maxMs).toBeLessThan(blocking.maxMs / 3);
    expect(pooled.maxMs).toBeLessThan(pooled.elapsed / 3);
  });
});

describe('brute force', () => {
  it('unknown and known e-mails get the same status and body', async () => {
    const known = email();
    await call(h.base, 'POST', '/auth/register', { body: { email: known, password: PASSWORD } });
    const a = await login(known, 'wrong password here');
    const b = await login(email('nobody'), 'wrong password here');
    expect(a.status).toBe(401);
    expect(b.status).toBe(a.status);
    expect(b.body).toEqual(a.body);
  });

  it('unknown and known e-mails take similar time (a dummy hash is verified for unknown ones)', async () => {
    const known = email();
    await call(h.base, 'POST', '/auth/register', { body: { email: known, password: PASSWORD } });
    const times = { known: [] as number[], unknown: [] as number[] };
    // Interleaved rounds; the known account's count is cleared so no lock applies.
    for (let i = 0; i < 16; i++) {
      let t = performance.now();
      await login(known, 'wrong password here');
      times.known.push(performance.now() - t);
      t = performance.now();
      await login(email('ghost'), 'wrong password here');
      times.unknown.push(performance.now() - t);
      await h.sql.query('DELETE FROM login_throttle WHERE account_key = $1', [known]);
    }
    // The machine is shared: noise only adds time, so the fastest round is each path's own cost.
    const fastest = (xs: number[]) => Math.min(...xs);
    const ratio = fastest(times.unknown) / fastest(times.known);
    expect(ratio).toBeGreaterThan(0.6);
    expect(ratio).toBeLessThan(1.7);
    // Both paths include an argon2 verification (a 429, which skips it, is the bare cost).
    const bare: number[] = [];
    const locked = email('locked');
    await h.sql.query(
      `INSERT INTO login_throttle (account_key, failures, locked_until) VALUES ($1, 9, now() + interval '1 hour')`,
      [locked],
    );
    for (let i = 0; i < 16; i++) {
      const t = performance.now();
      expect((await login(locked, 'wrong password here')).status).toBe(429);
      bare.push(performance.now() - t);
    }
    expect(fastest(times.unknown)).toBeGreaterThan(fastest(bare) + 4);
  });

  it('counts failures per account, even for parallel guesses, then locks temporarily with Retry-After', async () => {
    const victim = email();
    await call(h.base, 'POST', '/auth/register', { body: { email: victim, password: PASSWORD } });
    const burst = await Promise.all(Array.from({ length: 12 }, (_, i) => login(victim, `guess number ${i} of many`)));
    const statuses = burst.map((r) => r.status);
    // freeFailures failures, plus the one that sets the lock, were checked; the rest were refused unchecked.
    expect(statuses.filter((s) => s === 401)).toHaveLength(DEFAULT_THROTTLE.freeFailures + 1);
    expect(statuses.filter((s) => s === 429)).toHaveLength(12 - DEFAULT_THROTTLE.freeFailures - 1);
    const locked = burst.find((r) => r.status === 429)!;
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(Number(locked.headers.get('retry-after'))).toBeLessThanOrEqual(DEFAULT_THROTTLE.baseLockSeconds);
    // While locked even the right password is refused, and the same happens for an unknown e-mail.
    expect((await login(victim, PASSWORD)).status).toBe(429);
    const ghost = email('ghost');
    for (let i = 0; i <= DEFAULT_THROTTLE.freeFailures; i++) await login(ghost, 'some wrong password');
    expect((await login(ghost, 'some wrong password')).status).toBe(429);
  });

  it('a lock cannot be extended by attempts during it and ends by itself; success clears the count', async () => {
    const victim = email();
    await call(h.base, 'POST', '/auth/register', { body: { email: victim, password: PASSWORD } });
    for (let i = 0; i <= DEFAULT_THROTTLE.freeFailures; i++) await login(victim, 'wrong password again');
    const before = await h.sql.query('SELECT failures, locked_until FROM login_throttle WHERE account_key = $1', [
      victim,
    ]);
    for (let i = 0; i < 10; i++) expect((await login(victim, 'attacker keeps trying')).status).toBe(429);
    const after = await h.sql.query('SELECT failures, locked_until FROM login_throttle WHERE account_key = $1', [
      victim,
    ]);
    expect(after.rows[0]).toEqual(before.rows[0]);
    // The lock runs out (moved into the past here rather than waited for).
    await h.sql.query(`UPDATE login_throttle SET locked_until = now() - interval '1 second' WHERE account_key = $1`, [
      victim,
    ]);
    expect((await login(victim, PASSWORD)).status).toBe(200);
    const cleared = await h.sql.query('SELECT 1 FROM login_throttle WHERE account_key = $1', [victim]);
    expect(cleared.rowCount).toBe(0);
  });

  it('backs off exponentially up to a cap, so no number of failures locks an account for longer', async () => {
    const p = DEFAULT_THROTTLE;
    expect(lockSeconds(p.freeFailures, p)).toBe(0);
    expect(lockSeconds(p.freeFailures + 1, p)).toBe(p.baseLockSeconds);
    expect(lockSeconds(p.freeFailures + 2, p)).toBe(2 * p.baseLockSeconds);
    expect(lockSeconds(1_000_000, p)).toBe(p.maxLockSeconds);
    // Against the database: a huge failure count still gives a lock of at most the cap.
    const victim = email();
    await h.sql.query(
      `INSERT INTO login_throttle (account_key, failures, last_failure_at) VALUES ($1, 100000, now())`,
      [victim],
    );
    expect((await login(victim, 'one more wrong one')).status).toBe(401);
    const { rows } = await h.sql.query(
      "SELECT extract(epoch FROM locked_until - now()) AS left FROM login_throttle WHERE account_key = $1 AND client = '*'",
      [victim],
    );
    expect(Number(rows[0].left)).toBeLessThanOrEqual(p.maxLockSeconds);
    expect(Number(rows[0].left)).toBeGreaterThan(p.maxLockSeconds - 10);
    // And failures long ago no longer count: the window starts again.
    await h.sql.query(
      `UPDATE login_throttle SET locked_until = NULL, last_failure_at = now() - interval '1 day' WHERE account_key = $1`,
      [victim],
    );
    expect((await login(victim, 'fresh window wrong')).status).toBe(401);
    const fresh = await h.sql.query('SELECT failures, locked_until FROM login_throttle WHERE account_key = $1', [
      victim,
    ]);
    expect(fresh.rows).toEqual([
      { failures: 1, locked_until: null },
      { failures: 1, locked_until: null },
    ]);
  });
});
