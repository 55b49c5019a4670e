import type { IncomingHttpHeaders } from 'node:http';
import { context, propagation, trace, type Context, type Span, type Tracer } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { Resource } from '@opentelemetry/resources';
import { BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';

export { context, trace, type Context, type Span };

export interface Tracing {
  /** The service's tracer (a no-op tracer when tracing is off). */
  readonly tracer: Tracer;
  readonly enabled: boolean;
  /** Exports what is buffered and stops. */
  shutdown(): Promise<void>;
}

/**
 * Traces exported over OTLP/HTTP (Jaeger's :4318/v1/traces) when `endpoint` is set, with W3C
 * `traceparent`/`tracestate` propagation. Without an endpoint the API stays a no-op, which costs nothing.
 */
export function startTracing(service: string, endpoint: string | undefined, environment?: string): Tracing {
  if (!endpoint) return { tracer: trace.getTracer(service), enabled: false, shutdown: async () => {} };
  const provider = new NodeTracerProvider({
    resource: new Resource({ [ATTR_SERVICE_NAME]: service, ...(environment ? { 'deployment.environment': environment } : {}) }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: endpoint }))],
  });
  provider.register({ propagator: new W3CTraceContextPropagator() });
  return { tracer: provider.getTracer(service), enabled: true, shutdown: () => provider.shutdown() };
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
