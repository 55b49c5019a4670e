import * as grpc from '@grpc/grpc-js';
import {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type TextMapGetter,
} from '@opentelemetry/api';
import { REQUEST_ID_HEADER, isValidRequestId } from './logger.js';
import { activeRequestId, withRequestId, type Tracing } from './tracing.js';

/**
 * gRPC calls carry the W3C trace context (`traceparent`, `tracestate`) and the request id (`x-request-id`)
 * as metadata, both ways: a client interceptor writes them, the server side continues from them.
 */

const metadataGetter: TextMapGetter<grpc.Metadata> = {
  keys: (m) => Object.keys(m.getMap()),
  get: (m, key) => {
    const v = m.get(key);
    return v.length === 0 ? undefined : v.map(String);
  },
};

const rpcAttributes = (path: string) => {
  const [service = '', method = ''] = path.slice(1).split('/');
  return { 'rpc.system': 'grpc', 'rpc.service': service, 'rpc.method': method };
};

/**
 * A client interceptor: the request id of the request being served goes on as `x-request-id`; with
 * tracing on, a CLIENT span (only under a span, so a long-lived watch stream opened at start-up makes none)
 * whose context goes on as `traceparent`.
 */
export function grpcClientInterceptor(tracing: Tracing): grpc.Interceptor {
  return (options, nextCall) => {
    const parent = context.active();
    const path = options.method_definition.path;
    const span =
      tracing.enabled && trace.getSpan(parent)
        ? tracing.tracer.startSpan(path.slice(1), { kind: SpanKind.CLIENT, attributes: rpcAttributes(path) }, parent)
        : undefined;
    return new grpc.InterceptingCall(nextCall(options), {
      start(metadata, listener, next) {
        const requestId = activeRequestId();
        if (requestId !== undefined) metadata.set(REQUEST_ID_HEADER, requestId);
        if (span) {
          const carrier: Record<string, string> = {};
          propagation.inject(trace.setSpan(parent, span), carrier);
          for (const [k, v] of Object.entries(carrier)) metadata.set(k, v);
        }
        next(
          metadata,
          new grpc.ListenerBuilder()
            .withOnReceiveStatus((status, nextStatus) => {
              if (span) {
                span.setAttribute('rpc.grpc.status_code', status.code);
                if (status.code !== grpc.status.OK)
                  span.setStatus({ code: SpanStatusCode.ERROR, message: status.details });
                span.end();
              }
              nextStatus(status);
            })
            .build(),
        );
      },
    });
  };
}

type Implementation = grpc.UntypedServiceImplementation;

/**
 * A service implementation whose unary handlers run inside a SERVER span continued from the call's
 * metadata, with the caller's request id in the context (and on the span as `prism.request_id`), so the
 * handler's queries, calls and log lines belong to the caller's trace. Streaming handlers are left as they are.
 */
export function traceGrpcService(
  tracing: Tracing,
  service: grpc.ServiceDefinition,
  impl: Implementation,
): Implementation {
  const out: Implementation = { ...impl };
  for (const [name, def] of Object.entries(service)) {
    const handler = impl[name] ?? impl[def.originalName ?? ''];
    if (def.requestStream || def.responseStream || typeof handler !== 'function') continue;
    const unary = handler as grpc.handleUnaryCall<unknown, unknown>;
    const key = impl[name] ? name : def.originalName!;
    out[key] = ((call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      let ctx = propagation.extract(ROOT_CONTEXT, call.metadata, metadataGetter);
      const requestId = call.metadata.get(REQUEST_ID_HEADER)[0];
      const validId = typeof requestId === 'string' && isValidRequestId(requestId) ? requestId : undefined;
      if (validId) ctx = withRequestId(ctx, validId);
      if (!tracing.enabled) return context.with(ctx, () => unary(call, callback));
      const span = tracing.tracer.startSpan(
        def.path.slice(1),
        {
          kind: SpanKind.SERVER,
          attributes: { ...rpcAttributes(def.path), ...(validId ? { 'prism.request_id': validId } : {}) },
        },
        ctx,
      );
      const done: grpc.sendUnaryData<unknown> = (err, value, trailer, flags) => {
        const code = err ? (err.code ?? grpc.status.UNKNOWN) : grpc.status.OK;
        span.setAttribute('rpc.grpc.status_code', code);
        if (code !== grpc.status.OK) span.setStatus({ code: SpanStatusCode.ERROR, message: err?.details ?? '' });
        span.end();
        callback(err, value, trailer, flags);
      };
      context.with(trace.setSpan(ctx, span), () => unary(call, done));
    }) as grpc.handleUnaryCall<unknown, unknown>;
  }
  return out;
}
