import { REQUEST_ID_HEADER } from '../../runtime/src/index.js';
import type { Ctx } from './request-context.js';

// The headers of every response the gateway sends, its own error answers, and which of an upstream's response
// headers reach the client: one place that decides what a client sees besides the upstream's body.

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

/** An upstream's response headers as undici's flat list, without hop-by-hop ones and the upstream's request id. */
export function upstreamResponseHeaders(headers: Record<string, string | string[] | undefined>): string[] {
  const out: string[] = [];
  for (const k in headers) {
    if (DROP_RESPONSE.has(k)) continue;
    const v = headers[k]!;
    if (typeof v === 'string') out.push(k, v);
    else for (const x of v) out.push(k, x);
  }
  return out;
}

/** The request id, the rate-limit headers of the request's decision, and `connection: close` while draining. */
export function commonHeaders(ctx: Ctx, out: string[]): void {
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

/** A response the gateway makes itself: JSON `{ error, request_id }` (the caller records the request). */
export function writeError(
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
  commonHeaders(ctx, out);
  if (!ctx.res.headersSent)
    ctx.res.writeHead(status, out).end(`{"error":${JSON.stringify(message)},"request_id":${JSON.stringify(ctx.id)}}`);
}
