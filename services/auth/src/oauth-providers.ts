/**
 * The OAuth providers auth may use (Google, GitHub): their endpoints and the client credentials that
 * enable each. Apart from the flow (oauth.ts) so that the context can name the providers without
 * importing the flow, which needs the context.
 */
const OAUTH_PROVIDERS = ['google', 'github'] as const;
export type ProviderName = (typeof OAUTH_PROVIDERS)[number];

export interface ProviderEndpoints {
  readonly authorizeUrl: string;
  readonly tokenUrl: string;
  readonly userInfoUrl: string;
  /** GitHub: the address list with `verified` flags (`/user` may omit the e-mail). */
  readonly emailsUrl?: string;
}

export interface OAuthProviderConfig extends ProviderEndpoints {
  readonly clientId: string;
  readonly clientSecret: string;
  readonly scope: string;
}

export type OAuthProviders = Partial<Record<ProviderName, OAuthProviderConfig>>;

/** The providers' public endpoints; tests point them at a local fake provider. */
const DEFAULT_ENDPOINTS: Record<ProviderName, ProviderEndpoints & { scope: string }> = {
  google: {
    authorizeUrl: 'https://accounts.google.com/o/oauth2/v2/auth',
    tokenUrl: 'https://oauth2.googleapis.com/token',
    userInfoUrl: 'https://openidconnect.googleapis.com/v1/userinfo',
    scope: 'openid email profile',
  },
  github: {
    authorizeUrl: 'https://github.com/login/oauth/authorize',
    tokenUrl: 'https://github.com/login/oauth/access_token',
    userInfoUrl: 'https://api.github.com/user',
    emailsUrl: 'https://api.github.com/user/emails',
    scope: 'read:user user:email',
  },
};

/** A provider is enabled when both its client id and secret are set. */
export function oauthProviders(
  credentials: Partial<Record<ProviderName, { clientId?: string | undefined; clientSecret?: string | undefined }>>,
  endpoints: Partial<Record<ProviderName, Partial<ProviderEndpoints>>> = {},
): OAuthProviders {
  const out: OAuthProviders = {};
  for (const name of OAUTH_PROVIDERS) {
    const c = credentials[name];
    if (c?.clientId && c.clientSecret)
      out[name] = {
        ...DEFAULT_ENDPOINTS[name],
        ...endpoints[name],
        clientId: c.clientId,
        clientSecret: c.clientSecret,
      };
  }
  return out;
}
