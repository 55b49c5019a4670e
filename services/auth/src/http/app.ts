import type { AddressRateLimiter } from '../rate-limit.js';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import Fastify, { LogController } from 'fastify';
import type { z } from 'zod';
import { context, requestIdOf, REQUEST_ID_HEADER, trace } from '#runtime';
import type { AuthContext } from '../context.js';
import { DependencyUnavailable, HttpError } from '../errors.js';
import { InvalidToken } from '../tokens.js';
import type { RoutesOptions } from './route.js';
import { accountRoutes } from './routes/accounts.js';
import { apiKeyRoutes } from './routes/api-keys.js';
import { documentRoutes } from './routes/documents.js';
import { oauthRoutes } from './routes/oauth.js';
import { sessionRoutes } from './routes/sessions.js';

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
  /** The gateway's per-address limit, applied to every request (the edge also sends /auth here directly). */
  readonly rateLimiter?: AddressRateLimiter;
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
    // The request's span (runtime traceHttpServer) is named by its route once fastify has matched it.
    trace.getSpan(context.active())?.updateName(`${req.method} ${req.routeOptions.url ?? 'unmatched'}`);
    reply.header(REQUEST_ID_HEADER, req.id);
    reply.header('cache-control', 'no-store');
    if (opts.draining?.()) reply.header('connection', 'close');
    const waitMs = opts.rateLimiter ? await opts.rateLimiter.check(req.ip) : 0;
    if (waitMs > 0) {
      return reply
        .code(429)
        .header('retry-after', String(Math.max(1, Math.ceil(waitMs / 1000))))
        .send({ error: 'rate_limited', message: 'rate limit exceeded' });
    }
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
      return reply.code(400).send({
        error: 'invalid_request',
        message: fields.map((f) => `${f.in}.${f.field}: ${f.message}`).join('; '),
        fields,
      });
    }
    if (e instanceof HttpError)
      return reply.code(e.statusCode).headers(e.headers).send({ error: e.code, message: e.message });
    if (e instanceof InvalidToken) {
      return reply
        .code(401)
        .header('www-authenticate', `Bearer error="invalid_token", error_description="${e.reason}"`)
        .send({ error: 'invalid_token', message: `access token ${e.reason.replace(/_/g, ' ')}` });
    }
    if (e instanceof DependencyUnavailable) {
      req.log.warn({ err: e.message }, 'dependency unavailable');
      return reply
        .code(503)
        .header('retry-after', '1')
        .send({ error: 'unavailable', message: 'temporarily unavailable, retry shortly' });
    }
    // fastify's own client errors: bad JSON (400), unsupported media type (415), too large (413), ...
    if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500) {
      return reply
        .code(e.statusCode)
        .send({ error: (e.code ?? 'bad_request').replace(/^FST_ERR_/, '').toLowerCase(), message: e.message });
    }
    req.log.error({ err: e }, 'request failed');
    return reply.code(500).send({ error: 'internal', message: 'internal error' });
  });
  app.setNotFoundHandler((_req, reply) => reply.code(404).send({ error: 'not_found', message: 'no such route' }));

  // One plugin per resource. The validator, hooks and handlers above are set on the root before
  // these register, so every plugin inherits them. Documents goes last: its OpenAPI document lists
  // the routes the others added to `docs`.
  const routes: RoutesOptions = { ctx, docs: [] };
  void app.register(accountRoutes, routes);
  void app.register(sessionRoutes, routes);
  void app.register(apiKeyRoutes, routes);
  void app.register(oauthRoutes, routes);
  void app.register(documentRoutes, routes);
  return app;
}
