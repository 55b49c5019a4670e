import type { Logger, ServiceMetrics } from '../../runtime/src/index.js';
import type { Db } from './db.js';
import type { FairQueue } from './fair-queue.js';
import type { OAuthProviders } from './oauth-providers.js';
import type { RevocationList } from './revocation.js';
import type { ThrottlePolicy } from './throttle.js';
import type { AccessTokens } from './tokens.js';
import type { Counter } from 'prom-client';

export interface AuthSettings {
  readonly accessTtlSeconds: number;
  readonly refreshTtlSeconds: number;
  /** PRISM_PUBLIC_BASE_URL: OAuth redirect URIs are `<base>/auth/oauth/<provider>/callback`, exactly. */
  readonly publicBaseUrl: string;
  readonly throttle: ThrottlePolicy;
}

/** What the auth operations need; built once in main.ts (and by the tests). */
export interface AuthContext {
  readonly db: Db;
  readonly revocations: RevocationList;
  readonly tokens: AccessTokens;
  readonly oauth: OAuthProviders;
  readonly settings: AuthSettings;
  readonly log: Logger;
  readonly metrics: ServiceMetrics;
  readonly authMetrics: { readonly logins: Counter<'outcome'>; readonly tokensIssued: Counter<'kind'> };
  /** Token refreshes in progress at once (PRISM_AUTH_REFRESH_CONCURRENCY); the rest wait, or get 503 beyond the bound. */
  readonly refreshes: FairQueue;
  /** Called after a commit that wrote outbox rows, so events leave at once. */
  readonly eventsWritten: () => void;
}
