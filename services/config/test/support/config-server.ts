import { Writable } from 'node:stream';
import { ServiceRuntime, parseEnv } from '#runtime';
import { freePort } from '#test/support/net';
import { startConfigService } from '../../src/service.js';

/** The config service on a real runtime (environment `test`, the test NATS, logs discarded), values in the ops database at `dbUrl`. */
export async function startTestConfigService(
  dbUrl: string,
  grpcPort = 0,
  opts: { env?: Record<string, string>; mtlsRefreshMs?: number } = {},
): Promise<{ runtime: ServiceRuntime; port: number }> {
  const u = new URL(dbUrl);
  const runtime = new ServiceRuntime({
    service: 'config',
    handleSignals: false,
    drainDelayMs: 0,
    logDestination: new Writable({ write: (_c, _e, cb) => cb() }),
    ...(opts.mtlsRefreshMs ? { mtlsRefreshMs: opts.mtlsRefreshMs } : {}),
    env: parseEnv('config', {
      PRISM_ENVIRONMENT: 'test',
      PRISM_NATS_URL: process.env.PRISM_TEST_NATS_URL,
      PRISM_METRICS_PORT: String(await freePort()),
      PRISM_OPS_DB_HOST: u.hostname,
      PRISM_OPS_DB_PORT: u.port,
      PRISM_OPS_DB_NAME: u.pathname.slice(1),
      PRISM_OPS_DB_USER: decodeURIComponent(u.username),
      PRISM_OPS_DB_PASSWORD: decodeURIComponent(u.password),
      ...opts.env,
    }),
  });
  const { port } = await startConfigService(runtime, { grpcPort });
  await runtime.start(port);
  return { runtime, port };
}
