// The config service process: `npm run start:config` (tsx) or `node build/services/config/src/main.js`.
import { ServiceRuntime } from '../../runtime/src/index.js';
import { startConfigService } from './service.js';

const runtime = new ServiceRuntime({ service: 'config' });
try {
  const { port } = await startConfigService(runtime);
  await runtime.start(port);
} catch (e) {
  runtime.log.fatal({ err: e as Error }, 'config service failed to start');
  runtime.log.flush();
  process.exit(1);
}
