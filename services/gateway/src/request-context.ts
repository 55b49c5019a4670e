import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Span } from '../../runtime/src/index.js';
import type { Identity } from './identity.js';
import type { Decision } from './rate-limit.js';
import type { Upstream } from './upstreams.js';

// The state one request carries through the gateway's handler, the proxy loop and the record of its end.

/** Per-request state, one object per request. */
export interface Ctx {
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
