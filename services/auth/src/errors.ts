/**
 * Errors the HTTP layer turns into responses. Anything else is a 500 with a generic message
 * (the detail goes to the log), except dependency outages, which are a 503.
 */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** PostgreSQL or Redis is unreachable: the request can be retried later (503). */
export class DependencyUnavailable extends Error {
  constructor(
    readonly dependency: 'postgres' | 'redis' | 'oauth-provider',
    cause: unknown,
  ) {
    super(`${dependency} unavailable: ${(cause as Error)?.message ?? String(cause)}`, { cause });
  }
}

const PG_CONNECTION_CODES = new Set(['57P01', '57P02', '57P03', '53300']);
const NET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/** True for errors that mean "the database or cache is down or restarting", not "the query is wrong". */
export function isConnectionError(e: unknown): boolean {
  if (!(e instanceof Error)) return false;
  const code = (e as { code?: unknown }).code;
  if (typeof code === 'string' && (PG_CONNECTION_CODES.has(code) || code.startsWith('08') || NET_CODES.has(code)))
    return true;
  // pg and ioredis phrase some lost-connection failures without a code.
  return /Connection terminated|connection timeout|Client has encountered a connection error|Connection is closed|Stream isn't writeable|timeout exceeded when trying to connect|MaxRetriesPerRequest/i.test(
    e.message,
  );
}
