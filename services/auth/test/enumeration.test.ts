import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS } from '../src/events.js';
import { call, email, type Harness, PASSWORD, signUp, startHarness } from './support/harness.js';

/**
 * Issue 22 item 11: the account endpoints must not tell whether an e-mail has an account. Each
 * test asks the same question about a registered and an unregistered e-mail and compares the
 * whole answer: status, every header but `Date` (the clock's), and the body byte for byte.
 */
let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

interface RawAnswer {
  status: number;
  headers: [string, string][];
  body: string;
}

/** One request, answered raw. The same request id for every call, so that header matches too. */
async function raw(path: string, body: unknown): Promise<RawAnswer> {
  const res = await fetch(h.base + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-request-id': 'enumeration-probe' },
    body: JSON.stringify(body),
  });
  const headers = [...res.headers.entries()].filter(([k]) => k !== 'date');
  return { status: res.status, headers, body: await res.text() };
}

const accountRow = async (address: string) =>
  (await h.sql.query('SELECT * FROM users WHERE email = $1', [address])).rows[0] as Record<string, unknown>;
const sessionRows = async (userId: string) =>
  (await h.sql.query('SELECT * FROM sessions WHERE user_id = $1 ORDER BY id', [userId])).rows;
const outbox = async (userId: string) =>
  (
    await h.sql.query(`SELECT subject, payload FROM outbox WHERE payload->>'user_id' = $1 ORDER BY id`, [userId])
  ).rows.map((r: { subject: string }) => r.subject);

describe('register: the same answer whether or not the e-mail has an account', () => {
  it('a taken e-mail and a new one get the same status, headers and body bytes', async () => {
    const owner = await signUp(h.base);
    const attempt = { password: 'mallory wants in 123', display_name: 'Mallory' };
    const taken = await raw('/auth/register', { email: owner.email.toUpperCase(), ...attempt });
    const fresh = await raw('/auth/register', { email: email('fresh'), ...attempt });
    expect(taken.status).toBe(202);
    expect(taken).toEqual(fresh);
    expect(JSON.parse(taken.body)).toEqual({ status: 'accepted', message: expect.any(String) });
  });

  it("the taken account is left as it was: row, password, sessions; its owner's tokens still work", async () => {
    const owner = await signUp(h.base);
    const before = { account: await accountRow(owner.email), sessions: await sessionRows(owner.userId) };
    const attackerPassword = 'mallory wants in 456';
    const r = await call(h.base, 'POST', '/auth/register', {
      body: { email: owner.email, password: attackerPassword, display_name: 'Mallory' },
    });
    expect(r.status).toBe(202);
    expect(await accountRow(owner.email)).toEqual(before.account);
    expect(await sessionRows(owner.userId)).toEqual(before.sessions);
    const login = (password: string) => call(h.base, 'POST', '/auth/login', { body: { email: owner.email, password } });
    expect((await login(attackerPassword)).status).toBe(401);
    expect((await login(PASSWORD)).status).toBe(200);
    expect((await call(h.base, 'GET', '/auth/me', { token: owner.access_token })).status).toBe(200);
    expect((await call(h.base, 'POST', '/auth/refresh', { body: { refresh_token: owner.refresh_token } })).status).toBe(
      200,
    );
  });

  it('the owner can be told: an event names the account, and no password is written to events or logs', async () => {
    const owner = await signUp(h.base);
    const attackerPassword = 'mallory wants in 789';
    await call(h.base, 'POST', '/auth/register', { body: { email: owner.email, password: attackerPassword } });
    expect(await outbox(owner.userId)).toEqual([
      EVENTS.userRegistered,
      EVENTS.userLoggedIn,
      EVENTS.userRegistrationForExisting,
    ]);
    const { rows } = await h.sql.query('SELECT payload::text AS p FROM outbox');
    for (const secret of [attackerPassword, PASSWORD]) {
      expect(rows.some((r: { p: string }) => r.p.includes(secret))).toBe(false);
      expect(h.logs.text).not.toContain(secret);
    }
  });

  it('parallel registrations of one new e-mail: no 500, one account, every answer the same', async () => {
    const address = email('race');
    const passwords = Array.from({ length: 6 }, (_, i) => `racing password number ${i}`);
    const answers = await Promise.all(passwords.map((password) => raw('/auth/register', { email: address, password })));
    for (const a of answers) expect(a).toEqual(answers[0]);
    expect(answers[0]!.status).toBe(202);
    const { rows } = await h.sql.query('SELECT id FROM users WHERE email = $1', [address]);
    expect(rows).toHaveLength(1);
    // One registration won; every other one is recorded as an attempt on the existing account.
    const events = await outbox(rows[0].id);
    expect(events.filter((s) => s === EVENTS.userRegistered)).toHaveLength(1);
    expect(events.filter((s) => s === EVENTS.userRegistrationForExisting)).toHaveLength(passwords.length - 1);
    const logins = await Promise.all(
      passwords.map((password) => call(h.base, 'POST', '/auth/login', { body: { email: address, password } })),
    );
    expect(logins.map((l) => l.status).sort()).toEqual([200, ...Array<number>(passwords.length - 1).fill(401)]);
  });

  it('a registration that waits on another one of the same e-mail, committed or rolled back, is neither a 500 nor different', async () => {
    // Hashing runs on few threads, so parallel requests rarely overlap in the database: here the other
    // registration is a transaction the test holds open on the same e-mail while the request arrives.
    for (const outcome of ['COMMIT', 'ROLLBACK'] as const) {
      const address = email(`held-${outcome.toLowerCase()}`);
      const other = await h.sql.connect();
      try {
        await other.query('BEGIN');
        await other.query('INSERT INTO users (email) VALUES ($1)', [address]);
        const pending = raw('/auth/register', { email: address, password: PASSWORD });
        // The request's insert now waits on the held row's unique-index entry.
        await waitForLockWait();
        await other.query(outcome);
        const answer = await pending;
        expect(answer).toEqual(await raw('/auth/register', { email: email('held-fresh'), password: PASSWORD }));
        const { rows } = await h.sql.query(
          'SELECT id, password_hash IS NOT NULL AS has_password FROM users WHERE email = $1',
          [address],
        );
        expect(rows).toHaveLength(1);
        const events = await outbox(rows[0].id);
        // Committed: the held account stays as it was (no password) and the attempt is recorded on it.
        // Rolled back: the request created the account.
        if (outcome === 'COMMIT') {
          expect(rows[0].has_password).toBe(false);
          expect(events).toEqual([EVENTS.userRegistrationForExisting]);
        } else {
          expect(rows[0].has_password).toBe(true);
          expect(events).toEqual([EVENTS.userRegistered]);
        }
      } finally {
        // Nothing held is left behind if an expectation failed midway.
        await other.query('ROLLBACK').catch(() => undefined);
        other.release();
      }
    }
  });
});

/** Waits until some statement of the auth database waits for a transaction lock. */
async function waitForLockWait(): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const { rows } = await h.sql.query(
      `SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
    );
    if (rows.length) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error('no registration waited on the held row');
}

describe('login: the same answer for every kind of failure', () => {
  it('unknown e-mail, wrong password, account without a password (OAuth) and disabled account answer alike', async () => {
    const withPassword = await signUp(h.base);
    const disabled = await signUp(h.base);
    await h.sql.query(`UPDATE users SET status = 'disabled' WHERE id = $1`, [disabled.userId]);
    const oauthOnly = email('oauth-only');
    await h.sql.query('INSERT INTO users (email, password_hash, email_verified) VALUES ($1, NULL, true)', [oauthOnly]);
    const answers = [
      await raw('/auth/login', { email: email('nobody'), password: 'some password here' }),
      await raw('/auth/login', { email: withPassword.email, password: 'some password here' }),
      await raw('/auth/login', { email: oauthOnly, password: 'some password here' }),
      // The right password of a disabled account says no more than a wrong one.
      await raw('/auth/login', { email: disabled.email, password: PASSWORD }),
    ];
    expect(answers[0]!.status).toBe(401);
    for (const a of answers) expect(a).toEqual(answers[0]);
  });
});
