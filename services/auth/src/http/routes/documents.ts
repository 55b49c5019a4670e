import type { FastifyInstance } from 'fastify';
import { AUTH_JWKS_PATH, EDGE_ROUTES } from '#contract';
import { openApiDocument } from '../openapi.js';
import { addRoutes, type RoutesOptions } from '../route.js';
import * as S from '../schemas.js';

const A = EDGE_ROUTES.auth;

/**
 * Public documents: the JWK set and /auth/openapi.json. Registered last: the OpenAPI document
 * lists the routes in `docs` when this plugin loads, which is after the plugins registered before it.
 */
// eslint-disable-next-line @typescript-eslint/require-await -- async is the fastify plugin interface (fastify awaits it); adding routes awaits nothing
export async function documentRoutes(app: FastifyInstance, { ctx, docs }: RoutesOptions) {
  addRoutes(app, docs, [
    {
      method: 'GET',
      url: AUTH_JWKS_PATH,
      summary: 'Public keys that verify access tokens (current and previous)',
      tags: ['keys'],
      responses: { 200: { description: 'JWK set', schema: S.Jwks } },
      handler: async (_req, reply) => reply.header('cache-control', 'public, max-age=300').send(ctx.tokens.jwks),
    },
  ]);
  const doc = openApiDocument(docs, { title: 'Prism auth', version: '1', serverUrl: '/' });
  app.get(`${A}/openapi.json`, async (_req, reply) => reply.header('cache-control', 'public, max-age=300').send(doc));
}
