import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Transform, Writable } from 'node:stream';
import type { Pool } from 'undici';
import { API_KEY_HEADER, GATEWAY_PUBLIC_HEALTH_PATHS } from '#contract';
import {
  SpanKind,
  context as otelContext,
  extractContext,
  requestIdOf,
  trace,
  withRequestId,
  type Health,
  type Logger,
  type ServiceMetrics,
  type Span,
  type Tracing,
} from '../../runtime/src/index.js';
import type { Admission } from './admission.js';
import type { LocalApiKeyCache } from './api-key-cache.js';
import type { AuthFailureLimiter } from './auth-failures.js';
import { ClientAddress } from './client-address.js';
import { authenticate, cachedIdentity } from './credentials.js';
import type { EventPublisher } from './events.js';
import { AuthError } from './identity.js';
import type { JwtVerifier } from './jwt.js';
import type { LiveSettings } from './live-config.js';
import { RateLimitUnavailable, type Decision, type RateLimiter } from './rate-limit.js';
import { BodyTooLarge, discard, limitBody } from './request-body.js';
import type { Ctx } from './request-context.js';
import { RequestRecorder } from './request-record.js';
import { commonHeaders, upstreamResponseHeaders, writeError } from './responses.js';
import type { GatewaySettings } from './settings.js';
import {
  RETRYABLE_METHODS,
  RETRYABLE_STATUS,
  TIMEOUT_CODES,
  UPSTREAM_DOWN_CODES,
  tlsFailure,
} from './upstream-failures.js';
import { upstreamHeaders } from './upstream-headers.js';
import { upstreamsByRoute, type Upstream } from './upstreams.js';

export interface GatewayDeps {
  readonly settings: GatewaySettings;
  readonly log: Logger;
  readonly metrics: ServiceMetrics;
  readonly health: Health;
  readonly tracing: Tracing;
  readonly jwt: JwtVerifier;
  /** API-key validation, remembered in this instance. */
  readonly apiKeys: LocalApiKeyCache;
  /** Counts failed authentications per client address; blocked addresses get 429 before any verification. */
  readonly authFailures: AuthFailureLimiter;
  /** Limits only while enabled (which the config service can change); checks revoked sessions always. */
  readonly limiter: RateLimiter;
  /** Revocation (pushed, else Redis) and the account and address rate limits (leased from Redis). */
  readonly admission: Admission;
  readonly events: EventPublisher | undefined;
  /** True while the service drains: responses then close their connections. */
  readonly draining: () => boolean;
  /** Upstream connection pool options (tests shorten the timeouts). */
  readonly poolOptions?: Pool.Options;
}

const HEALTH_PATHS = new Set<string>(GATEWAY_PUBLIC_HEALTH_PATHS);
/** `..` or `.` segments, encoded slashes or backslashes, and NUL: refused rather than normalised. */
const BAD_PATH = /(?:^|\/)\.{1,2}(?:\/|$)|%2e|%2f|%5c|\\|%00/i;

/**
 * The gateway's request handler: public health paths, routing, authentication (JWT or API key),
 * rate limiting, circuit breaking, retries and proxying with undici, request events.
 */
export class Gateway {
  private readonly routes: Map<string, Upstream>;
  private readonly recorder: RequestRecorder;
  private readonly settings: GatewaySettings;
  private maintenance: LiveSettings['maintenance'] = { enabled: false, message: '' };
  private readonly clientAddress: ClientAddress;

  constructor(private readonly deps: GatewayDeps) {
    this.settings = deps.settings;
    this.recorder = new RequestRecorder(deps);
    this.clientAddress = new ClientAddress(this.settings.trustedProxies);
    this.routes = upstreamsByRoute(this.settings.routes, deps.metrics, deps.poolOptions);
  }

  /** Settings changed at run time (config service): maintenance mode, and the log level already set on the logger. */
  applyLive(s: LiveSettings): void {
    this.maintenance = s.maintenance;
    this.recorder.debug = this.deps.log.isLevelEnabled('debug');
  }

  /** Closes the upstream pools (after the HTTP server has drained). */
  async close(): Promise<void> {
    await Promise.all([...new Set([...this.routes.values()].map((u) => u.pool))].map((p) => p.close()));
  }

  /**
   * Each request runs in a context holding its request id (sent on with gRPC calls) and, with tracing on,
   * its SERVER span continued from the client's `traceparent` (health probes make none); log lines,
   * Redis commands and gRPC calls made for it belong to that span.
   */
  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    const id = requestIdOf(req.headers);
    let parent = otelContext.active();
    let span: Span | undefined;
    if (this.deps.tracing.enabled && !HEALTH_PATHS.has((req.url ?? '').split('?', 1)[0]!)) {
      parent = extractContext(req.headers);
      span = this.deps.tracing.tracer.startSpan(
        req.method ?? '',
        { kind: SpanKind.SERVER, attributes: { 'http.request.method': req.method ?? '', 'prism.request_id': id } },
        parent,
      );
      parent = trace.setSpan(parent, span);
    }
    otelContext.with(withRequestId(parent, id), () => this.guarded(req, res, id, span));
  };

  private guarded(req: IncomingMessage, res: ServerResponse, id: string, span: Span | undefined): void {
    void this.serve(req, res, id, span).catch((e: unknown) => {
      span?.end();
      this.deps.log.error({ err: e, method: req.method, path: req.url?.split('?', 1)[0] }, 'unexpected gateway error');
      if (!res.headersSent)
        res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":"internal error"}');
      else res.destroy();
    });
  }

  private async serve(req: IncomingMessage, res: ServerResponse, id: string, span: Span | undefined): Promise<void> {
    const url = req.url ?? '';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const ctx: Ctx = {
      req,
      res,
      start: performance.now(),
      id,
      ip: this.clientAddress.of(req),
      path,
      route: 'none',
      status: 0,
      identity: undefined,
      decision: undefined,
      upstreamFailed: false,
      retry: false,
      canRetry: false,
      up: undefined,
      span,
      upstreamSpan: undefined,
      recorded: false,
    };
    if (this.deps.draining()) res.shouldKeepAlive = false;

    if (HEALTH_PATHS.has(path)) return this.health(ctx, path);
    if (this.maintenance.enabled) return this.fail(ctx, 503, this.maintenance.message);
    if (path.charCodeAt(0) !== 47 /* / */ || BAD_PATH.test(path)) return this.fail(ctx, 400, 'invalid request path');
    if (req.method === 'TRACE' || req.method === 'TRACK')
      return this.fail(ctx, 405, `method ${req.method} not allowed`);

    // /api/<name>[/...]
    const end = path.indexOf('/', 5);
    const name = path.startsWith('/api/') ? path.slice(5, end === -1 ? undefined : end) : '';
    const up = this.routes.get(name);
    if (!up) return this.fail(ctx, 404, 'no route for this path');
    ctx.up = up;
    ctx.route = up.route.name;

    ctx.span?.updateName(`${req.method} ${up.route.prefix}`);

    ctx.identity = cachedIdentity(req, this.deps);
    if (ctx.identity === undefined) {
      const credential = req.headers[API_KEY_HEADER] !== undefined || req.headers.authorization !== undefined;
      if (credential) {
        const blockedMs = this.deps.authFailures.blockedFor(ctx.ip);
        if (blockedMs > 0)
          return this.fail(ctx, 429, 'too many failed authentication attempts', undefined, Math.ceil(blockedMs / 1000));
      }
      try {
        ctx.identity = await authenticate(req, up.route.authRequired, this.deps);
      } catch (e) {
        if (!(e instanceof AuthError)) throw e;
        // Only failures of a presented credential count, never a missing one.
        if (credential && e.status === 401) await this.deps.authFailures.record(ctx.ip);
        // On a public route a bad credential is ignored (no identity), so a stale token cannot block login.
        if (!up.route.authRequired && e.status === 401) ctx.identity = undefined;
        else return this.fail(ctx, e.status, e.message, e.status === 401 ? 'Bearer error="invalid_token"' : undefined);
      }
    }

    // Revocation and rate limits: mostly answered in this instance, else one Redis call for both.
    const limiter = this.deps.limiter;
    const pending = this.deps.admission.check(ctx.identity, ctx.ip);
    if (pending !== undefined) {
      let decision: Decision;
      try {
        decision = pending instanceof Promise ? await pending : pending;
        if (decision.revoked && !up.route.authRequired) {
          // On a public route a revoked credential is ignored like any bad one: the request goes on
          // anonymously, limited by address (a revoked answer counted nothing), so a stale token cannot block login.
          ctx.identity = undefined;
          const anon = this.deps.admission.check(undefined, ctx.ip);
          if (anon !== undefined) decision = anon instanceof Promise ? await anon : anon;
        }
      } catch (e) {
        if (e instanceof RateLimitUnavailable)
          return this.fail(
            ctx,
            503,
            limiter.enabled ? 'rate limiter unavailable' : 'session check unavailable',
            undefined,
            1,
          );
        throw e;
      }
      if (decision.revoked && ctx.identity !== undefined) {
        return ctx.identity.method === 'jwt'
          ? this.fail(ctx, 401, 'token revoked', 'Bearer error="invalid_token"')
          : this.fail(ctx, 401, 'API key revoked');
      }
      if (limiter.enabled) {
        ctx.decision = decision;
        if (!decision.allowed)
          return this.fail(
            ctx,
            429,
            'rate limit exceeded',
            undefined,
            Math.max(1, Math.ceil(decision.retryAfterMs / 1000)),
          );
      }
    }

    const declared = req.headers['content-length'];
    const chunked = req.headers['transfer-encoding'] !== undefined;
    if (declared !== undefined && Number(declared) > this.settings.bodyLimitBytes) {
      res.shouldKeepAlive = false;
      return this.fail(ctx, 413, `request body larger than ${this.settings.bodyLimitBytes} bytes`);
    }
    const hasBody = chunked || (declared !== undefined && declared !== '0');
    ctx.canRetry = up.route.retries > 0 && !hasBody && RETRYABLE_METHODS.has(req.method!);
    await this.forward(
      ctx,
      up,
      upstreamHeaders(ctx, this.deps.tracing),
      hasBody ? (chunked ? limitBody(req, this.settings.bodyLimitBytes) : req) : null,
    );
    this.recorder.done(ctx);
  }

  private async forward(
    ctx: Ctx,
    up: Upstream,
    headers: string[],
    body: IncomingMessage | Transform | null,
  ): Promise<void> {
    const { route, pool, budget } = up;
    const breaker = up.breakers[ctx.identity ? 'authenticated' : 'anonymous'];
    budget.earn();
    const q = ctx.req.url!.indexOf('?');
    const rest = ctx.path.slice(route.prefix.length) + (q === -1 ? '' : ctx.req.url!.slice(q));
    // /api/auth → /auth, /api/auth?x → /auth?x, /api/auth/login → /auth/login (rewrite '' means '/').
    const upstreamPath =
      rest === '' || rest.charCodeAt(0) === 63 /* ? */ ? (route.rewrite || '/') + rest : route.rewrite + rest;
    for (let attempt = 0; ; attempt++) {
      if (!breaker.tryAcquire())
        return this.fail(
          ctx,
          503,
          'upstream unavailable',
          undefined,
          Math.ceil(route.breaker.resetTimeoutMs / 1000),
          true,
        );
      ctx.upstreamFailed = false;
      ctx.retry = false;
      ctx.canRetry = ctx.canRetry && attempt < route.retries;
      try {
        await pool.stream(
          {
            path: upstreamPath,
            method: ctx.req.method as 'GET',
            headers,
            body,
            headersTimeout: route.timeoutMs,
            bodyTimeout: route.timeoutMs,
            opaque: ctx,
          },
          this.factory,
        );
        if (ctx.upstreamFailed) breaker.onFailure();
        else breaker.onSuccess();
        if (!ctx.retry) return;
      } catch (e) {
        const code = (e as { code?: string }).code ?? '';
        if (e instanceof BodyTooLarge || code === 'PRISM_BODY_TOO_LARGE') {
          breaker.release();
          ctx.res.shouldKeepAlive = false;
          return this.fail(ctx, 413, `request body larger than ${this.settings.bodyLimitBytes} bytes`);
        }
        // A client that leaves mid-upload fails the request with its own ECONNRESET: that says nothing
        // about the upstream, and counting it would let anyone open the circuit for everyone.
        const clientLeft = ctx.req.errored === e && (e as Error).message === 'aborted';
        const timeout = !clientLeft && TIMEOUT_CODES.has(code);
        const down = !clientLeft && (UPSTREAM_DOWN_CODES.has(code) || tlsFailure(code));
        if (timeout) breaker.onFailure('timeout');
        else if (down) breaker.onFailure('upstream');
        else breaker.release();
        if (ctx.res.headersSent) {
          // Failed while streaming the answer: nothing to send but a cut connection.
          ctx.status = ctx.status || 502;
          ctx.res.destroy();
          if (timeout || down)
            this.deps.log.warn({ reqId: ctx.id, upstream: route.origin, code }, 'upstream failed mid-response');
          return;
        }
        if (down && ctx.canRetry && budget.trySpend()) continue;
        if (!timeout && !down) {
          // The client went away or sent a broken body.
          ctx.status = 499;
          if (!ctx.res.destroyed) this.fail(ctx, 400, 'request could not be read');
          return;
        }
        this.deps.log.warn(
          { reqId: ctx.id, upstream: route.origin, code, err: (e as Error).message },
          'upstream request failed',
        );
        return this.fail(
          ctx,
          timeout ? 504 : 502,
          timeout ? 'upstream timed out' : 'upstream unreachable',
          undefined,
          undefined,
          true,
        );
      }
      // The attempt answered 502/503/504 and was discarded: try again.
    }
  }

  /** undici's stream factory: writes the upstream's status and headers to the client and hands undici the response to write the body into. */
  private readonly factory = ({
    statusCode,
    headers,
    opaque,
  }: {
    statusCode: number;
    headers: Record<string, string | string[] | undefined>;
    opaque: Ctx;
  }): Writable => {
    const ctx = opaque;
    const up = ctx.up!;
    // A 503 with Retry-After is an upstream shedding load (auth's hashing and refresh queues): it answered, so it
    // counts against no breaker (opening would refuse everyone, not just the excess) and is not retried (a retry
    // is more of the load it refused); the client gets it with its Retry-After.
    if (statusCode >= 500 && !(statusCode === 503 && headers['retry-after'] !== undefined)) {
      ctx.upstreamFailed = true;
      if (ctx.canRetry && RETRYABLE_STATUS.has(statusCode) && up.budget.trySpend()) {
        ctx.retry = true;
        return discard();
      }
    }
    ctx.status = statusCode;
    const out = upstreamResponseHeaders(headers);
    commonHeaders(ctx, out);
    ctx.res.writeHead(statusCode, out);
    return ctx.res;
  };

  private async health(ctx: Ctx, path: string): Promise<void> {
    let ok = true;
    if (path === '/ready') ok = (await this.deps.health.readiness()).ready;
    ctx.status = ok ? 200 : 503;
    const out: string[] = ['content-type', 'application/json', 'cache-control', 'no-store'];
    commonHeaders(ctx, out);
    ctx.res.writeHead(ctx.status, out).end(ok ? '{"status":"ok"}' : '{"status":"unavailable"}');
  }

  /** A response the gateway makes itself (responses.ts), then the request's record. */
  private fail(
    ctx: Ctx,
    status: number,
    message: string,
    wwwAuthenticate?: string,
    retryAfterSeconds?: number,
    upstream = false,
  ): void {
    writeError(ctx, status, message, wwwAuthenticate, retryAfterSeconds, upstream);
    this.recorder.done(ctx);
  }
}
