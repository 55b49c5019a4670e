import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AuthContext } from '../context.js';
import { authenticate, type ClientMeta } from '../sessions.js';
import { type AccessClaims, InvalidToken } from '../tokens.js';
import type { RouteDoc } from './openapi.js';
import * as S from './schemas.js';

interface Route extends RouteDoc {
  readonly handler: (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>;
}

/** The options of every route plugin (routes/*.ts). */
export interface RoutesOptions {
  readonly ctx: AuthContext;
  /** Every route added so far, for /auth/openapi.json: each plugin appends its own. */
  readonly docs: RouteDoc[];
}

// Why hand-written zod glue rather than fastify-type-provider-zod + @fastify/swagger (issue 27, evaluated):
// the `req.body as z.infer<...>` casts in routes/*.ts come from this table (a handler typed with the plain
// FastifyRequest), not from the lack of a type provider; removing them means registering each route inline with
// `app.withTypeProvider<...>().route()`, giving up the one table that both serves and documents. The glue itself is
// small (app.ts's 4-line validator compiler, openapi.ts) and pinned by bad-input.test.ts (`fields`: `in`, `field`,
// `message` per zod issue) and openapi.test.ts; the swap would add two dependencies for no behaviour gained.
/** Serves the routes and lists them for the OpenAPI document: one definition, one set of schemas for both. */
export function addRoutes(app: FastifyInstance, docs: RouteDoc[], routes: readonly Route[]): void {
  for (const r of routes) {
    const schema: Record<string, unknown> = {};
    if (r.body) schema.body = r.body;
    if (r.params) schema.params = r.params;
    if (r.query) schema.querystring = r.query;
    app.route({ method: r.method, url: r.url, schema, handler: r.handler });
    docs.push(r);
  }
}

export const err = (description: string) => ({ description, schema: S.ErrorResponse });
export const BAD_INPUT = {
  400: err('Invalid input; `fields` names each bad field'),
  415: err('Not application/json'),
  413: err('Body too large'),
};
export const UNAUTHORIZED = { 401: err('Missing, invalid, expired or revoked access token') };
export const TOKENS = {
  200: { description: 'Tokens: a short-lived access token and a single-use refresh token', schema: S.TokenPair },
};

export function meta(req: FastifyRequest): ClientMeta {
  const ua = req.headers['user-agent'];
  return { userAgent: typeof ua === 'string' ? ua : undefined, ip: req.ip, requestId: req.id };
}

export async function bearer(ctx: AuthContext, req: FastifyRequest): Promise<AccessClaims> {
  const h = req.headers.authorization;
  const m = typeof h === 'string' ? /^Bearer ([A-Za-z0-9._~+/-]+=*)$/i.exec(h) : null;
  if (!m) throw new InvalidToken('malformed');
  return authenticate(ctx, m[1]!);
}
