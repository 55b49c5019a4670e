import type { IncomingHttpHeaders, IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import {
  context,
  createContextKey,
  propagation,
  SpanKind,
  SpanStatusCode,
  trace,
  type Context,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import {
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_SERVICE_NAME,
  ATTR_URL_PATH,
} from '@opentelemetry/semantic-conventions';

export { context, SpanKind, SpanStatusCode, trace, type Context, type Span };

export interface Tracing {
  /** The service's tracer (a no-op tracer when tracing is off). */
  readonly tracer: Tracer;
  readonly enabled: boolean;
  /** Exports what is buffered and stops. */
  shutdown(): Promise<void>;
}

// One context manager and one propagator per process: spans started inside a request (a query, a gRPC
// call, a log line) find the request's span through AsyncLocalStorage. Registering twice is a no-op.
let registered = false;
function registerGlobals(): void {
  if (registered) return;
  registered = true;
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
}

/**
 * Traces exported over OTLP/HTTP (Jaeger's :4318/v1/traces) when `endpoint` is set, with W3C
 * `traceparent`/`tracestate` propagation, and the PostgreSQL (pg) and Redis (ioredis) drivers
 * instrumented. Without an endpoint the API stays a no-op, which costs nothing.
 * `sampleRatio` (0 to 1) of the traces that start here are recorded, chosen by trace id so every service
 * decides alike; a request that arrives with a `traceparent` follows its caller's decision, so a trace is
 * recorded whole or not at all.
 */
export function startTracing(
  service: string,
  endpoint: string | undefined,
  environment?: string,
  sampleRatio = 1,
): Tracing {
  registerGlobals(); // the request id travels in the context with tracing off too
  if (!endpoint) return { tracer: trace.getTracer(service), enabled: false, shutdown: async () => {} };
  const provider = new TracerProvider({
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(sampleRatio) }),
    resource: resourceFromAttributes({
      [ATTR_SERVICE_NAME]: service,
      ...(environment ? { 'deployment.environment.name': environment } : {}),
    }),
    spanProcessors: [
      new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url: endpoint }), scheduledDelayMillis: 1_000 }),
    ],
  });
  // The global provider serves libraries that ask the API for a tracer; the first service of a process sets it.
  trace.setGlobalTracerProvider(provider);
  instrumentDrivers(provider);
  return { tracer: provider.getTracer(service), enabled: true, shutdown: () => provider.shutdown() };
}

const require = createRequire(import.meta.url);

/**
 * The official pg and ioredis instrumentations, applied to the modules already loaded. Their usual
 * route, require hooks installed before the driver loads, misses ESM imports of a CommonJS package
 * (`import { Redis } from 'ioredis'` under tsx or node alike) unless the process starts with an extra
 * loader; patching the shared CommonJS exports (the same prototypes ESM imports see) needs neither.
 * Only spans under a request are recorded, and no query parameters or Redis arguments (credentials, tokens).
 */
function instrumentDrivers(provider: TracerProvider): void {
  // ioredis's instrumentation brings its own copy of @opentelemetry/instrumentation, hence the structural type.
  const instrumentations: DriverInstrumentation[] = [
    new PgInstrumentation({ enabled: false, requireParentSpan: true, enhancedDatabaseReporting: false }),
    new IORedisInstrumentation({
      enabled: false,
      requireParentSpan: true,
      dbStatementSerializer: (command) => command,
    }),
  ];
  for (const instrumentation of instrumentations) {
    instrumentation.setTracerProvider(provider);
    for (const def of instrumentation.getModuleDefinitions()) {
      let exports: unknown;
      let version: string;
      try {
        exports = require(def.name);
        version = (require(`${def.name}/package.json`) as { version: string }).version;
      } catch {
        continue; // not a dependency of this service
      }
      def.patch?.(exports as never, version);
    }
  }
}

interface DriverInstrumentation {
  setTracerProvider(provider: TracerProvider): void;
  getModuleDefinitions(): { readonly name: string; patch?: (exports: never, version?: string) => unknown }[];
}

const headerGetter = {
  keys: (h: IncomingHttpHeaders) => Object.keys(h),
  get: (h: IncomingHttpHeaders, key: string) => h[key],
};

/** The context carried by an incoming request's `traceparent` / `tracestate` headers. */
export function extractContext(headers: IncomingHttpHeaders): Context {
  return propagation.extract(context.active(), headers, headerGetter);
}

/** Writes `traceparent` / `tracestate` for `ctx` into an outgoing header object. */
export function injectContext(ctx: Context, headers: Record<string, string | string[] | undefined>): void {
  propagation.inject(ctx, headers);
}

/**
 * An HTTP handler run inside a SERVER span continued from the request's `traceparent`: everything the
 * handler does (queries, gRPC calls, log lines) belongs to that span. Named after the method and
 * `route(req)` (a low-cardinality name, never the raw path with ids). A no-op wrapper when tracing is off.
 */
export function traceHttpServer(
  tracing: Tracing,
  handler: RequestListener,
  route: (req: IncomingMessage) => string = () => '',
): RequestListener {
  if (!tracing.enabled) return handler;
  return (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '').split('?', 1)[0]!;
    const span = tracing.tracer.startSpan(
      `${req.method} ${route(req)}`.trimEnd(),
      { kind: SpanKind.SERVER, attributes: { [ATTR_HTTP_REQUEST_METHOD]: req.method ?? '', [ATTR_URL_PATH]: path } },
      extractContext(req.headers),
    );
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, res.statusCode);
      if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    };
    res.once('finish', end);
    res.once('close', end);
    context.with(trace.setSpan(context.active(), span), () => handler(req, res));
  };
}

/** The trace and span ids of the active span, for log lines (nothing outside a span). */
export function activeSpanIds(): { trace_id: string; span_id: string } | undefined {
  const span = trace.getSpan(context.active());
  if (!span) return undefined;
  const { traceId, spanId } = span.spanContext();
  return { trace_id: traceId, span_id: spanId };
}

const REQUEST_ID = createContextKey('prism.request_id');

/** `ctx` carrying the request id, which outgoing gRPC calls send on as `x-request-id` metadata. */
export function withRequestId(ctx: Context, id: string): Context {
  return ctx.setValue(REQUEST_ID, id);
}

/** The request id of the request being served, when one is in the active context. */
export function activeRequestId(): string | undefined {
  return context.active().getValue(REQUEST_ID) as string | undefined;
}
