/** A valid environment of the config service (the runtime tests' service; nothing here is connected to). */
export function configServiceEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    PRISM_ENVIRONMENT: 'test',
    PRISM_NATS_URL: 'nats://127.0.0.1:4222',
    PRISM_OPS_DB_HOST: '127.0.0.1',
    PRISM_OPS_DB_PORT: '5433',
    PRISM_OPS_DB_NAME: 'prism_ops',
    PRISM_OPS_DB_USER: 'prism',
    PRISM_OPS_DB_PASSWORD: 'not-a-real-password',
    PRISM_LOG_LEVEL: 'warn',
    ...extra,
  };
}
