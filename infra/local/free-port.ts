import { createServer } from 'node:net';

/**
 * The one free-port helper (the local platform, the test servers and the tests use it).
 *
 * Ports come from below the kernel's ephemeral range (32768–60999 on Linux): a port the kernel picked
 * (listen(0)) is free only until someone's next listen(0) or outgoing connection takes it back, which
 * parallel test files and a platform's own clients do all the time; a port from here is never handed out
 * by the kernel, nor twice by this process. Each process starts in a block of its own: a vitest worker
 * by its pool id turned by the run's seed (PRISM_PORT_SEED, drawn by the global set-up, so two runs in
 * different checkouts start their workers in different blocks), any other process by its pid. A port
 * found taken (by anyone, on any IPv4 address) is skipped.
 */
const FIRST = 20_000;
const END = 32_768;
const BLOCK = 500;
const BLOCKS = Math.floor((END - FIRST) / BLOCK);
let start: number | undefined;
let offset = 0;

function firstBlock(): number {
  const poolId = process.env.VITEST_POOL_ID ?? process.env.VITEST_WORKER_ID;
  return (poolId !== undefined ? Number(poolId) + Number(process.env.PRISM_PORT_SEED ?? 0) : process.pid) % BLOCKS;
}

/** A block number for a test run's workers (see above). */
export function portSeed(): string {
  return String(Math.floor(Math.random() * BLOCKS));
}

function isFree(port: number): Promise<boolean> {
  // 0.0.0.0 conflicts with any IPv4 listener on the port, 127.0.0.1 included.
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen({ port, host: '0.0.0.0', exclusive: true }, () => s.close(() => resolve(true)));
  });
}

/** A TCP port free on every IPv4 address, not handed out before by this process, outside the kernel's ephemeral range. */
export async function freePort(): Promise<number> {
  // Our block first, then on through the others (a whole platform or a long test file may need more).
  start ??= firstBlock();
  while (offset < END - FIRST) {
    const port = FIRST + ((start * BLOCK + offset++) % (END - FIRST));
    if (await isFree(port)) return port;
  }
  throw new Error(`freePort: every port from ${FIRST} to ${END - 1} is taken or was handed out`);
}
