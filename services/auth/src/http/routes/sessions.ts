import type { FastifyInstance } from 'fastify';
import type { z } from 'zod';
import { EDGE_ROUTES } from '#contract';
import { listSessions, refresh, revokeOwnSession } from '../../sessions.js';
import { addRoutes, BAD_INPUT, bearer, err, meta, type RoutesOptions, TOKENS, UNAUTHORIZED } from '../route.js';
import * as S from '../schemas.js';

const A = EDGE_ROUTES.auth;

/** Sessions: refresh, sign out, list and revoke your sessions. */
// eslint-disable-next-line @typescript-eslint/require-await -- async is the fastify plugin interface (fastify awaits it); adding routes awaits nothing
export async function sessionRoutes(app: FastifyInstance, { ctx, docs }: RoutesOptions) {
  addRoutes(app, docs, [
    {
      method: 'POST',
      url: `${A}/refresh`,
      summary:
        'Exchange a refresh token for new tokens (the old refresh token is spent; reusing it revokes the session)',
      tags: ['session'],
      body: S.RefreshBody,
      responses: {
        ...TOKENS,
        ...BAD_INPUT,
        401: err('Invalid, expired, spent or revoked refresh token'),
        503: err('Too many refreshes waiting: retry after Retry-After seconds (the token is not spent)'),
      },
      handler: async (req) =>
        ctx.refreshes.run(
          () => refresh(ctx, (req.body as z.infer<typeof S.RefreshBody>).refresh_token, meta(req)),
          req.ip,
        ),
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
      responses: {
        204: { description: 'Revoked' },
        ...UNAUTHORIZED,
        400: err('Not a session id'),
        404: err('No such active session of yours'),
      },
      handler: async (req, reply) => {
        const c = await bearer(ctx, req);
        await revokeOwnSession(ctx, c.sub, (req.params as { id: string }).id, 'user', req.id);
        return reply.code(204).send();
      },
    },
  ]);
}
