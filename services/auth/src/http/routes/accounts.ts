import type { FastifyInstance } from 'fastify';
import type { z } from 'zod';
import { EDGE_ROUTES } from '#contract';
import { changePassword, getUser, login, register } from '../../accounts.js';
import { InvalidToken } from '../../tokens.js';
import { addRoutes, BAD_INPUT, bearer, err, meta, type RoutesOptions, TOKENS, UNAUTHORIZED } from '../route.js';
import * as S from '../schemas.js';

const A = EDGE_ROUTES.auth;

/** Accounts: register, sign in, the signed-in user, password change. */
// eslint-disable-next-line @typescript-eslint/require-await -- async is the fastify plugin interface (fastify awaits it); adding routes awaits nothing
export async function accountRoutes(app: FastifyInstance, { ctx, docs }: RoutesOptions) {
  addRoutes(app, docs, [
    {
      method: 'POST',
      url: `${A}/register`,
      summary:
        'Create an account with an e-mail and a password (12 to 128 characters), then sign in. The answer is the same whether or not the e-mail already has an account (which is left unchanged)',
      tags: ['account'],
      body: S.RegisterBody,
      responses: {
        202: { description: 'Accepted: sign in with the e-mail and password', schema: S.RegistrationAccepted },
        ...BAD_INPUT,
      },
      handler: async (req, reply) =>
        reply.code(202).send(await register(ctx, req.body as z.infer<typeof S.RegisterBody>, meta(req))),
    },
    {
      method: 'POST',
      url: `${A}/login`,
      summary: 'Sign in with e-mail and password',
      tags: ['session'],
      body: S.LoginBody,
      responses: {
        ...TOKENS,
        ...BAD_INPUT,
        401: err('Wrong e-mail or password (the same answer for unknown e-mails)'),
        429: {
          ...err(
            'Too many failures for this e-mail (temporarily locked), or too many sign-ins at once from this address',
          ),
          headers: { 'retry-after': 'Seconds until the lock ends, or 1' },
        },
        503: {
          ...err('Too many sign-ins waiting for a password check: retry shortly'),
          headers: { 'retry-after': '1' },
        },
      },
      handler: async (req) => login(ctx, req.body as z.infer<typeof S.LoginBody>, meta(req)),
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
      summary: 'Change the password; every other session and every API key is revoked',
      tags: ['account'],
      bearer: true,
      body: S.ChangePasswordBody,
      responses: {
        200: { description: 'Changed', schema: S.PasswordChanged },
        ...BAD_INPUT,
        ...UNAUTHORIZED,
        403: err('Wrong current password'),
        429: {
          ...err('Too many wrong current passwords: temporarily locked'),
          headers: { 'retry-after': 'Seconds until the lock ends' },
        },
      },
      handler: async (req) => {
        const c = await bearer(ctx, req);
        return changePassword(ctx, c.sub, c.sid, req.body as z.infer<typeof S.ChangePasswordBody>, meta(req));
      },
    },
  ]);
}
