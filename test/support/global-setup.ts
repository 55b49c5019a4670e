import { execFileSync } from 'node:child_process';

/**
 * Starts the real servers the integration tests use (PostgreSQL, Redis, NATS on 127.0.0.1;
 * see scripts/test-services.sh) and exports their addresses as PRISM_TEST_* variables.
 * Where the servers cannot be started, the tests that need them fail with a connection error.
 */
export default function setup(): void {
  try {
    const out = execFileSync('bash', ['scripts/test-services.sh', 'start'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    for (const line of out.split('\n')) {
      const m = /^(PRISM_TEST_[A-Z0-9_]+)=(.*)$/.exec(line);
      if (m && process.env[m[1]!] === undefined) process.env[m[1]!] = m[2];
    }
  } catch (e) {
    console.warn(`test servers could not be started: ${(e as Error).message.split('\n')[0]}`);
  }
}
