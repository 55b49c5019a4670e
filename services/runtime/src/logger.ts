import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { pino, type Logger, type LevelWithSilent } from 'pino';
import { API_KEY_HEADER, LOG_SPAN_ID_FIELD, LOG_TRACE_ID_FIELD } from '#contract';
import { activeSpanIds } from './tracing.js';

export type { Logger } from 'pino';

/** Paths pino replaces with `[redacted]`: credentials must never reach a log line. */
const REDACT_PATHS = [
  'password',
  '*.password',
  'token',
  '*.token',
  'secret',
  '*.secret',
  'apiKey',
  '*.apiKey',
  'refreshToken',
  '*.refreshToken',
  'accessToken',
  '*.accessToken',
  'req.headers.authorization',
  'req.headers.cookie',
  `req.headers["${API_KEY_HEADER}"]`,
  'headers.authorization',
  'headers.cookie',
  `headers["${API_KEY_HEADER}"]`,
  'res.headers["set-cookie"]',
];

export interface LoggerOptions {
  readonly service: string;
  readonly environment?: string;
  readonly level?: LevelWithSilent;
  /** Where lines go; defaults to stdout. Tests pass a stream to read them back. */
  readonly destination?: NodeJS.WritableStream;
}

/**
 * A JSON logger with the service name on every line and secrets redacted. A line written inside a traced
 * request carries its trace and span ids (the contract's LOG_TRACE_ID_FIELD, which Grafana's Loki link reads).
 */
export function createLogger(opts: LoggerOptions): Logger {
  return pino(
    {
      level: opts.level ?? 'info',
      base: { service: opts.service, ...(opts.environment ? { env: opts.environment } : {}) },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      mixin: () => {
        const ids = activeSpanIds();
        return ids ? { [LOG_TRACE_ID_FIELD]: ids.trace_id, [LOG_SPAN_ID_FIELD]: ids.span_id } : {};
      },
    },
    (opts.destination ?? pino.destination({ sync: false })) as pino.DestinationStream,
  );
}

export const REQUEST_ID_HEADER = 'x-request-id';
const VALID_REQUEST_ID = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

/** A request id a client may choose: short, printable, no spaces or quotes. */
export function isValidRequestId(v: string): boolean {
  return VALID_REQUEST_ID.test(v);
}

/** The request id: the client's `x-request-id` when it is sane, otherwise a new UUID. */
export function requestIdOf(headers: IncomingHttpHeaders): string {
  const v = headers[REQUEST_ID_HEADER];
  return typeof v === 'string' && VALID_REQUEST_ID.test(v) ? v : randomUUID();
}
