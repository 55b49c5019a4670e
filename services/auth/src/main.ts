import { ServiceRuntime } from '../../runtime/src/index.js';
import { startAuthService } from './service.js';

// The auth service process: env validated by the runtime (exit 78 on a bad one), then HTTP on
// PRISM_HTTP_PORT (/auth/*), gRPC on PRISM_GRPC_PORT, metrics and health on PRISM_METRICS_PORT.
const runtime = new ServiceRuntime({ service: 'auth' });
try {
  const { httpPort } = await startAuthService(runtime);
  await runtime.start(httpPort);
} catch (e) {
  runtime.log.fatal({ err: e }, 'auth failed to start');
  await runtime.shutdown().catch(() => undefined);
  process.exit(1);
}
