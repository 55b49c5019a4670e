/**
 * Headers the gateway sets on requests it forwards, carrying the verified identity. The gateway
 * removes every header starting with {@link IDENTITY_HEADER_PREFIX} that a client sends, so
 * upstream services may trust them.
 */
export const IDENTITY_HEADER_PREFIX = 'x-prism-';

export const IDENTITY_HEADERS = {
  /** `jwt` or `api_key`. */
  method: 'x-prism-auth-method',
  /** The user id (JWT `sub`, or the API key's owner). */
  userId: 'x-prism-user-id',
  /** Space-separated scopes (JWT `scope`, or the API key's scopes). */
  scopes: 'x-prism-scopes',
  /** Comma-separated roles (JWT `roles`). */
  roles: 'x-prism-roles',
  /** The API key's id (never the key itself). */
  apiKeyId: 'x-prism-api-key-id',
} as const;
