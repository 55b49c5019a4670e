import { chmodSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

/**
 * The one free-port helper (the local platform, the test servers and the tests use it).
 *
 * Ports come from below the kernel's ephemeral range (32768–60999 on Linux): a port the kernel picked
 * (listen(0)) is free only until someone's next listen(0) or outgoing connection takes it back, which
 * parallel test files and a platform's own clients do all the time; a port from here is never handed out
 * by the kernel, nor twice by this process. Each process starts in a block of its own: a vitest worker
 * by its pool id turned by the run's seed (PRISM_PORT_SEED, drawn by the global set-up, so two runs in
 * different checkouts start their workers in different blocks), any other process by its pid. A port
 * found taken (by anyone, on any IPv4 address) is skipped. That alone does not keep two processes apart
 * whose blocks coincide (two `local:up` in two terminals: pid modulo the block count), both handing out
 * the same ports before either binds them: so a process claims its block (see claimBlock).
 */
const FIRST = 20_000;
const END = 32_768;
const BLOCK = 500;
const BLOCKS = Math.floor((END - FIRST) / BLOCK);
let start: number | undefined;
let offset = 0;

/** Machine-wide (not TMPDIR: every test run has its own): one file per claimed block, holding the claimant's pid. */
const CLAIMS = '/tmp/prism-port-blocks';

function firstBlock(): number {
  const poolId = process.env.VITEST_POOL_ID ?? process.env.VITEST_WORKER_ID;
  return (poolId !== undefined ? Number(poolId) + Number(process.env.PRISM_PORT_SEED ?? 0) : process.pid) % BLOCKS;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The first block from `preferred` on that no live process has claimed, claimed for this process until
 * it exits (a dead claimant's block is taken over). Where claims cannot be written, the preferred block.
 */
function claimBlock(preferred: number): number {
  try {
    // Shared by every user's processes, as /tmp is (the mode is cut by the umask at creation).
    if (mkdirSync(CLAIMS, { recursive: true }) !== undefined) chmodSync(CLAIMS, 0o1777);
  } catch {
    return preferred;
  }
  for (let i = 0; i < BLOCKS; i++) {
    const block = (preferred + i) % BLOCKS;
    const file = join(CLAIMS, String(block));
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        writeFileSync(file, String(process.pid), { flag: 'wx', mode: 0o644 });
        process.once('exit', () => {
          try {
            if (readFileSync(file, 'utf8') === String(process.pid)) unlinkSync(file);
          } catch {
            // already gone
          }
        });
        return block;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') return preferred;
      }
      let holder: number;
      try {
        // Empty while its claimant is writing it: Number('') is 0, which counts as alive (our group).
        holder = Number(readFileSync(file, 'utf8'));
      } catch {
        continue; // released meanwhile: try again
      }
      if (holder === process.pid) return block;
      if (alive(holder)) break;
      try {
        unlinkSync(file);
      } catch {
        // someone else took it over first; the next attempt sees their claim
      }
    }
  }
  return preferred;
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
  start ??= claimBlock(firstBlock());
  while (offset < END - FIRST) {
    const port = FIRST + ((start * BLOCK + offset++) % (END - FIRST));
    if (await isFree(port)) return port;
  }
  throw new Error(`freePort: every port from ${FIRST} to ${END - 1} is taken or was handed out`);
}
