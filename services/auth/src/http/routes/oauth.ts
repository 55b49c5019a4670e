import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { EDGE_ROUTES } from '#contract';
import { completeAuthorization, LINK_COOKIE, linkCookie, startAuthorization } from '../../oauth.js';
import { addRoutes, bearer, err, meta, type RoutesOptions, UNAUTHORIZED } from '../route.js';
import * as S from '../schemas.js';

const A = EDGE_ROUTES.auth;

/** OAuth (Google, GitHub): sign in, link to the signed-in user, the provider's callback. */
// eslint-disable-next-line @typescript-eslint/require-await -- async is the fastify plugin interface (fastify awaits it); adding routes awaits nothing
export async function oauthRoutes(app: FastifyInstance, { ctx, docs }: RoutesOptions) {
  addRoutes(app, docs, [
    {
      method: 'GET',
      url: `${A}/oauth/:provider/authorize`,
      summary: 'Start signing in with Google or GitHub: redirects to the provider',
      tags: ['oauth'],
      params: S.ProviderParams,
      responses: {
        302: { description: 'To the provider', headers: { location: 'Authorization URL' } },
        400: err('Unknown provider'),
        404: err('Provider not configured'),
      },
      handler: async (req, reply) =>
        reply.redirect(
          (await startAuthorization(ctx, (req.params as z.infer<typeof S.ProviderParams>).provider)).url,
          302,
        ),
    },
    {
      method: 'POST',
      url: `${A}/oauth/:provider/link`,
      summary: 'Start linking a Google or GitHub account to the signed-in user',
      tags: ['oauth'],
      bearer: true,
      params: S.ProviderParams,
      responses: {
        200: {
          description: 'Open this URL in the same browser: the cookie set here binds the linking to it',
          schema: S.AuthorizationUrl,
          headers: { 'set-cookie': `${LINK_COOKIE}, for the callback path only` },
        },
        ...UNAUTHORIZED,
        404: err('Provider not configured'),
      },
      handler: async (req, reply) => {
        const c = await bearer(ctx, req);
        const { provider } = req.params as z.infer<typeof S.ProviderParams>;
        const { url, linkBinding } = await startAuthorization(ctx, provider, c.sub);
        return reply.header('set-cookie', linkCookie(provider, linkBinding!)).send({ authorization_url: url });
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
        400: err(
          'Unknown, expired or used state; code refused; no verified e-mail; linking started in another browser',
        ),
        409: err('Provider account linked elsewhere, or e-mail already registered (link from that account)'),
        502: err('Provider unreachable or answered unexpectedly'),
      },
      handler: async (req) => {
        const q = req.query as z.infer<typeof S.CallbackQuery>;
        const result = await completeAuthorization(
          ctx,
          (req.params as z.infer<typeof S.ProviderParams>).provider,
          q,
          meta(req),
          cookieValue(req.headers.cookie, LINK_COOKIE),
        );
        return result.kind === 'linked' ? { linked: true, provider: result.provider } : result.tokens;
      },
    },
  ]);
}

/** One cookie's value from a `Cookie` header. */
function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of header?.split(';') ?? []) {
    const i = part.indexOf('=');
    if (i !== -1 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}
