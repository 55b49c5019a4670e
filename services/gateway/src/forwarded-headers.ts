import { API_KEY_HEADER, IDENTITY_HEADER_PREFIX } from '#contract';

/**
 * The request headers a client may pass to an upstream: an allow-list, not a deny-list. Upstream
 * frameworks and proxies believe many headers about the client's address, the URL, the scheme or the
 * method (`X-Client-IP`, `True-Client-IP`, `X-Forwarded-Prefix`, `X-HTTP-Method-Override`, `X-Original-URL`,
 * ...); a deny-list misses the next one, so everything not named here stays at the gateway. The gateway
 * then adds what it decides itself: `X-Forwarded-For/-Proto/-Host`, the request id and the identity
 * headers (`x-prism-*`).
 *
 * What is here: content negotiation, the body's description, conditional and range requests, caching,
 * cookies and the bearer token (auth's own routes read them), the browser's origin and fetch metadata
 * (CSRF defences upstream), CORS preflight, idempotency keys, and W3C trace context (forwarded only
 * while the gateway traces nothing itself). A header an application needs beyond these is added here,
 * on purpose, with a test.
 */
const FORWARDED_REQUEST_HEADERS: ReadonlySet<string> = new Set([
  'accept',
  'accept-encoding',
  'accept-language',
  'authorization',
  'cache-control',
  'content-encoding',
  'content-language',
  'content-length',
  'content-type',
  'cookie',
  'if-match',
  'if-modified-since',
  'if-none-match',
  'if-range',
  'if-unmodified-since',
  'origin',
  'pragma',
  'range',
  'referer',
  'user-agent',
  'sec-fetch-dest',
  'sec-fetch-mode',
  'sec-fetch-site',
  'sec-fetch-user',
  'access-control-request-headers',
  'access-control-request-method',
  'idempotency-key',
  'x-requested-with',
  'traceparent',
  'tracestate',
  'baggage',
]);

// The identity headers and the API key are the gateway's to set or keep: never on the list.
for (const h of FORWARDED_REQUEST_HEADERS) {
  if (h.startsWith(IDENTITY_HEADER_PREFIX) || h === API_KEY_HEADER)
    throw new Error(`forwarded-headers: ${h} may not be forwarded from the client`);
}

/** Trace context headers: a client's copy goes upstream only while the gateway does not trace (it then starts the trace itself). */
const TRACE_CONTEXT = new Set(['traceparent', 'tracestate', 'baggage']);

/**
 * The client's headers that go upstream, as `[name, value, ...]` with lower-case names, from Node's
 * `rawHeaders`. Headers named in `Connection` are hop-by-hop (RFC 9110 §7.6.1) and stay here even when
 * allowed. `host` is returned apart: the gateway passes it on as `X-Forwarded-Host`.
 */
export function forwardedHeaders(
  raw: readonly string[],
  forwardTrace: boolean,
): { headers: string[]; host: string | undefined } {
  const headers: string[] = [];
  let host: string | undefined;
  let connectionTokens: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    const value = raw[i + 1]!;
    if (FORWARDED_REQUEST_HEADERS.has(name)) {
      if (!forwardTrace && TRACE_CONTEXT.has(name)) continue;
      headers.push(name, value);
    } else if (name === 'host') host = value;
    else if (name === 'connection') connectionTokens = value.toLowerCase();
  }
  if (connectionTokens !== undefined && connectionTokens !== 'keep-alive' && connectionTokens !== 'close') {
    const named = new Set(connectionTokens.split(',').map((t) => t.trim()));
    for (let i = headers.length - 2; i >= 0; i -= 2) if (named.has(headers[i]!)) headers.splice(i, 2);
  }
  return { headers, host };
}
