import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * Two processes whose preferred port blocks coincide (two `local:up` in two terminals whose pids agree
 * modulo the block count; here: the same pool id and seed) must not hand out the same ports: neither
 * binds them before both have chosen, so only the block claim keeps them apart.
 */

const REPO = resolve(import.meta.dirname, '../..');
const CHILD = `
  import { freePort } from '#infra/local/free-port';
  const ports = [];
  for (let i = 0; i < 5; i++) ports.push(await freePort());
  process.stdout.write(JSON.stringify(ports) + '\\n');
  process.stdin.once('data', () => process.exit(0));
`;

function holder(): { ports: Promise<number[]>; release: () => Promise<void> } {
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', CHILD], {
    cwd: REPO,
    env: { ...process.env, VITEST_POOL_ID: '7', PRISM_PORT_SEED: '3' },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const ports = new Promise<number[]>((res, rej) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) res(JSON.parse(out) as number[]);
    });
    child.once('exit', (code) => rej(new Error(`child exited (${code}) before answering`)));
  });
  return { ports, release: () => (child.stdin.end('\n'), exited) };
}

describe('freePort across processes', () => {
  it('gives two live processes with the same preferred block disjoint ports, and frees the block at exit', async () => {
    const a = holder();
    const aPorts = await a.ports;
    const b = holder();
    const bPorts = await b.ports;
    expect(new Set([...aPorts, ...bPorts]).size).toBe(10);
    await Promise.all([a.release(), b.release()]);
    // Both claims are released: a third process starts in the preferred block again, where the first did.
    const c = holder();
    expect(await c.ports).toEqual(aPorts);
    await c.release();
  }, 60_000);
});
