import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as S from '../src/http/schemas.js';
import { type FakeProvider, startFakeProvider } from './support/fake-oauth.js';
import { call, email, type Harness, signUp, startHarness } from './support/harness.js';

const PUBLIC = 'https://prism.test';
const CLIENTS = {
  'google-client': { secret: 'google-secret-value', redirectUris: [`${PUBLIC}/auth/oauth/google/callback`] },
  'github-client': { secret: 'github-secret-value', redirectUris: [`${PUBLIC}/auth/oauth/github/callback`] },
};

let h: Harness;
let fake: FakeProvider;
beforeAll(async () => {
  fake = await startFakeProvider(CLIENTS);
  h = await startHarness({
    env: {
      PRISM_PUBLIC_BASE_URL: PUBLIC,
      PRISM_GOOGLE_CLIENT_ID: 'google-client',
      PRISM_GOOGLE_CLIENT_SECRET: 'google-secret-value',
      PRISM_GITHUB_CLIENT_ID: 'github-client',
      PRISM_GITHUB_CLIENT_SECRET: 'github-secret-value',
    },
    oauthEndpoints: { google: fake.endpoints('google'), github: fake.endpoints('github') },
  });
});
afterAll(async () => {
  await h?.close();
  await fake?.close();
});

/** The browser's part: follow the provider's redirect; returns the callback path on our service. */
async function authorizeAtProvider(authorizationUrl: string): Promise<string> {
  const res = await fetch(authorizationUrl, { redirect: 'manual' });
  expect(res.status).toBe(302);
  const back = new URL(res.headers.get('location')!);
  expect(back.origin).toBe(PUBLIC);
  return back.pathname + back.search;
}

/** The `name=value` of the linking cookie a link response sets: what the same browser sends back to the callback. */
function linkCookieOf(res: { headers: Headers }): string {
  return res.headers.get('set-cookie')!.split(';', 1)[0]!;
}

async function startSignIn(provider: 'google' | 'github'): Promise<string> {
  const start = await call(h.base, 'GET', `/auth/oauth/${provider}/authorize`);
  expect(start.status).toBe(302);
  return start.headers.get('location')!;
}

describe('OAuth sign-in and linking against a local provider', () => {
  it('GitHub: code flow with state and PKCE S256 and the exact redirect URI; creates the account', async () => {
    fake.nextUser = { id: '4242', email: email('octo'), verified: true, name: 'Octo Cat' };
    const location = new URL(await startSignIn('github'));
    expect(location.origin + location.pathname).toBe(`${fake.base}/github/authorize`);
    expect(location.searchParams.get('redirect_uri')).toBe(`${PUBLIC}/auth/oauth/github/callback`);
    expect(location.searchParams.get('code_challenge_method')).toBe('S256');
    expect(location.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(location.searchParams.get('state')).toMatch(/^[A-Za-z0-9_-]{43}$/);

    const callback = await authorizeAtProvider(location.toString());
    const done = await call(h.base, 'GET', callback);
    expect(done.status).toBe(200);
    const tokens = S.TokenPair.parse(done.body);
    const me = await call(h.base, 'GET', '/auth/me', { token: tokens.access_token });
    expect(me.body).toMatchObject({
      email: fake.nextUser.email.toLowerCase(),
      email_verified: true,
      display_name: 'Octo Cat',
    });
    const sent = fake.tokenRequests.at(-1)!;
    expect(sent.get('redirect_uri')).toBe(`${PUBLIC}/auth/oauth/github/callback`);
    expect(sent.get('code_verifier')).toMatch(/^[A-Za-z0-9_-]{43}$/);

    // The state (and with it the code) works once.
    const replay = await call(h.base, 'GET', callback);
    expect(replay.status).toBe(400);
    expect(replay.body.error).toBe('invalid_state');

    // Signing in again finds the linked account.
    const again = await call(h.base, 'GET', await authorizeAtProvider(await startSignIn('github')));
    expect(again.status).toBe(200);
    expect((await call(h.base, 'GET', '/auth/me', { token: again.body.access_token })).body.id).toBe(me.body.id);
  });

  it('a code already spent at the provider is refused, and a wrong PKCE verifier too', async () => {
    fake.nextUser = { id: '5151', email: email('pkce'), verified: true, name: 'P K' };
    const first = await authorizeAtProvider(await startSignIn('google'));
    expect((await call(h.base, 'GET', first)).status).toBe(200);
    const usedCode = new URL(first, PUBLIC).searchParams.get('code')!;
    // A fresh state with the spent code: the provider refuses the code.
    const second = new URL(await authorizeAtProvider(await startSignIn('google')), PUBLIC);
    const r = await call(
      h.base,
      'GET',
      `${second.pathname}?state=${second.searchParams.get('state')}&code=${usedCode}`,
    );
    expect(r.status).toBe(400);
    expect(r.body.error).toBe('oauth_exchange_failed');
    // A verifier that does not match the challenge: refused.
    const third = await authorizeAtProvider(await startSignIn('google'));
    await h.sql.query(
      `UPDATE oauth_states SET code_verifier = 'tampered-verifier-tampered-verifier-1234567' WHERE consumed_at IS NULL`,
    );
    const bad = await call(h.base, 'GET', third);
    expect(bad.status).toBe(400);
    expect(bad.body.error).toBe('oauth_exchange_failed');
  });

  it('links Google to a password account, then signs in with Google as that account', async () => {
    const u = await signUp(h.base);
    fake.nextUser = { id: 'g-777', email: email('gmail'), verified: true, name: 'G User' };
    const link = await call(h.base, 'POST', '/auth/oauth/google/link', { token: u.access_token });
    expect(link.status).toBe(200);
    const linked = await call(
      h.base,
      'GET',
      await authorizeAtProvider(S.AuthorizationUrl.parse(link.body).authorization_url),
      { headers: { cookie: linkCookieOf(link) } },
    );
    expect(linked.status).toBe(200);
    expect(S.Linked.parse(linked.body)).toEqual({ linked: true, provider: 'google' });
    const signIn = await call(h.base, 'GET', await authorizeAtProvider(await startSignIn('google')));
    expect(signIn.status).toBe(200);
    expect((await call(h.base, 'GET', '/auth/me', { token: signIn.body.access_token })).body.id).toBe(u.userId);
    const events = await h.sql.query(
      `SELECT subject FROM outbox WHERE payload->>'user_id' = $1 AND subject = 'prism.auth.user.oauth_linked'`,
      [u.userId],
    );
    expect(events.rowCount).toBe(1);

    // The same Google account cannot be linked to a second user.
    const other = await signUp(h.base);
    const link2 = await call(h.base, 'POST', '/auth/oauth/google/link', { token: other.access_token });
    const conflict = await call(h.base, 'GET', await authorizeAtProvider(link2.body.authorization_url), {
      headers: { cookie: linkCookieOf(link2) },
    });
    expect(conflict.status).toBe(409);
  });

  it("linking is bound to the browser that started it: a victim completing the attacker's link URL links nothing (login CSRF)", async () => {
    const attacker = await signUp(h.base);
    const link = await call(h.base, 'POST', '/auth/oauth/google/link', { token: attacker.access_token });
    expect(link.status).toBe(200);
    const cookie = link.headers.get('set-cookie')!;
    expect(cookie).toMatch(
      /^prism_oauth_link=[A-Za-z0-9_-]{43}; Path=\/auth\/oauth\/google\/callback; Max-Age=600; HttpOnly; Secure; SameSite=Lax$/,
    );
    // The victim, signed in at Google, is sent to the attacker's authorization URL and back to our callback,
    // without the attacker's cookie (their own browser has none, or one of their own flow).
    fake.nextUser = { id: 'g-victim', email: email('victim'), verified: true, name: 'Victim' };
    const callback = await authorizeAtProvider(link.body.authorization_url);
    for (const headers of [{}, { cookie: 'prism_oauth_link=' + 'A'.repeat(43) }] as Record<string, string>[]) {
      const r = await call(h.base, 'GET', callback, { headers });
      expect(r.status).toBe(400);
    }
    const links = await h.sql.query('SELECT 1 FROM oauth_accounts WHERE user_id = $1', [attacker.userId]);
    expect(links.rowCount).toBe(0);
    // The victim's Google account signs in as the victim's own new account, not the attacker's.
    const victim = await call(h.base, 'GET', await authorizeAtProvider(await startSignIn('google')));
    expect(victim.status).toBe(200);
    expect((await call(h.base, 'GET', '/auth/me', { token: victim.body.access_token })).body.id).not.toBe(
      attacker.userId,
    );
  });

  it('does not let a provider account take over an existing e-mail, nor sign in without a verified e-mail', async () => {
    const u = await signUp(h.base);
    fake.nextUser = { id: 'g-888', email: u.email, verified: true, name: 'Impostor' };
    const takeover = await call(h.base, 'GET', await authorizeAtProvider(await startSignIn('google')));
    expect(takeover.status).toBe(409);
    expect(takeover.body.error).toBe('account_exists');
    fake.nextUser = { id: 'g-999', email: email('unverified'), verified: false, name: 'Unverified' };
    const unverified = await call(h.base, 'GET', await authorizeAtProvider(await startSignIn('google')));
    expect(unverified.status).toBe(400);
    expect(unverified.body.error).toBe('email_unverified');
  });

  it('handles a denied consent, an expired state and an unreachable provider without a 500', async () => {
    const url = new URL(await startSignIn('github'));
    const state = url.searchParams.get('state')!;
    const denied = await call(h.base, 'GET', `/auth/oauth/github/callback?state=${state}&error=access_denied`);
    expect(denied.status).toBe(400);
    expect(denied.body.error).toBe('oauth_denied');

    const expiring = await authorizeAtProvider(await startSignIn('github'));
    await h.sql.query(`UPDATE oauth_states SET expires_at = now() - interval '1 second' WHERE consumed_at IS NULL`);
    expect((await call(h.base, 'GET', expiring)).body.error).toBe('invalid_state');

    const unknown = await call(h.base, 'GET', `/auth/oauth/github/callback?state=made-up-state&code=abc`);
    expect(unknown.status).toBe(400);

    const pending = await authorizeAtProvider(await startSignIn('github'));
    await fake.close();
    const down = await call(h.base, 'GET', pending);
    expect(down.status).toBe(502);
    expect(down.body.error).toBe('provider_unavailable');
  });

  it('keeps codes, states, client secrets and tokens out of the log', async () => {
    await new Promise((r) => setTimeout(r, 20));
    const text = h.logs.text;
    expect(text).toMatch(/"route":"\/auth\/oauth\/:provider\/callback"/);
    for (const secret of ['google-secret-value', 'github-secret-value', 'code=', 'state='])
      expect(text).not.toContain(secret);
    for (const form of fake.tokenRequests) {
      expect(text).not.toContain(form.get('code')!);
      expect(text).not.toContain(form.get('code_verifier')!);
    }
    expect(h.logs.lines.filter((l) => /"status":5\d\d/.test(l)).map((l) => JSON.parse(l).status)).toEqual([502]);
  });
});
