/**
 * Prometheus metric names the services export and the alert rules and dashboards query.
 * Every service also exports prom-client's default process metrics.
 */
export const METRICS = {
  /** Counter; labels: service, method, route, status. */
  httpRequests: 'prism_http_requests_total',
  /** Histogram (seconds); labels: service, method, route. */
  httpDuration: 'prism_http_request_duration_seconds',
  /** Counter; labels: service, method, code. */
  grpcRequests: 'prism_grpc_requests_total',
  /** Gauge: 0 closed, 1 half-open, 2 open; label: upstream. */
  circuitBreakerState: 'prism_gateway_circuit_breaker_state',
  /** Counter; label: reason (limit, redis_unavailable). */
  rateLimitRejected: 'prism_gateway_rate_limit_rejected_total',
  /** Counter: Redis errors met by the rate limiter; label: mode (open, closed). */
  rateLimitRedisFailures: 'prism_gateway_rate_limit_redis_failures_total',
  /** Counter; label: result (published, dropped, failed). */
  events: 'prism_events_total',
  /** Counter; label: outcome (success, failure, locked). */
  authLogins: 'prism_auth_logins_total',
  /** Counter; label: kind (access, refresh). */
  authTokensIssued: 'prism_auth_tokens_issued_total',
  /** Gauge: Unix time of the last successful backup; label: database, kind. */
  backupLastSuccess: 'prism_backup_last_success_timestamp_seconds',
  /** Gauge: 1 when the last restore verification passed; label: database. */
  backupVerified: 'prism_backup_verification_ok',
  /** Gauge: connections of a PostgreSQL pool by state; labels: service, pool, state (total, idle, waiting: clients queued for one). */
  dbPoolConnections: 'prism_db_pool_connections',
  /** Gauge: the most connections a PostgreSQL pool opens; labels: service, pool. */
  dbPoolMax: 'prism_db_pool_max_connections',
  /** Gauge: 1 while a Redis connection is ready; labels: service, connection. */
  redisConnectionUp: 'prism_redis_connection_up',
  /** Gauge: Redis commands sent or queued and not yet answered; labels: service, connection. */
  redisCommandsPending: 'prism_redis_commands_pending',
} as const;

export const CIRCUIT_STATE = { closed: 0, halfOpen: 1, open: 2 } as const;
