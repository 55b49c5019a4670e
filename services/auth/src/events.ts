import { AUTH_EVENT_SUBJECTS } from '#contract';

/**
 * Auth events (subjects under SUBJECTS.authUser / SUBJECTS.authToken). Payloads carry ids and
 * facts, never a secret: no password, token, key or hash.
 */
export const EVENTS = {
  userRegistered: 'prism.auth.user.registered',
  /** Someone registered an e-mail that already has an account (nothing changed): the owner may be told. */
  userRegistrationForExisting: 'prism.auth.user.registration_for_existing',
  userLoggedIn: 'prism.auth.user.logged_in',
  userPasswordChanged: 'prism.auth.user.password_changed',
  userOAuthLinked: 'prism.auth.user.oauth_linked',
  sessionRevoked: AUTH_EVENT_SUBJECTS.sessionRevoked,
  refreshReuseDetected: 'prism.auth.token.refresh_reuse_detected',
  apiKeyCreated: 'prism.auth.token.api_key_created',
  apiKeyRevoked: AUTH_EVENT_SUBJECTS.apiKeyRevoked,
} as const;

export type EventSubject = (typeof EVENTS)[keyof typeof EVENTS];
