import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';

/**
 * scripts/compose-leftovers.sh, the check `compose-run.sh down` ends with, against real processes and a real
 * listening socket: each kind of leftover it looks for is planted, named by the check, and gone once removed.
 * The project name is one no Compose project has, so the engine's own lists are empty.
 */

const state = mkdtempSync(join(tmpdir(), 'prism-leftovers-'));
const record = join(state, 'leftovers');
const ID = 'f'.repeat(64); // a container ID as Docker and podman print it
const cli = spawnSync('sh', ['-c', 'command -v podman'], { encoding: 'utf8' }).status === 0 ? 'source' : 'download';

function check(): { status: number | null; stderr: string } {
  const r = spawnSync(
    'bash',
    [
      '-c',
      `set -euo pipefail; project() { echo prism-leftovers-test-$$; }; . scripts/compose-leftovers.sh; leftovers_check "$1" "$2"`,
      'check',
      record,
      state,
    ],
    { encoding: 'utf8', env: { ...process.env, PRISM_TOOLCHAIN: cli } },
  );
  return { status: r.status, stderr: r.stderr };
}

const started: ChildProcess[] = [];
let server: Server | undefined;
afterEach(async () => {
  for (const c of started.splice(0)) c.kill();
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = undefined;
  writeFileSync(record, '');
});
afterAll(() => rmSync(state, { recursive: true, force: true }));

/** A real process whose command line carries `marker`, running until killed. */
async function processNaming(marker: string): Promise<ChildProcess> {
  const c = spawn('sh', ['-c', 'sleep 60', marker], { stdio: 'ignore' });
  started.push(c);
  await new Promise((r) => setTimeout(r, 200));
  return c;
}

describe('compose-run.sh down: nothing of the lane left', () => {
  writeFileSync(record, '');

  it('passes when nothing is left', () => {
    const r = check();
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it("names a process of the lane's engine (its command line names the state directory)", async () => {
    const p = await processNaming(`${state}/podman.sock`);
    const r = check();
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`left after down: process ${p.pid} sh -c sleep 60 ${state}/podman.sock`);
    p.kill();
    await new Promise((r) => p.once('exit', r));
    expect(check().status).toBe(0);
  });

  it("names a process holding a recorded container (conmon's command line carries its ID)", async () => {
    writeFileSync(record, `container ${ID}\n`);
    const p = await processNaming(`-c ${ID}`);
    const r = check();
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`process ${p.pid} sh -c sleep 60 -c ${ID}`);
  });

  it('names a published port still listening, with what holds it', async () => {
    server = createServer();
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const { port } = server.address() as { port: number };
    writeFileSync(record, `container ${ID}\nport 127.0.0.1:${port}\n`);
    const r = check();
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(
      new RegExp(`listening port 127\\.0\\.0\\.1:${port} users:\\(\\("[^"]+",pid=${process.pid},`),
    );
    await new Promise<void>((r) => server!.close(() => r()));
    server = undefined;
    expect(check().status).toBe(0);
  });

  it('names a recorded mount that is still mounted', () => {
    writeFileSync(record, 'mount /proc\nmount /nonexistent/prism-leftovers\n');
    const r = check();
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('left after down: mount /proc\n');
    expect(r.stderr).not.toContain('/nonexistent/prism-leftovers');
  });
});
