import { createServer } from 'node:net';

// Ports handed out come from below the kernel's ephemeral range (32768–60999 on Linux), each vitest worker
// from its own block. A port the kernel picked (listen(0)) is free only until someone else's listen(0) or
// outgoing connection takes it back, which parallel test files do all the time: a port from here is never
// handed out by the kernel, nor twice by us.
const FIRST = 20_000;
const BLOCK = 500; // ports per worker; 25 blocks fit below 32768
const worker = Number(process.env.VITEST_POOL_ID ?? process.env.VITEST_WORKER_ID ?? 0) % 25;
let next = FIRST + worker * BLOCK;

function isFree(port: number): Promise<boolean> {
  // 0.0.0.0 conflicts with any IPv4 listener on the port, 127.0.0.1 included.
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen({ port, host: '0.0.0.0', exclusive: true }, () => s.close(() => resolve(true)));
  });
}

/** A TCP port free on every IPv4 address, not handed out before in this run, and outside the kernel's ephemeral range. */
export async function freePort(): Promise<number> {
  const end = FIRST + (worker + 1) * BLOCK;
  while (next < end) {
    const port = next++;
    if (await isFree(port)) return port;
  }
  throw new Error(`freePort: this worker's ${BLOCK} ports (from ${end - BLOCK}) are used up`);
}

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, timeoutMs = 10_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < until) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}
