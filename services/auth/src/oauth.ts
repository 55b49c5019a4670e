import { createHash, timingSafeEqual } from 'node:crypto';
import { fetch } from 'undici';
import { z } from 'zod';
import type { AuthContext } from './context.js';
import { inTx } from './db.js';
import { HttpError } from './errors.js';
import { EVENTS } from './events.js';
import { appendEvent } from './outbox.js';
import type { OAuthProviderConfig, ProviderName } from './oauth-providers.js';
import { type ClientMeta, openSession, tokenPair, type TokenPair } from './sessions.js';
import { opaqueToken, sha256 } from './tokens.js';

/**
 * Google and GitHub sign-in and account linking: the authorization-code flow with a single-use
 * `state` (stored as its hash, 10 minutes), PKCE S256 (both providers support it; the verifier
 * stays server-side), and the exact redirect URI `<PRISM_PUBLIC_BASE_URL>/auth/oauth/<provider>/callback`
 * sent both to the authorization and to the token endpoint.
 */
function redirectUri(publicBaseUrl: string, provider: ProviderName): string {
  return `${publicBaseUrl.replace(/\/+$/, '')}/auth/oauth/${provider}/callback`;
}

const STATE_TTL_SECONDS = 600;
const PROVIDER_TIMEOUT_MS = 5_000;

function provider(ctx: AuthContext, name: ProviderName): OAuthProviderConfig {
  const p = ctx.oauth[name];
  if (!p) throw new HttpError(404, 'provider_disabled', `${name} sign-in is not configured`);
  return p;
}

/** The cookie that binds a linking flow to the browser that started it; scoped to the callback path. */
export const LINK_COOKIE = 'prism_oauth_link';

/** `Set-Cookie` for a linking flow's binding: only the callback sees it, only over HTTPS, never script. */
export function linkCookie(provider: ProviderName, binding: string): string {
  return `${LINK_COOKIE}=${binding}; Path=/auth/oauth/${provider}/callback; Max-Age=${STATE_TTL_SECONDS}; HttpOnly; Secure; SameSite=Lax`;
}

/**
 * Stores a pending flow and returns the provider's authorization URL. `linkUserId`: link to this
 * account instead of signing in; the flow is then bound to the caller by `linkBinding`, a random value
 * the caller sets as the {@link LINK_COOKIE} cookie: the callback links only for a browser presenting it.
 */
export async function startAuthorization(
  ctx: AuthContext,
  name: ProviderName,
  linkUserId?: string,
): Promise<{ url: string; linkBinding?: string }> {
  const p = provider(ctx, name);
  const state = opaqueToken();
  const verifier = opaqueToken();
  const binding = linkUserId ? opaqueToken() : undefined;
  const redirect = redirectUri(ctx.settings.publicBaseUrl, name);
  await inTx(ctx.db, (tx) =>
    tx.query(
      `INSERT INTO oauth_states (state_hash, provider, code_verifier, redirect_uri, link_user_id, link_binding_hash, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, now() + make_interval(secs => $7))`,
      [
        sha256(state),
        name,
        verifier,
        redirect,
        linkUserId ?? null,
        binding ? sha256(binding) : null,
        STATE_TTL_SECONDS,
      ],
    ),
  );
  const url = new URL(p.authorizeUrl);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: p.clientId,
    redirect_uri: redirect,
    scope: p.scope,
    state,
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
  }).toString();
  return binding ? { url: url.toString(), linkBinding: binding } : { url: url.toString() };
}

export type CallbackResult =
  { kind: 'signed_in'; tokens: TokenPair; created: boolean } | { kind: 'linked'; provider: ProviderName };

interface Identity {
  subject: string;
  email: string | undefined;
  emailVerified: boolean;
  name: string | undefined;
}

export async function completeAuthorization(
  ctx: AuthContext,
  name: ProviderName,
  params: { code?: string | undefined; state: string; error?: string | undefined },
  meta: ClientMeta,
  /** The {@link LINK_COOKIE} the browser sent, if any. */
  linkBinding?: string,
): Promise<CallbackResult> {
  const p = provider(ctx, name);
  // The state is consumed first, whatever happens next: a state (and its code) works once.
  const { rows } = await inTx(ctx.db, (tx) =>
    tx.query<{
      code_verifier: string;
      redirect_uri: string;
      link_user_id: string | null;
      link_binding_hash: Buffer | null;
    }>(
      `UPDATE oauth_states SET consumed_at = now()
        WHERE state_hash = $1 AND provider = $2 AND consumed_at IS NULL AND expires_at > now()
        RETURNING code_verifier, redirect_uri, link_user_id, link_binding_hash`,
      [sha256(params.state), name],
    ),
  );
  const pending = rows[0];
  if (!pending) throw new HttpError(400, 'invalid_state', 'unknown, expired or already used OAuth state');
  // A linking flow completes only in the browser that started it: someone else's link URL links nothing (login CSRF).
  if (
    pending.link_user_id &&
    !(pending.link_binding_hash && linkBinding && timingSafeEqual(sha256(linkBinding), pending.link_binding_hash))
  ) {
    throw new HttpError(
      400,
      'link_not_bound',
      'this linking was started elsewhere: start it again from your account in this browser',
    );
  }
  if (params.error || !params.code)
    throw new HttpError(
      400,
      'oauth_denied',
      `the provider returned no code${params.error ? ` (${params.error.slice(0, 100)})` : ''}`,
    );

  const accessToken = await exchangeCode(p, params.code, pending.redirect_uri, pending.code_verifier);
  const identity = await fetchIdentity(name, p, accessToken);

  if (pending.link_user_id) {
    await link(ctx, name, pending.link_user_id, identity, meta);
    return { kind: 'linked', provider: name };
  }
  return signIn(ctx, name, identity, meta);
}

const TokenResponse = z.object({ access_token: z.string().min(1) });
const GoogleUser = z.object({
  sub: z.string().min(1),
  email: z.string().optional(),
  email_verified: z.boolean().optional(),
  name: z.string().optional(),
});
const GitHubUser = z.object({
  id: z.number().int(),
  login: z.string(),
  name: z.string().nullish(),
  email: z.string().nullish(),
});
const GitHubEmails = z.array(z.object({ email: z.string(), primary: z.boolean(), verified: z.boolean() }));

async function providerJson(
  url: string,
  init: Parameters<typeof fetch>[1],
): Promise<{ status: number; body: unknown }> {
  let res;
  try {
    res = await fetch(url, { ...init, signal: AbortSignal.timeout(PROVIDER_TIMEOUT_MS) });
  } catch (e) {
    throw new HttpError(502, 'provider_unavailable', `the OAuth provider could not be reached (${(e as Error).name})`);
  }
  if (res.status >= 500) throw new HttpError(502, 'provider_unavailable', `the OAuth provider answered ${res.status}`);
  const body = await res.json().catch(() => undefined);
  return { status: res.status, body };
}

async function exchangeCode(p: OAuthProviderConfig, code: string, redirect: string, verifier: string): Promise<string> {
  const { status, body } = await providerJson(p.tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      redirect_uri: redirect,
      client_id: p.clientId,
      client_secret: p.clientSecret,
      code_verifier: verifier,
    }).toString(),
  });
  const parsed = TokenResponse.safeParse(body);
  // GitHub answers 200 with {"error": ...} for a bad code.
  if (status !== 200 || !parsed.success)
    throw new HttpError(400, 'oauth_exchange_failed', 'the provider refused the authorization code');
  return parsed.data.access_token;
}

async function fetchIdentity(name: ProviderName, p: OAuthProviderConfig, accessToken: string): Promise<Identity> {
  const headers = { authorization: `Bearer ${accessToken}`, accept: 'application/json', 'user-agent': 'prism-auth' };
  const user = await providerJson(p.userInfoUrl, { headers });
  if (user.status !== 200)
    throw new HttpError(502, 'provider_error', `the provider's user info answered ${user.status}`);
  if (name === 'google') {
    const g = GoogleUser.safeParse(user.body);
    if (!g.success) throw new HttpError(502, 'provider_error', 'unexpected user info from the provider');
    return {
      subject: g.data.sub,
      email: g.data.email?.toLowerCase(),
      emailVerified: g.data.email_verified === true,
      name: g.data.name,
    };
  }
  const gh = GitHubUser.safeParse(user.body);
  if (!gh.success) throw new HttpError(502, 'provider_error', 'unexpected user info from the provider');
  let email: string | undefined;
  if (p.emailsUrl) {
    const emails = await providerJson(p.emailsUrl, { headers });
    const list = GitHubEmails.safeParse(emails.body);
    if (emails.status === 200 && list.success)
      email = list.data.find((e) => e.primary && e.verified)?.email.toLowerCase();
  }
  return {
    subject: String(gh.data.id),
    email,
    emailVerified: email !== undefined,
    name: gh.data.name ?? gh.data.login,
  };
}

async function link(
  ctx: AuthContext,
  name: ProviderName,
  userId: string,
  id: Identity,
  meta: ClientMeta,
): Promise<void> {
  await inTx(ctx.db, async (tx) => {
    const { rows } = await tx.query<{ user_id: string; provider_user_id: string }>(
      'SELECT user_id, provider_user_id FROM oauth_accounts WHERE (provider = $1 AND provider_user_id = $2) OR (provider = $1 AND user_id = $3)',
      [name, id.subject, userId],
    );
    if (rows.some((r) => r.user_id === userId && r.provider_user_id === id.subject)) return;
    if (rows.some((r) => r.user_id !== userId))
      throw new HttpError(409, 'already_linked', `this ${name} account is linked to another user`);
    if (rows.length) throw new HttpError(409, 'already_linked', `another ${name} account is linked to this user`);
    await tx.query('INSERT INTO oauth_accounts (user_id, provider, provider_user_id, email) VALUES ($1, $2, $3, $4)', [
      userId,
      name,
      id.subject,
      id.email ?? null,
    ]);
    await appendEvent(tx, EVENTS.userOAuthLinked, { user_id: userId, provider: name }, meta.requestId);
  });
  ctx.eventsWritten();
}

/**
 * Signs in the user linked to this provider account. With no link yet, a new account is made
 * from the provider's verified e-mail; an e-mail that already has an account is refused (409):
 * its owner links the provider after signing in, so a provider account cannot take over an
 * existing account by claiming its address.
 */
async function signIn(ctx: AuthContext, name: ProviderName, id: Identity, meta: ClientMeta): Promise<CallbackResult> {
  const result = await inTx(ctx.db, async (tx) => {
    const linked = await tx.query<{ id: string; roles: string[]; status: string }>(
      'SELECT u.id, u.roles, u.status FROM oauth_accounts o JOIN users u ON u.id = o.user_id WHERE o.provider = $1 AND o.provider_user_id = $2',
      [name, id.subject],
    );
    let user = linked.rows[0];
    let created = false;
    if (!user) {
      if (!id.email || !id.emailVerified || /\p{Cc}/u.test(id.email))
        throw new HttpError(400, 'email_unverified', `the ${name} account has no verified e-mail address`);
      const inserted = await tx.query<{ id: string; roles: string[]; status: string }>(
        `INSERT INTO users (email, email_verified, display_name) VALUES ($1, true, $2) ON CONFLICT (email) DO NOTHING RETURNING id, roles, status`,
        // Control characters (a NUL is refused by PostgreSQL) are dropped from the provider's name.
        [id.email, id.name?.replace(/\p{Cc}/gu, '').slice(0, 200) || null],
      );
      user = inserted.rows[0];
      if (!user)
        throw new HttpError(
          409,
          'account_exists',
          `an account with this e-mail exists: sign in with its password and link ${name} from the account`,
        );
      await tx.query(
        'INSERT INTO oauth_accounts (user_id, provider, provider_user_id, email) VALUES ($1, $2, $3, $4)',
        [user.id, name, id.subject, id.email],
      );
      await appendEvent(tx, EVENTS.userRegistered, { user_id: user.id, method: name }, meta.requestId);
      created = true;
    }
    if (user.status !== 'active') throw new HttpError(403, 'account_disabled', 'this account is disabled');
    const session = await openSession(tx, ctx, user.id, meta);
    await appendEvent(
      tx,
      EVENTS.userLoggedIn,
      { user_id: user.id, session_id: session.sessionId, method: name },
      meta.requestId,
    );
    return { user, created, ...session };
  });
  ctx.eventsWritten();
  ctx.authMetrics.logins.inc({ outcome: 'success' });
  return {
    kind: 'signed_in',
    created: result.created,
    tokens: await tokenPair(ctx, result.user.id, result.user.roles, result.sessionId, result.refreshToken),
  };
}
