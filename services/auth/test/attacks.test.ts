import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTH_REDIS_KEYS } from '#contract';
import { MAX_ACTIVE_API_KEYS } from '../src/api-keys.js';
import { DEFAULT_THROTTLE } from '../src/throttle.js';
import { authClient } from './support/grpc.js';
import { call, email, type Harness, PASSWORD, signUp, startHarness } from './support/harness.js';

/**
 * Attacks on auth from outside (issue 13): each test performs the attack against the real
 * service (PostgreSQL, Redis) and asserts it fails.
 */

/** Auth behind a forwarder on 127.0.0.1 (the gateway, the edge proxy): X-Forwarded-For says who the client is. */
let proxied: Harness;
/** Auth with nothing trusted: every request is its own client. */
let direct: Harness;
beforeAll(async () => {
  [proxied, direct] = await Promise.all([
    startHarness({ env: { PRISM_TRUSTED_PROXIES: '127.0.0.1/32' } }),
    startHarness(),
  ]);
});
afterAll(async () => {
  await Promise.all([proxied?.close(), direct?.close()]);
});

const loginFrom = (h: Harness, ip: string, address: string, password: string) =>
  call(h.base, 'POST', '/auth/login', { body: { email: address, password }, headers: { 'x-forwarded-for': ip } });

describe('lockout: guesses from one place do not lock the owner out elsewhere', () => {
  it('an attacker failing over and over from one address is locked; the owner elsewhere signs in', async () => {
    const victim = email('victim');
    await call(proxied.base, 'POST', '/auth/register', { body: { email: victim, password: PASSWORD } });
    // The attacker keeps guessing from one address, as each lock ends.
    for (let i = 0; i < DEFAULT_THROTTLE.freeFailures + 3; i++)
      await loginFrom(proxied, '203.0.113.66', victim, `attacker guess ${i} xx`);
    expect((await loginFrom(proxied, '203.0.113.66', victim, 'attacker guess again')).status).toBe(429);
    // The owner, from their own address, is not locked out.
    expect((await loginFrom(proxied, '198.51.100.7', victim, PASSWORD)).status).toBe(200);
  });

  it('guesses spread over many addresses lock the account for new addresses, never for one the owner signed in from', async () => {
    const victim = email('victim');
    await call(proxied.base, 'POST', '/auth/register', { body: { email: victim, password: PASSWORD } });
    expect((await loginFrom(proxied, '198.51.100.8', victim, PASSWORD)).status).toBe(200);
    // A botnet: a few guesses from each of many addresses, under every per-address limit.
    const perAddress = DEFAULT_THROTTLE.freeFailures - 1;
    const addresses = Math.ceil((DEFAULT_THROTTLE.accountFreeFailures + 1) / perAddress);
    for (let a = 0; a < addresses; a++) {
      for (let i = 0; i < perAddress; i++)
        await loginFrom(proxied, `203.0.113.${a + 1}`, victim, `spread guess ${a}.${i}`);
    }
    // A new address is now refused, even with the right password: the total guesses are capped.
    const fresh = await loginFrom(proxied, '192.0.2.200', victim, PASSWORD);
    expect(fresh.status).toBe(429);
    expect(Number(fresh.headers.get('retry-after'))).toBeGreaterThan(0);
    // The owner, from an address they signed in from before, still gets in.
    expect((await loginFrom(proxied, '198.51.100.8', victim, PASSWORD)).status).toBe(200);
  });
});

describe('session IP', () => {
  it('a client-supplied X-Forwarded-For is not recorded when the request does not come from a trusted forwarder', async () => {
    const u = await signUp(direct.base);
    const login = await call(direct.base, 'POST', '/auth/login', {
      body: { email: u.email, password: PASSWORD },
      headers: { 'x-forwarded-for': '203.0.113.99' },
    });
    expect(login.status).toBe(200);
    const { rows } = await direct.sql.query('SELECT host(ip) AS ip FROM sessions WHERE id = $1', [
      login.body.session_id,
    ]);
    expect(rows[0].ip).toBe('127.0.0.1');
  });

  it('behind a trusted forwarder, the right-most untrusted X-Forwarded-For hop is the client (earlier entries are the client’s own)', async () => {
    const u = await signUp(proxied.base);
    const login = await call(proxied.base, 'POST', '/auth/login', {
      body: { email: u.email, password: PASSWORD },
      headers: { 'x-forwarded-for': '203.0.113.99, 198.51.100.20' },
    });
    expect(login.status).toBe(200);
    const { rows } = await proxied.sql.query('SELECT host(ip) AS ip FROM sessions WHERE id = $1', [
      login.body.session_id,
    ]);
    expect(rows[0].ip).toBe('198.51.100.20');
  });
});

describe('API keys', () => {
  it(`an account holds at most ${MAX_ACTIVE_API_KEYS} active keys, even when created in parallel; a revoked key frees a place`, async () => {
    const u = await signUp(direct.base);
    const create = (i: number) =>
      call(direct.base, 'POST', '/auth/api-keys', { token: u.access_token, body: { name: `key ${i}` } });
    const results = await Promise.all(Array.from({ length: MAX_ACTIVE_API_KEYS + 5 }, (_, i) => create(i)));
    expect(results.filter((r) => r.status === 201)).toHaveLength(MAX_ACTIVE_API_KEYS);
    const refused = results.filter((r) => r.status !== 201);
    expect(refused).toHaveLength(5);
    for (const r of refused) {
      expect(r.status).toBe(409);
      expect(r.body.error).toBe('api_key_limit');
      expect(r.body.message).toContain(String(MAX_ACTIVE_API_KEYS));
    }
    const { rows } = await direct.sql.query('SELECT count(*)::int AS n FROM api_keys WHERE user_id = $1', [u.userId]);
    expect(rows[0].n).toBe(MAX_ACTIVE_API_KEYS);
    const one = results.find((r) => r.status === 201)!;
    expect((await call(direct.base, 'DELETE', `/auth/api-keys/${one.body.id}`, { token: u.access_token })).status).toBe(
      204,
    );
    expect((await create(99)).status).toBe(201);
  });
});

describe('control characters in names', () => {
  const NUL = '\u0000';
  it('a NUL (or another control character) in a display name is a 400 naming the field, not a 500', async () => {
    for (const bad of [`Mallory${NUL}`, `Mal${NUL}lory`, 'Mal\u0007lory', 'Mal\u001blory', 'Mal\u007flory']) {
      const r = await call(direct.base, 'POST', '/auth/register', {
        body: { email: email(), password: PASSWORD, display_name: bad },
      });
      expect(r.status).toBe(400);
      expect(r.body.fields.map((f: { field: string }) => f.field)).toEqual(['display_name']);
    }
    // Ordinary non-ASCII names still work.
    expect(
      (
        await call(direct.base, 'POST', '/auth/register', {
          body: { email: email(), password: PASSWORD, display_name: 'Zoë Ødegård 山田' },
        })
      ).status,
    ).toBe(202);
  });

  it('a NUL in an API-key name is a 400 naming the field, not a 500', async () => {
    const u = await signUp(direct.base);
    for (const bad of [`ci${NUL}`, `c${NUL}i`, 'ci\u0085', 'line\nbreak']) {
      const r = await call(direct.base, 'POST', '/auth/api-keys', { token: u.access_token, body: { name: bad } });
      expect(r.status).toBe(400);
      expect(r.body.fields.map((f: { field: string }) => f.field)).toEqual(['name']);
    }
  });
});

describe('non-canonical tokens: one string per token', () => {
  it('auth refuses a valid access token with padding or another spelling of its signature', async () => {
    const u = await signUp(direct.base);
    expect((await call(direct.base, 'GET', '/auth/me', { token: u.access_token })).status).toBe(200);
    const [h, p, s] = u.access_token.split('.') as [string, string, string];
    const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const sameBytes = s.slice(0, -1) + ALPHABET[ALPHABET.indexOf(s.at(-1)!) ^ 1];
    for (const v of [`${u.access_token}=`, `${u.access_token}==`, `${h}.${p}.${sameBytes}`]) {
      const r = await call(direct.base, 'GET', '/auth/me', { token: v });
      expect(r.status).toBe(401);
    }
  });
});

describe('a password change', () => {
  const NEW = 'a brand new passphrase';

  it('revokes every API key of the account: a key minted with a stolen session dies with the password', async () => {
    const u = await signUp(direct.base);
    const created = await call(direct.base, 'POST', '/auth/api-keys', {
      token: u.access_token,
      body: { name: 'minted by the thief' },
    });
    expect(created.status).toBe(201);
    const grpc = authClient(direct.grpcPort);
    try {
      expect(await grpc.validateApiKey({ apiKey: created.body.key })).toMatchObject({ valid: true, userId: u.userId });
      const changed = await call(direct.base, 'POST', '/auth/password', {
        token: u.access_token,
        body: { current_password: PASSWORD, new_password: NEW },
      });
      expect(changed.status).toBe(200);
      expect(changed.body).toEqual({ revoked_sessions: 0, revoked_api_keys: 1 });
      expect(await grpc.validateApiKey({ apiKey: created.body.key })).toMatchObject({
        valid: false,
        reason: 'revoked',
      });
      // The gateway's marker is set, so a validation it holds cached dies at once too.
      const [host, port] = process.env.PRISM_TEST_REDIS_ADDRESS!.split(':');
      const redis = new Redis({ host: host!, port: Number(port), password: process.env.PRISM_TEST_REDIS_PASSWORD });
      expect(await redis.get(AUTH_REDIS_KEYS.revokedApiKey(created.body.id))).toBe('revoked');
      redis.disconnect();
      const keys = await call(direct.base, 'GET', '/auth/api-keys', { token: u.access_token });
      expect(keys.body.api_keys[0].revoked_at).not.toBeNull();
    } finally {
      grpc.close();
    }
  });

  it('guesses of the current password are throttled: after the free failures even the right one is refused until the lock ends', async () => {
    const u = await signUp(direct.base);
    const change = (current: string) =>
      call(direct.base, 'POST', '/auth/password', {
        token: u.access_token,
        body: { current_password: current, new_password: NEW },
      });
    // As for logins: the free failures, and the one that sets the lock, are checked.
    for (let i = 0; i <= DEFAULT_THROTTLE.freeFailures; i++)
      expect((await change(`guess number ${i} xx`)).status).toBe(403);
    const locked = await change('one more guess xxx');
    expect(locked.status).toBe(429);
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(0);
    // The guess that would be right is not even checked while locked.
    expect((await change(PASSWORD)).status).toBe(429);
    // The lock stops password changes only: the owner still signs in.
    expect(
      (await call(direct.base, 'POST', '/auth/login', { body: { email: u.email, password: PASSWORD } })).status,
    ).toBe(200);
  });
});
