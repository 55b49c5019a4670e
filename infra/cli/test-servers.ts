/**
 * The test servers outside a test run (vitest's global set-up starts its own per run):
 *   npm run -s test-servers -- start [DIR]   start the servers of DIR (default: a new temporary directory), or reuse
 *                                            those answering; prints PRISM_TEST_ROOT and the PRISM_TEST_* lines
 *   npm run -s test-servers -- stop DIR      stop them and remove DIR
 *   npm run -s test-servers -- env DIR       print DIR's PRISM_TEST_* lines
 * To keep servers across runs: set -a; eval "$(npm run -s test-servers -- start /tmp/my-servers)"; set +a
 */
import { LocalPlatformError } from '../local-platform/launcher.js';
import { startTestServers, stopTestServers, testServersEnv } from '../local-platform/test-servers.js';

const USAGE = 'usage: test-servers start [DIR] | stop DIR | env DIR';

async function main([command, dir, ...rest]: string[]): Promise<number> {
  if (rest.length > 0) throw new LocalPlatformError(USAGE);
  if (command === 'start') {
    const s = await startTestServers(dir);
    process.stdout.write(`PRISM_TEST_ROOT=${s.root}\n${testServersEnv(s.root)}`);
    return 0;
  }
  if (command === 'stop' && dir) {
    await stopTestServers(dir);
    return 0;
  }
  if (command === 'env' && dir) {
    process.stdout.write(testServersEnv(dir));
    return 0;
  }
  process.stderr.write(`${USAGE}\n`);
  return 2;
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (e) {
  process.stderr.write(
    `test-servers: ${e instanceof LocalPlatformError ? e.message : ((e as Error).stack ?? String(e))}\n`,
  );
  process.exitCode = 1;
}
