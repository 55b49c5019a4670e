// The gateway process: `npm run start:gateway` (tsx) or `node build/services/gateway/src/main.js`.
import { ServiceRuntime } from '../../runtime/src/index.js';
import { startGateway } from './server.js';

const runtime = new ServiceRuntime({ service: 'gateway' });
try {
  await startGateway(runtime);
} catch (e) {
  // Configuration problems are one clear line; anything else is logged in full.
  const err = e as Error;
  if (err.name === 'GatewayConfigError' || err.name === 'TlsConfigError') process.stderr.write(`${err.message}\n`);
  else runtime.log.fatal({ err }, 'gateway failed to start');
  runtime.log.flush();
  process.exit(78);
}
