import {
  REQUEST_ID_HEADER,
  SpanKind,
  context as otelContext,
  injectContext,
  trace,
  type Tracing,
} from '../../runtime/src/index.js';
import { forwardedHeaders } from './forwarded-headers.js';
import type { Ctx } from './request-context.js';

// The request headers the upstream receives: built once per request, before the first attempt.

/** The client's allowed headers (forwarded-headers.ts), then the ones the gateway decides: address, scheme, host, request id, identity, trace. */
export function upstreamHeaders(ctx: Ctx, tracing: Tracing): string[] {
  const { headers: out, host } = forwardedHeaders(ctx.req.rawHeaders, !tracing.enabled);
  out.push(REQUEST_ID_HEADER, ctx.id, 'x-forwarded-for', ctx.ip);
  out.push('x-forwarded-proto', 'encrypted' in ctx.req.socket ? 'https' : 'http');
  if (host !== undefined) out.push('x-forwarded-host', host);
  if (ctx.identity) for (const h of ctx.identity.headers) out.push(h);
  if (ctx.span && !ctx.span.isRecording()) {
    // A trace not sampled: no upstream span to record either; the server span's ids (flagged not sampled)
    // still reach the upstream, for its logs and its own decision.
    const carrier: Record<string, string> = {};
    injectContext(trace.setSpan(otelContext.active(), ctx.span), carrier);
    for (const k in carrier) out.push(k, carrier[k]!);
  } else if (ctx.span) {
    const carrier: Record<string, string> = {};
    const parent = trace.setSpan(otelContext.active(), ctx.span);
    ctx.upstreamSpan ??= tracing.tracer.startSpan(
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
