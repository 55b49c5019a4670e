import { z } from 'zod';
import { PASSWORD_MAX_CHARS, PASSWORD_MIN_CHARS, passwordLength } from '../passwords.js';

/**
 * The request and response schemas of the HTTP API. Requests are validated with them and
 * the OpenAPI document (/auth/openapi.json) is generated from them (zod's toJSONSchema).
 */

/** Counted in characters (code points) as users count them; the JSON Schema keywords say the same. */
const password = z
  .string()
  .refine((p) => passwordLength(p) >= PASSWORD_MIN_CHARS, `must be at least ${PASSWORD_MIN_CHARS} characters`)
  .refine((p) => passwordLength(p) <= PASSWORD_MAX_CHARS, `must be at most ${PASSWORD_MAX_CHARS} characters`)
  .meta({
    minLength: PASSWORD_MIN_CHARS,
    maxLength: PASSWORD_MAX_CHARS,
    format: 'password',
    description: 'Any characters; compared in Unicode NFC, never truncated',
  });

/** Login compares, it does not enforce the policy: any non-empty string up to the maximum. */
const anyPassword = z
  .string()
  .min(1)
  .max(4 * PASSWORD_MAX_CHARS)
  .meta({ format: 'password' });
const email = z.email().max(320);
const uuid = z.uuid();
const scope = z.string().regex(/^[a-z][a-z0-9_.:-]{0,63}$/, 'lower-case letters, digits and _ . : - (at most 64)');

/**
 * A name people give (display name, API-key name): no control characters (C0, DEL, C1). PostgreSQL
 * refuses NUL in text, and the others end up in logs, headers and UIs.
 */
const label = (max: number) =>
  z
    .string()
    .trim()
    .min(1)
    .max(max)
    .regex(/^[^\p{Cc}]*$/u, 'must not contain control characters');

export const RegisterBody = z.strictObject({ email, password, display_name: label(200).optional() });
export const LoginBody = z.strictObject({ email, password: anyPassword });
export const RefreshBody = z.strictObject({ refresh_token: z.string().min(1).max(200) });
export const ChangePasswordBody = z.strictObject({ current_password: anyPassword, new_password: password });
export const CreateApiKeyBody = z.strictObject({
  name: label(100),
  scopes: z.array(scope).max(20).default([]),
  expires_in_days: z.number().int().min(1).max(3650).optional(),
});
export const IdParams = z.strictObject({ id: uuid });
export const ProviderParams = z.strictObject({ provider: z.enum(['google', 'github']) });
export const CallbackQuery = z.object({
  state: z.string().min(1).max(200),
  code: z.string().min(1).max(2000).optional(),
  error: z.string().max(200).optional(),
});

export const ErrorResponse = z.object({
  error: z.string().meta({ description: 'Machine-readable code' }),
  message: z.string(),
  fields: z.array(z.object({ in: z.string(), field: z.string(), message: z.string() })).optional(),
});
export const User = z.object({
  id: uuid,
  email: z.string(),
  email_verified: z.boolean(),
  display_name: z.string().nullable(),
  roles: z.array(z.string()),
  status: z.enum(['active', 'disabled']),
  created_at: z.iso.datetime(),
});
/** The one answer to a valid registration, new e-mail or not (issue 22.11). */
export const RegistrationAccepted = z.object({ status: z.literal('accepted'), message: z.string() });
export const TokenPair = z.object({
  access_token: z.string(),
  token_type: z.literal('Bearer'),
  expires_in: z.number().int(),
  refresh_token: z.string(),
  session_id: uuid,
});
const Session = z.object({
  id: uuid,
  created_at: z.iso.datetime(),
  last_used_at: z.iso.datetime(),
  expires_at: z.iso.datetime(),
  user_agent: z.string().nullable(),
  ip: z.string().nullable(),
  current: z.boolean(),
});
export const SessionList = z.object({ sessions: z.array(Session) });
const ApiKey = z.object({
  id: uuid,
  name: z.string(),
  prefix: z.string(),
  scopes: z.array(z.string()),
  created_at: z.iso.datetime(),
  last_used_at: z.iso.datetime().nullable(),
  expires_at: z.iso.datetime().nullable(),
  revoked_at: z.iso.datetime().nullable(),
});
export const ApiKeyCreated = ApiKey.extend({
  key: z.string().meta({ description: 'The key itself, shown only in this response' }),
});
export const ApiKeyList = z.object({ api_keys: z.array(ApiKey) });
export const PasswordChanged = z.object({ revoked_sessions: z.number().int(), revoked_api_keys: z.number().int() });
export const AuthorizationUrl = z.object({ authorization_url: z.url() });
export const Linked = z.object({ linked: z.literal(true), provider: z.enum(['google', 'github']) });
export const Jwks = z.object({
  keys: z.array(
    z.object({
      kty: z.literal('RSA'),
      kid: z.string(),
      alg: z.literal('RS256'),
      use: z.literal('sig'),
      n: z.string(),
      e: z.string(),
    }),
  ),
});
