import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Transform, Writable } from 'node:stream';
import { Pool } from 'undici';
import { API_KEY_HEADER, GATEWAY_PUBLIC_HEALTH_PATHS } from '#contract';
import {
  REQUEST_ID_HEADER,
  SpanKind,
  context as otelContext,
  extractContext,
  injectContext,
  PEER_IDENTITY_ERROR,
  requestIdOf,
  serverIdentityCheck,
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
import { type CircuitBreaker, RetryBudget, breakerMetrics, classBreakers, type RouteClass } from './breaker.js';
import { ClientAddress } from './client-address.js';
import { forwardedHeaders } from './forwarded-headers.js';
import type { EventPublisher } from './events.js';
import { AuthError, type Identity } from './identity.js';
import type { JwtVerifier } from './jwt.js';
import type { LiveSettings } from './live-config.js';
import { RateLimitUnavailable, type Decision, type RateLimiter } from './rate-limit.js';
import type { GatewaySettings, Route } from './settings.js';

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

interface Upstream {
  readonly route: Route;
  readonly pool: Pool;
  /** Per route class: anonymous requests cannot open the breaker signed-in users go through. */
  readonly breakers: Record<RouteClass, CircuitBreaker>;
  readonly budget: RetryBudget;
}

interface RequestMetrics {
  readonly count: { inc(): void };
  readonly duration: { observe(seconds: number): void };
}

/** Per-request state, one object per request. */
interface Ctx {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly start: number;
  readonly id: string;
  readonly ip: string;
  path: string;
  route: string;
  status: number;
  identity: Identity | undefined;
  decision: Decision | undefined;
  /** Set by the stream factory: the upstream answered 5xx. */
  upstreamFailed: boolean;
  /** Set by the stream factory: this attempt's answer is discarded and the request retried. */
  retry: boolean;
  canRetry: boolean;
  up: Upstream | undefined;
  /** The request's SERVER span, and the CLIENT span of its call upstream (tracing on). */
  span: Span | undefined;
  upstreamSpan: Span | undefined;
  recorded: boolean;
}

const DROP_RESPONSE = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'proxy-authenticate',
  REQUEST_ID_HEADER,
]);
const RETRYABLE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']);
const RETRYABLE_STATUS = new Set([502, 503, 504]);
const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);
const UPSTREAM_DOWN_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
]);
/**
 * An https upstream whose certificate does not verify (another CA, wrong name, expired) or whose
 * handshake fails: OpenSSL's verification codes and Node's TLS/SSL errors. The upstream is unusable, as if down.
 */
const TLS_VERIFY_CODES = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'CERT_SIGNATURE_FAILURE',
  'CERT_NOT_YET_VALID',
  'CERT_HAS_EXPIRED',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_CHAIN_TOO_LONG',
  'CERT_REVOKED',
  'INVALID_CA',
  'INVALID_PURPOSE',
  'PATH_LENGTH_EXCEEDED',
  'HOSTNAME_MISMATCH',
  PEER_IDENTITY_ERROR,
]);
const tlsFailure = (code: string): boolean =>
  TLS_VERIFY_CODES.has(code) || code.startsWith('ERR_TLS_') || code.startsWith('ERR_SSL_');
const HEALTH_PATHS = new Set<string>(GATEWAY_PUBLIC_HEALTH_PATHS);
/** `..` or `.` segments, encoded slashes or backslashes, and NUL: refused rather than normalised. */
const BAD_PATH = /(?:^|\/)\.{1,2}(?:\/|$)|%2e|%2f|%5c|\\|%00/i;

class BodyTooLarge extends Error {
  readonly code = 'PRISM_BODY_TOO_LARGE';
}

/**
 * The gateway's request handler: public health paths, routing, authentication (JWT or API key),
 * rate limiting, circuit breaking, retries and proxying with undici, request events.
 */
/** The CA bundle of a route's upstream; a missing or unreadable file is a startup error naming the route. */
function readCaFile(file: string, prefix: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    throw new Error(
      `gateway: route ${prefix}: cannot read ca_file ${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
      { cause: e },
    );
  }
}

export class Gateway {
  private readonly routes = new Map<string, Upstream>();
  private readonly metricChildren = new Map<string, RequestMetrics>();
  private readonly settings: GatewaySettings;
  private debug: boolean;
  private maintenance: LiveSettings['maintenance'] = { enabled: false, message: '' };
  private readonly clientAddress: ClientAddress;

  constructor(private readonly deps: GatewayDeps) {
    this.settings = deps.settings;
    this.debug = deps.log.isLevelEnabled('debug');
    this.clientAddress = new ClientAddress(this.settings.trustedProxies);
    const breakerMetricSet = breakerMetrics([deps.metrics.registry]);
    const pools = new Map<string, { pool: Pool; breakers: Record<RouteClass, CircuitBreaker>; budget: RetryBudget }>();
    for (const route of this.settings.routes) {
      // One pool, pair of breakers and retry budget per upstream origin, shared by its routes.
      const key = `${route.origin} ${route.caFile ?? ''} ${route.serverIdentity ?? ''}`;
      let p = pools.get(key);
      if (!p) {
        // An https upstream with a CA file is verified against that CA only (the mesh CA), by its host name
        // and, with server_identity, by the workload identity in its certificate.
        const connect = route.caFile
          ? {
              connect: {
                ca: readCaFile(route.caFile, route.prefix),
                checkServerIdentity: serverIdentityCheck(route.serverIdentity),
              },
            }
          : {};
        p = {
          pool: new Pool(route.origin, {
            connections: 128,
            pipelining: 1,
            keepAliveTimeout: 4_000,
            ...connect,
            ...deps.poolOptions,
          }),
          breakers: classBreakers(route.origin, route.breaker, breakerMetricSet),
          budget: new RetryBudget(),
        };
        pools.set(key, p);
      }
      this.routes.set(route.name, { route, ...p });
    }
  }

  /** Settings changed at run time (config service): maintenance mode, and the log level already set on the logger. */
  applyLive(s: LiveSettings): void {
    this.maintenance = s.maintenance;
    this.debug = this.deps.log.isLevelEnabled('debug');
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

    ctx.identity = this.cachedIdentity(req);
    if (ctx.identity === undefined) {
      const credential = req.headers[API_KEY_HEADER] !== undefined || req.headers.authorization !== undefined;
      if (credential) {
        const blockedMs = this.deps.authFailures.blockedFor(ctx.ip);
        if (blockedMs > 0)
          return this.fail(ctx, 429, 'too many failed authentication attempts', undefined, Math.ceil(blockedMs / 1000));
      }
      try {
        ctx.identity = await this.authenticate(req, up.route.authRequired);
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
      this.upstreamHeaders(ctx),
      hasBody ? (chunked ? limitBody(req, this.settings.bodyLimitBytes) : req) : null,
    );
    this.done(ctx);
  }

  /** A bearer token or API key verified before: known without a promise (most requests). */
  private cachedIdentity(req: IncomingMessage): Identity | undefined {
    const apiKey = req.headers[API_KEY_HEADER];
    if (apiKey !== undefined) return typeof apiKey === 'string' ? this.deps.apiKeys.cached(apiKey) : undefined;
    const authz = req.headers.authorization;
    if (authz === undefined) return undefined;
    const token = bearerToken(authz);
    return token === undefined ? undefined : this.deps.jwt.cached(token);
  }

  private async authenticate(req: IncomingMessage, required: boolean): Promise<Identity | undefined> {
    const apiKey = req.headers[API_KEY_HEADER];
    const authz = req.headers.authorization;
    if (typeof apiKey === 'string') return await this.deps.apiKeys.validate(apiKey);
    if (authz !== undefined) {
      const token = bearerToken(authz);
      if (token === undefined) throw new AuthError(401, 'expected a Bearer token');
      return await this.deps.jwt.verify(token);
    }
    if (required) throw new AuthError(401, 'authentication required');
    return undefined;
  }

  /** The client's allowed headers (forwarded-headers.ts), then the ones the gateway decides: address, scheme, host, request id, identity, trace. */
  private upstreamHeaders(ctx: Ctx): string[] {
    const { headers: out, host } = forwardedHeaders(ctx.req.rawHeaders, !this.deps.tracing.enabled);
    out.push(REQUEST_ID_HEADER, ctx.id, 'x-forwarded-for', ctx.ip);
    out.push('x-forwarded-proto', 'encrypted' in ctx.req.socket ? 'https' : 'http');
    if (host !== undefined) out.push('x-forwarded-host', host);
    if (ctx.identity) for (const h of ctx.identity.headers) out.push(h);
    if (ctx.span) {
      const carrier: Record<string, string> = {};
      const parent = trace.setSpan(otelContext.active(), ctx.span);
      ctx.upstreamSpan ??= this.deps.tracing.tracer.startSpan(
        `${ctx.req.method} ${ctx.up!.route.name}`,
        {
          kind: SpanKind.CLIENT,
          attributes: { 'http.request.method': ctx.req.method ?? '', 'server.address': ctx.up!.route.origin },
        },
        parent,
      );
      injectContext(trace.setSpan(parent, ctx.upstreamSpan), carrier);
      for (const k in carrier) out.push(k, carrier[k]!);
    }
    return out;
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
    if (statusCode >= 500) {
      ctx.upstreamFailed = true;
      if (ctx.canRetry && RETRYABLE_STATUS.has(statusCode) && up.budget.trySpend()) {
        ctx.retry = true;
        return discard();
      }
    }
    ctx.status = statusCode;
    const out: string[] = [];
    for (const k in headers) {
      if (DROP_RESPONSE.has(k)) continue;
      const v = headers[k]!;
      if (typeof v === 'string') out.push(k, v);
      else for (const x of v) out.push(k, x);
    }
    this.commonHeaders(ctx, out);
    ctx.res.writeHead(statusCode, out);
    return ctx.res;
  };

  private commonHeaders(ctx: Ctx, out: string[]): void {
    out.push(REQUEST_ID_HEADER, ctx.id);
    const d = ctx.decision;
    if (d !== undefined) {
      out.push(
        'ratelimit-limit',
        String(d.limit),
        'ratelimit-remaining',
        String(d.remaining),
        'ratelimit-reset',
        String(Math.ceil(d.resetMs / 1000)),
      );
    }
    if (!ctx.res.shouldKeepAlive) out.push('connection', 'close');
  }

  private async health(ctx: Ctx, path: string): Promise<void> {
    let ok = true;
    if (path === '/ready') ok = (await this.deps.health.readiness()).ready;
    ctx.status = ok ? 200 : 503;
    const out: string[] = ['content-type', 'application/json', 'cache-control', 'no-store'];
    this.commonHeaders(ctx, out);
    ctx.res.writeHead(ctx.status, out).end(ok ? '{"status":"ok"}' : '{"status":"unavailable"}');
  }

  /** A response the gateway makes itself: JSON `{ error, request_id }`. */
  private fail(
    ctx: Ctx,
    status: number,
    message: string,
    wwwAuthenticate?: string,
    retryAfterSeconds?: number,
    upstream = false,
  ): void {
    ctx.status = status;
    const out: string[] = ['content-type', 'application/json', 'cache-control', 'no-store'];
    if (wwwAuthenticate) out.push('www-authenticate', wwwAuthenticate);
    if (retryAfterSeconds !== undefined) out.push('retry-after', String(retryAfterSeconds));
    if (upstream) out.push('x-prism-gateway-error', 'upstream');
    this.commonHeaders(ctx, out);
    if (!ctx.res.headersSent)
      ctx.res.writeHead(status, out).end(`{"error":${JSON.stringify(message)},"request_id":${JSON.stringify(ctx.id)}}`);
    this.done(ctx);
  }

  /** Metrics, trace and event of a finished request (called once per request). */
  private done(ctx: Ctx): void {
    if (ctx.recorded) return;
    ctx.recorded = true;
    const seconds = (performance.now() - ctx.start) / 1000;
    const method = ctx.req.method ?? '';
    const status = ctx.status || 499;
    const m = this.requestMetrics(method, ctx.route, status);
    m.count.inc();
    m.duration.observe(seconds);
    if (ctx.span) {
      ctx.upstreamSpan?.setAttribute('http.response.status_code', status);
      ctx.upstreamSpan?.end();
      ctx.span.setAttribute('http.response.status_code', status);
      ctx.span.end();
    }
    // Access records go to NATS as events; the log gets them only at debug level (dev).
    if (this.debug)
      this.deps.log.debug(
        {
          reqId: ctx.id,
          method,
          path: ctx.path,
          route: ctx.route,
          status,
          ms: Math.round(seconds * 1e6) / 1e3,
          userId: ctx.identity?.userId,
        },
        'request',
      );
    this.deps.events?.push({
      id: ctx.id,
      ts: Date.now(),
      method,
      path: ctx.path,
      route: ctx.route,
      status,
      durationMs: Math.round(seconds * 1e6) / 1e3,
      userId: ctx.identity?.userId,
      authMethod: ctx.identity?.method,
      clientIp: ctx.ip,
    });
  }

  /**
   * The labelled request counter and histogram of one method, route and status, looked up once:
   * prom-client hashes the label object on every call otherwise. Methods are the parser's fixed set
   * and routes come from the config, so the map stays small.
   */
  private requestMetrics(method: string, route: string, status: number): RequestMetrics {
    const key = `${method} ${route} ${status}`;
    let m = this.metricChildren.get(key);
    if (m === undefined) {
      const { httpRequests, httpDuration } = this.deps.metrics;
      m = { count: httpRequests.labels({ method, route, status }), duration: httpDuration.labels({ method, route }) };
      this.metricChildren.set(key, m);
    }
    return m;
  }
}

/** The token of an `Authorization: Bearer <token>` header, or undefined for another scheme. */
function bearerToken(authz: string): string | undefined {
  return authz.length >= 8 && authz.slice(0, 7).toLowerCase() === 'bearer ' ? authz.slice(7).trim() : undefined;
}

function discard(): Writable {
  return new Writable({ write: (_c, _e, cb) => cb() });
}

/** A chunked body passed through with a size cap; over the cap the upload fails with {@link BodyTooLarge}. */
function limitBody(req: IncomingMessage, limit: number): Transform {
  let seen = 0;
  const t = new Transform({
    transform(chunk: Buffer, _e, cb) {
      seen += chunk.length;
      if (seen > limit) cb(new BodyTooLarge());
      else cb(null, chunk);
    },
  });
  req.on('error', (e) => t.destroy(e));
  return req.pipe(t);
}
