import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTH_REDIS_KEYS, REVOCATION_TTL_MARGIN_SECONDS } from '#contract';
import { REGISTRATION_ACCEPTED } from '../src/accounts.js';
import * as S from '../src/http/schemas.js';
import { call, email, type Harness, PASSWORD, signUp, startHarness } from './support/harness.js';

let h: Harness;
let redis: Redis;
beforeAll(async () => {
  // Ten refreshes in flight at once (the race below) need ten slots: the default is the cores available.
  h = await startHarness({ env: { PRISM_AUTH_REFRESH_CONCURRENCY: '16' } });
  const [host, port] = process.env.PRISM_TEST_REDIS_ADDRESS!.split(':');
  redis = new Redis({ host: host!, port: Number(port), password: process.env.PRISM_TEST_REDIS_PASSWORD });
});
afterAll(async () => {
  redis?.disconnect();
  await h?.close();
});

describe('register, login, refresh, logout', () => {
  it('registers a user and signs in with tokens that match the documented schemas', async () => {
    const address = email('Mixed.Case');
    const reg = await call(h.base, 'POST', '/auth/register', {
      body: { email: address.toUpperCase(), password: PASSWORD, display_name: 'Ada' },
    });
    expect(reg.status).toBe(202);
    expect(S.RegistrationAccepted.parse(reg.body)).toEqual(REGISTRATION_ACCEPTED);
    const { rows } = await h.sql.query('SELECT id, password_hash FROM users WHERE email = $1', [address.toLowerCase()]);
    expect(rows[0].password_hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);

    const login = await call(h.base, 'POST', '/auth/login', { body: { email: address, password: PASSWORD } });
    expect(login.status).toBe(200);
    const pair = S.TokenPair.parse(login.body);
    expect(pair.expires_in).toBe(300);
    const me = await call(h.base, 'GET', '/auth/me', { token: pair.access_token });
    expect(me.status).toBe(200);
    expect(S.User.parse(me.body)).toMatchObject({
      id: rows[0].id,
      email: address.toLowerCase(),
      display_name: 'Ada',
      roles: ['user'],
      status: 'active',
    });
  });

  it('creates no second account for the same e-mail, whatever its case', async () => {
    const address = email();
    expect(
      (await call(h.base, 'POST', '/auth/register', { body: { email: address, password: PASSWORD } })).status,
    ).toBe(202);
    const again = await call(h.base, 'POST', '/auth/register', {
      body: { email: address.toUpperCase(), password: PASSWORD },
    });
    expect(again.status).toBe(202);
    const { rows } = await h.sql.query('SELECT count(*)::int AS n FROM users WHERE lower(email) = $1', [
      address.toLowerCase(),
    ]);
    expect(rows[0].n).toBe(1);
  });

  it('rotates the refresh token on every use and stores only its hash', async () => {
    const u = await signUp(h.base);
    const r1 = await call(h.base, 'POST', '/auth/refresh', { body: { refresh_token: u.refresh_token } });
    expect(r1.status).toBe(200);
    expect(r1.body.refresh_token).not.toBe(u.refresh_token);
    expect(r1.body.session_id).toBe(u.session_id);
    const r2 = await call(h.base, 'POST', '/auth/refresh', { body: { refresh_token: r1.body.refresh_token } });
    expect(r2.status).toBe(200);
    const { rows } = await h.sql.query(
      'SELECT encode(token_hash, $2) AS h, parent_id, used_at FROM refresh_tokens WHERE session_id = $1 ORDER BY issued_at',
      [u.session_id, 'base64'],
    );
    expect(rows).toHaveLength(3);
    expect(rows.filter((r) => r.used_at === null)).toHaveLength(1);
    const stored = JSON.stringify(rows);
    for (const t of [u.refresh_token, r1.body.refresh_token, r2.body.refresh_token]) expect(stored).not.toContain(t);
    expect(rows[1].parent_id).not.toBeNull();
  });

  it('revokes the whole family when a spent refresh token is reused, and emits an event', async () => {
    const u = await signUp(h.base);
    const r1 = await call(h.base, 'POST', '/auth/refresh', { body: { refresh_token: u.refresh_token } });
    expect(r1.status).toBe(200);
    // The attacker replays the spent token: refused, and the legitimate successor dies with it.
    const replay = await call(h.base, 'POST', '/auth/refresh', { body: { refresh_token: u.refresh_token } });
    expect(replay.status).toBe(401);
    expect(replay.body.error).toBe('invalid_grant');
    const successor = await call(h.base, 'POST', '/auth/refresh', { body: { refresh_token: r1.body.refresh_token } });
    expect(successor.status).toBe(401);
    const me = await call(h.base, 'GET', '/auth/me', { token: r1.body.access_token });
    expect(me.status).toBe(401);
    const { rows } = await h.sql.query('SELECT revoked_reason FROM sessions WHERE id = $1', [u.session_id]);
    expect(rows[0].revoked_reason).toBe('reuse_detected');
    const events = await h.sql.query(
      `SELECT subject, payload FROM outbox WHERE payload->>'session_id' = $1 ORDER BY id`,
      [u.session_id],
    );
    expect(events.rows.map((r) => r.subject)).toEqual(
      expect.arrayContaining(['prism.auth.token.refresh_reuse_detected', 'prism.auth.token.session_revoked']),
    );
    expect(await redis.get(AUTH_REDIS_KEYS.revokedSession(u.session_id))).toBe('reuse_detected');
  });

  it('the same refresh token sent ten times at once rotates once, and the rest count as reuse', async () => {
    const u = await signUp(h.base);
    // Hold the token's row so that all ten are in flight at once, then let them go together.
    const holder = await h.sql.connect();
    await holder.query('BEGIN');
    await holder.query('SELECT 1 FROM refresh_tokens WHERE session_id = $1 FOR UPDATE', [u.session_id]);
    const pending = Promise.all(
      Array.from({ length: 10 }, () =>
        call(h.base, 'POST', '/auth/refresh', { body: { refresh_token: u.refresh_token } }),
      ),
    );
    await expect
      .poll(async () => {
        const { rows } = await h.sql.query(
          `SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()`,
        );
        return rows[0].n;
      })
      .toBe(10);
    await holder.query('COMMIT');
    holder.release();
    const answers = await pending;
    expect(answers.map((a) => a.status).sort()).toEqual([200, ...Array<number>(9).fill(401)]);
    // One successor only, and it died with the session the replays revoked.
    const { rows } = await h.sql.query('SELECT count(*)::int AS n FROM refresh_tokens WHERE session_id = $1', [
      u.session_id,
    ]);
    expect(rows[0].n).toBe(2);
    const session = await h.sql.query('SELECT revoked_reason FROM sessions WHERE id = $1', [u.session_id]);
    expect(session.rows[0].revoked_reason).toBe('reuse_detected');
    const winner = answers.find((a) => a.status === 200)!;
    const after = await call(h.base, 'POST', '/auth/refresh', { body: { refresh_token: winner.body.refresh_token } });
    expect(after.status).toBe(401);
  });

  it('refuses an expired refresh token and a disabled user’s, spending neither', async () => {
    const expired = await signUp(h.base);
    await h.sql.query(`UPDATE refresh_tokens SET expires_at = now() - interval '1 second' WHERE session_id = $1`, [
      expired.session_id,
    ]);
    const disabled = await signUp(h.base);
    await h.sql.query(`UPDATE users SET status = 'disabled' WHERE id = (SELECT user_id FROM sessions WHERE id = $1)`, [
      disabled.session_id,
    ]);
    for (const u of [expired, disabled]) {
      const r = await call(h.base, 'POST', '/auth/refresh', { body: { refresh_token: u.refresh_token } });
      expect(r.status).toBe(401);
      expect(r.body.error).toBe('invalid_grant');
      const { rows } = await h.sql.query('SELECT used_at FROM refresh_tokens WHERE session_id = $1', [u.session_id]);
      expect(rows).toEqual([{ used_at: null }]);
      const s = await h.sql.query('SELECT revoked_at FROM sessions WHERE id = $1', [u.session_id]);
      expect(s.rows[0].revoked_at).toBeNull();
    }
  });

  it('logout revokes the session server-side and tells the gateway through Redis', async () => {
    const u = await signUp(h.base);
    const out = await call(h.base, 'POST', '/auth/logout', { token: u.access_token });
    expect(out.status).toBe(204);
    const key = AUTH_REDIS_KEYS.revokedSession(u.session_id);
    expect(await redis.get(key)).toBe('logout');
    const ttl = await redis.ttl(key);
    expect(ttl).toBeGreaterThan(300);
    expect(ttl).toBeLessThanOrEqual(300 + REVOCATION_TTL_MARGIN_SECONDS);
    expect((await call(h.base, 'GET', '/auth/me', { token: u.access_token })).status).toBe(401);
    expect((await call(h.base, 'POST', '/auth/refresh', { body: { refresh_token: u.refresh_token } })).status).toBe(
      401,
    );
    // The access token carries the session id the gateway looks up.
    const claims = JSON.parse(Buffer.from(u.access_token.split('.')[1]!, 'base64url').toString());
    expect(claims.sid).toBe(u.session_id);
  });

  it('lists own sessions and revokes one of them, but not somebody else’s', async () => {
    const u = await signUp(h.base);
    const second = await call(h.base, 'POST', '/auth/login', {
      body: { email: u.email, password: PASSWORD },
      headers: { 'user-agent': 'second-device' },
    });
    const list = await call(h.base, 'GET', '/auth/sessions', { token: u.access_token });
    expect(list.status).toBe(200);
    const sessions = S.SessionList.parse(list.body).sessions;
    expect(sessions.map((s) => s.id).sort()).toEqual([u.session_id, second.body.session_id].sort());
    expect(sessions.find((s) => s.current)?.id).toBe(u.session_id);
    expect(sessions.find((s) => !s.current)?.user_agent).toBe('second-device');

    const other = await signUp(h.base);
    expect((await call(h.base, 'DELETE', `/auth/sessions/${other.session_id}`, { token: u.access_token })).status).toBe(
      404,
    );
    expect((await call(h.base, 'GET', '/auth/me', { token: other.access_token })).status).toBe(200);

    expect(
      (await call(h.base, 'DELETE', `/auth/sessions/${second.body.session_id}`, { token: u.access_token })).status,
    ).toBe(204);
    expect((await call(h.base, 'GET', '/auth/me', { token: second.body.access_token })).status).toBe(401);
    expect(await redis.get(AUTH_REDIS_KEYS.revokedSession(second.body.session_id))).toBe('user');
  });

  it('a password change revokes every other session and keeps the current one', async () => {
    const u = await signUp(h.base);
    const other = await call(h.base, 'POST', '/auth/login', { body: { email: u.email, password: PASSWORD } });
    const wrong = await call(h.base, 'POST', '/auth/password', {
      token: u.access_token,
      body: { current_password: 'not the password', new_password: 'a brand new passphrase' },
    });
    expect(wrong.status).toBe(403);
    const changed = await call(h.base, 'POST', '/auth/password', {
      token: u.access_token,
      body: { current_password: PASSWORD, new_password: 'a brand new passphrase' },
    });
    expect(changed.status).toBe(200);
    expect(changed.body).toEqual({ revoked_sessions: 1, revoked_api_keys: 0 });
    expect((await call(h.base, 'GET', '/auth/me', { token: u.access_token })).status).toBe(200);
    expect((await call(h.base, 'GET', '/auth/me', { token: other.body.access_token })).status).toBe(401);
    expect(
      (await call(h.base, 'POST', '/auth/refresh', { body: { refresh_token: other.body.refresh_token } })).status,
    ).toBe(401);
    expect(await redis.get(AUTH_REDIS_KEYS.revokedSession(other.body.session_id))).toBe('password_change');
    expect((await call(h.base, 'POST', '/auth/login', { body: { email: u.email, password: PASSWORD } })).status).toBe(
      401,
    );
    expect(
      (await call(h.base, 'POST', '/auth/login', { body: { email: u.email, password: 'a brand new passphrase' } }))
        .status,
    ).toBe(200);
  });
});
