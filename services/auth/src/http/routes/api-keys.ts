import type { FastifyInstance } from 'fastify';
import type { z } from 'zod';
import { EDGE_ROUTES } from '#contract';
import { createApiKey, listApiKeys, MAX_ACTIVE_API_KEYS, revokeApiKey } from '../../api-keys.js';
import { addRoutes, BAD_INPUT, bearer, err, type RoutesOptions, UNAUTHORIZED } from '../route.js';
import * as S from '../schemas.js';

const A = EDGE_ROUTES.auth;

/** API keys: create, list and revoke your keys. */
// eslint-disable-next-line @typescript-eslint/require-await -- async is the fastify plugin interface (fastify awaits it); adding routes awaits nothing
export async function apiKeyRoutes(app: FastifyInstance, { ctx, docs }: RoutesOptions) {
  addRoutes(app, docs, [
    {
      method: 'POST',
      url: `${A}/api-keys`,
      summary: 'Create an API key; the key is in this response only',
      tags: ['api-keys'],
      bearer: true,
      body: S.CreateApiKeyBody,
      responses: {
        201: { description: 'Created', schema: S.ApiKeyCreated },
        ...BAD_INPUT,
        ...UNAUTHORIZED,
        409: err(`The account already holds ${MAX_ACTIVE_API_KEYS} active keys`),
      },
      handler: async (req, reply) => {
        const c = await bearer(ctx, req);
        return reply
          .code(201)
          .send(await createApiKey(ctx, c.sub, req.body as z.infer<typeof S.CreateApiKeyBody>, req.id));
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
      responses: {
        204: { description: 'Revoked' },
        ...UNAUTHORIZED,
        400: err('Not a key id'),
        404: err('No such active key of yours'),
      },
      handler: async (req, reply) => {
        const c = await bearer(ctx, req);
        await revokeApiKey(ctx, c.sub, (req.params as { id: string }).id, req.id);
        return reply.code(204).send();
      },
    },
  ]);
}
