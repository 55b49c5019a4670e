import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import Fastify, { type FastifyReply, type FastifyRequest, LogController } from 'fastify';
import { z } from 'zod';
import { AUTH_JWKS_PATH, EDGE_ROUTES } from '../../../../infra/contract/index.js';
import { requestIdOf, REQUEST_ID_HEADER } from '../../../runtime/src/index.js';
import { changePassword, getUser, login, register } from '../accounts.js';
import { createApiKey, listApiKeys, MAX_ACTIVE_API_KEYS, revokeApiKey } from '../api-keys.js';
import type { AuthContext } from '../context.js';
import { DependencyUnavailable, HttpError } from '../errors.js';
import { completeAuthorization, startAuthorization } from '../oauth.js';
import { authenticate, type ClientMeta, listSessions, refresh, revokeOwnSession } from '../sessions.js';
import { type AccessClaims, InvalidToken } from '../tokens.js';
import { openApiDocument, type RouteDoc } from './openapi.js';
import * as S from './schemas.js';

export interface AppOptions {
  /** Largest accepted request body. @default 16 KiB (the largest valid body is far smaller) */
  readonly bodyLimitBytes?: number;
  /** True while the service drains: responses carry `Connection: close`. */
  readonly draining?: () => boolean;
  /**
   * Forwarders (addresses, CIDR blocks) whose `X-Forwarded-For` is believed: the gateway and the edge proxy.
   * The client is the right-most hop not in the list. @default none: the socket address, whatever the headers say
   */
  readonly trustedProxies?: readonly string[];
  /** Makes the node server (main.ts: the runtime's http/https server, closed gracefully on shutdown). */
  readonly serverFactory?: (handler: (req: IncomingMessage, res: ServerResponse) => void) => Server;
}

/** A bad request body, query or path parameter, with the zod issues (never the values). */
class RequestValidationError extends Error {
  /** Set by fastify: body, querystring or params. */
  validationContext?: string;
  constructor(readonly issues: z.core.$ZodIssue[]) {
    super('invalid request');
  }
}

type Handler = (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>;
interface Route extends RouteDoc {
  readonly handler: Handler;
}

const A = EDGE_ROUTES.auth;
const err = (description: string) => ({ description, schema: S.ErrorResponse });
const BAD_INPUT = { 400: err('Invalid input; `fields` names each bad field'), 415: err('Not application/json'), 413: err('Body too large') };
const UNAUTHORIZED = { 401: err('Missing, invalid, expired or revoked access token') };

/**
 * The HTTP API under /auth. Builds the app without listening (main.ts listens; tests inject).
 * Request bodies are JSON only (anything else is a 415), at most `bodyLimitBytes` (413), and
 * validated with the zod schemas of schemas.ts (400 naming the field); the same schemas
 * generate /auth/openapi.json.
 */
export function buildApp(ctx: AuthContext, opts: AppOptions = {}) {
  const app = Fastify({
    loggerInstance: ctx.log,
    // One line per request in onResponse (route pattern only: no query string, which may hold an OAuth code).
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'reqId' }),
    bodyLimit: opts.bodyLimitBytes ?? 16 * 1024,
    genReqId: (req) => requestIdOf(req.headers),
    // Only named forwarders: trusting every private address let any client that reaches auth from one
    // (or through a forwarder that keeps the client's header) choose the session IP it is recorded with.
    trustProxy: opts.trustedProxies?.length ? [...opts.trustedProxies] : false,
    return503OnClosing: true,
    ...(opts.serverFactory ? { serverFactory: opts.serverFactory } : {}),
  });
  app.removeContentTypeParser('text/plain');
  app.setValidatorCompiler(({ schema }) => (data) => {
    const result = (schema as z.ZodType).safeParse(data);
    return result.success ? { value: result.data } : { error: new RequestValidationError(result.error.issues) };
  });

  app.addHook('onRequest', async (req, reply) => {
    reply.header(REQUEST_ID_HEADER, req.id);
    reply.header('cache-control', 'no-store');
    if (opts.draining?.()) reply.header('connection', 'close');
  });
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    ctx.metrics.httpRequests.inc({ method: req.method, route, status: String(reply.statusCode) });
    ctx.metrics.httpDuration.observe({ method: req.method, route }, reply.elapsedTime / 1000);
    req.log.info({ method: req.method, route, status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'request');
  });

  app.setErrorHandler((e: Error & { statusCode?: number; code?: string; validationContext?: string }, req, reply) => {
    if (e instanceof RequestValidationError) {
      const where = e.validationContext ?? 'body';
      const fields = e.issues.map((i) => ({ in: where, field: i.path.join('.') || '(root)', message: i.message }));
      return reply.code(400).send({ error: 'invalid_request', message: fields.map((f) => `${f.in}.${f.field}: ${f.message}`).join('; '), fields });
    }
    if (e instanceof HttpError) return reply.code(e.statusCode).headers(e.headers).send({ error: e.code, message: e.message });
    if (e instanceof InvalidToken) {
      return reply
        .code(401)
        .header('www-authenticate', `Bearer error="invalid_token", error_description="${e.reason}"`)
        .send({ error: 'invalid_token', message: `access token ${e.reason.replace(/_/g, ' ')}` });
    }
    if (e instanceof DependencyUnavailable) {
      req.log.warn({ err: e.message }, 'dependency unavailable');
      return reply.code(503).header('retry-after', '1').send({ error: 'unavailable', message: 'temporarily unavailable, retry shortly' });
    }
    // fastify's own client errors: bad JSON (400), unsupported media type (415), too large (413), ...
    if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500) {
      return reply.code(e.statusCode).send({ error: (e.code ?? 'bad_request').replace(/^FST_ERR_/, '').toLowerCase(), message: e.message });
    }
    req.log.error({ err: e }, 'request failed');
    return reply.code(500).send({ error: 'internal', message: 'internal error' });
  });
  app.setNotFoundHandler((_req, reply) => reply.code(404).send({ error: 'not_found', message: 'no such route' }));

  const routes = authRoutes(ctx);
  for (const r of routes) {
    const schema: Record<string, unknown> = {};
    if (r.body) schema.body = r.body;
    if (r.params) schema.params = r.params;
    if (r.query) schema.querystring = r.query;
    app.route({ method: r.method, url: r.url, schema, handler: r.handler });
  }
  const doc = openApiDocument(routes, { title: 'Prism auth', version: '1', serverUrl: '/' });
  app.get(`${A}/openapi.json`, async (_req, reply) => reply.header('cache-control', 'public, max-age=300').send(doc));
  return app;
}

function meta(req: FastifyRequest): ClientMeta {
  const ua = req.headers['user-agent'];
  return { userAgent: typeof ua === 'string' ? ua : undefined, ip: req.ip, requestId: req.id };
}

async function bearer(ctx: AuthContext, req: FastifyRequest): Promise<AccessClaims> {
  const h = req.headers.authorization;
  const m = typeof h === 'string' ? /^Bearer ([A-Za-z0-9._~+/-]+=*)$/i.exec(h) : null;
  if (!m) throw new InvalidToken('malformed');
  return authenticate(ctx, m[1]!);
}

function authRoutes(ctx: AuthContext): Route[] {
  const tokens = { 200: { description: 'Tokens: a short-lived access token and a single-use refresh token', schema: S.TokenPair } };
  return [
    {
      method: 'POST',
      url: `${A}/register`,
      summary: 'Create an account with an e-mail and a password (12 to 128 characters)',
      tags: ['account'],
      body: S.RegisterBody,
      responses: { 201: { description: 'Created', schema: S.User }, ...BAD_INPUT, 409: err('E-mail already registered') },
      handler: async (req, reply) => reply.code(201).send(await register(ctx, req.body as z.infer<typeof S.RegisterBody>, meta(req))),
    },
    {
      method: 'POST',
      url: `${A}/login`,
      summary: 'Sign in with e-mail and password',
      tags: ['session'],
      body: S.LoginBody,
      responses: {
        ...tokens,
        ...BAD_INPUT,
        401: err('Wrong e-mail or password (the same answer for unknown e-mails)'),
        429: { ...err('Too many failures for this e-mail: temporarily locked'), headers: { 'retry-after': 'Seconds until the lock ends' } },
      },
      handler: async (req) => login(ctx, req.body as z.infer<typeof S.LoginBody>, meta(req)),
    },
    {
      method: 'POST',
      url: `${A}/refresh`,
      summary: 'Exchange a refresh token for new tokens (the old refresh token is spent; reusing it revokes the session)',
      tags: ['session'],
      body: S.RefreshBody,
      responses: { ...tokens, ...BAD_INPUT, 401: err('Invalid, expired, spent or revoked refresh token') },
      handler: async (req) => refresh(ctx, (req.body as z.infer<typeof S.RefreshBody>).refresh_token, meta(req)),
    },
    {
      method: 'POST',
      url: `${A}/logout`,
      summary: 'Revoke the current session',
      tags: ['session'],
      bearer: true,
      responses: { 204: { description: 'Revoked' }, ...UNAUTHORIZED },
      handler: async (req, reply) => {
        const c = await bearer(ctx, req);
        await revokeOwnSession(ctx, c.sub, c.sid, 'logout', req.id);
        return reply.code(204).send();
      },
    },
    {
      method: 'GET',
      url: `${A}/me`,
      summary: 'The signed-in user',
      tags: ['account'],
      bearer: true,
      responses: { 200: { description: 'The user', schema: S.User }, ...UNAUTHORIZED },
      handler: async (req) => {
        const c = await bearer(ctx, req);
        const user = await getUser(ctx, c.sub);
        if (!user) throw new InvalidToken('revoked');
        return user;
      },
    },
    {
      method: 'POST',
      url: `${A}/password`,
      summary: 'Change the password; every other session is revoked',
      tags: ['account'],
      bearer: true,
      body: S.ChangePasswordBody,
      responses: { 200: { description: 'Changed', schema: S.PasswordChanged }, ...BAD_INPUT, ...UNAUTHORIZED, 403: err('Wrong current password') },
      handler: async (req) => {
        const c = await bearer(ctx, req);
        return changePassword(ctx, c.sub, c.sid, req.body as z.infer<typeof S.ChangePasswordBody>, meta(req));
      },
    },
    {
      method: 'GET',
      url: `${A}/sessions`,
      summary: "The user's active sessions",
      tags: ['session'],
      bearer: true,
      responses: { 200: { description: 'Sessions, most recently used first', schema: S.SessionList }, ...UNAUTHORIZED },
      handler: async (req) => {
        const c = await bearer(ctx, req);
        return { sessions: await listSessions(ctx, c.sub, c.sid) };
      },
    },
    {
      method: 'DELETE',
      url: `${A}/sessions/:id`,
      summary: 'Revoke one of your sessions',
      tags: ['session'],
      bearer: true,
      params: S.IdParams,
      responses: { 204: { description: 'Revoked' }, ...UNAUTHORIZED, 400: err('Not a session id'), 404: err('No such active session of yours') },
      handler: async (req, reply) => {
        const c = await bearer(ctx, req);
        await revokeOwnSession(ctx, c.sub, (req.params as { id: string }).id, 'user', req.id);
        return reply.code(204).send();
      },
    },
    {
      method: 'POST',
      url: `${A}/api-keys`,
      summary: 'Create an API key; the key is in this response only',
      tags: ['api-keys'],
      bearer: true,
      body: S.CreateApiKeyBody,
      responses: { 201: { description: 'Created', schema: S.ApiKeyCreated }, ...BAD_INPUT, ...UNAUTHORIZED, 409: err(`The account already holds ${MAX_ACTIVE_API_KEYS} active keys`) },
      handler: async (req, reply) => {
        const c = await bearer(ctx, req);
        return reply.code(201).send(await createApiKey(ctx, c.sub, req.body as z.infer<typeof S.CreateApiKeyBody>, req.id));
      },
    },
    {
      method: 'GET',
      url: `${A}/api-keys`,
      summary: 'Your API keys (never the keys themselves)',
      tags: ['api-keys'],
      bearer: true,
      responses: { 200: { description: 'Keys, newest first', schema: S.ApiKeyList }, ...UNAUTHORIZED },
      handler: async (req) => {
        const c = await bearer(ctx, req);
        return { api_keys: await listApiKeys(ctx, c.sub) };
      },
    },
    {
      method: 'DELETE',
      url: `${A}/api-keys/:id`,
      summary: 'Revoke an API key',
      tags: ['api-keys'],
      bearer: true,
      params: S.IdParams,
      responses: { 204: { description: 'Revoked' }, ...UNAUTHORIZED, 400: err('Not a key id'), 404: err('No such active key of yours') },
      handler: async (req, reply) => {
        const c = await bearer(ctx, req);
        await revokeApiKey(ctx, c.sub, (req.params as { id: string }).id, req.id);
        return reply.code(204).send();
      },
    },
    {
      method: 'GET',
      url: `${A}/oauth/:provider/authorize`,
      summary: 'Start signing in with Google or GitHub: redirects to the provider',
      tags: ['oauth'],
      params: S.ProviderParams,
      responses: { 302: { description: 'To the provider', headers: { location: 'Authorization URL' } }, 400: err('Unknown provider'), 404: err('Provider not configured') },
      handler: async (req, reply) => reply.redirect(await startAuthorization(ctx, (req.params as z.infer<typeof S.ProviderParams>).provider), 302),
    },
    {
      method: 'POST',
      url: `${A}/oauth/:provider/link`,
      summary: 'Start linking a Google or GitHub account to the signed-in user',
      tags: ['oauth'],
      bearer: true,
      params: S.ProviderParams,
      responses: { 200: { description: 'Open this URL in the browser', schema: S.AuthorizationUrl }, ...UNAUTHORIZED, 404: err('Provider not configured') },
      handler: async (req) => {
        const c = await bearer(ctx, req);
        return { authorization_url: await startAuthorization(ctx, (req.params as z.infer<typeof S.ProviderParams>).provider, c.sub) };
      },
    },
    {
      method: 'GET',
      url: `${A}/oauth/:provider/callback`,
      summary: 'The redirect URI: completes sign-in (tokens) or linking',
      tags: ['oauth'],
      params: S.ProviderParams,
      query: S.CallbackQuery,
      responses: {
        200: { description: 'Signed in (tokens) or linked', schema: z.union([S.TokenPair, S.Linked]) },
        400: err('Unknown, expired or used state; code refused; no verified e-mail'),
        409: err('Provider account linked elsewhere, or e-mail already registered (link from that account)'),
        502: err('Provider unreachable or answered unexpectedly'),
      },
      handler: async (req) => {
        const q = req.query as z.infer<typeof S.CallbackQuery>;
        const result = await completeAuthorization(ctx, (req.params as z.infer<typeof S.ProviderParams>).provider, q, meta(req));
        return result.kind === 'linked' ? { linked: true, provider: result.provider } : result.tokens;
      },
    },
    {
      method: 'GET',
      url: AUTH_JWKS_PATH,
      summary: 'Public keys that verify access tokens (current and previous)',
      tags: ['keys'],
      responses: { 200: { description: 'JWK set', schema: S.Jwks } },
      handler: async (_req, reply) => reply.header('cache-control', 'public, max-age=300').send(ctx.tokens.jwks),
    },
  ];
}
