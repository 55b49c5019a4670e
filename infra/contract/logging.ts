/**
 * The fields of a service's JSON log line that link it to its trace: written by the services' logger
 * (services/runtime/src/logger.ts) on every line inside a request, read by Grafana's Loki data source
 * (a derived field that opens the trace in Jaeger). One definition, so the two cannot drift apart.
 */
export const LOG_TRACE_ID_FIELD = 'trace_id';
export const LOG_SPAN_ID_FIELD = 'span_id';

/** The Loki derived field's regular expression: the 32 hex digits of the trace id in a JSON log line. */
export const LOG_TRACE_ID_REGEX = `"${LOG_TRACE_ID_FIELD}":"([0-9a-f]{32})"`;
