import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '#test/support/net';
import { gatewayEnv, makeKeys, route, TestUpstream, type Keys } from './support/harness.js';

const ROOT = new URL('../../../', import.meta.url).pathname;

const listening = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });

let keys: Keys;
let upstream: TestUpstream;
beforeAll(async () => {
  keys = await makeKeys();
  upstream = await new TestUpstream().start();
});
afterAll(() => upstream.stop());

describe('npm run start:<service>', () => {
  it('every start script execs node itself (tsx as a loader): no shell or tsx process sits between npm and the service to swallow signals', () => {
    const scripts = (JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as { scripts: Record<string, string> })
      .scripts;
    const starts = Object.entries(scripts).filter(([k]) => k.startsWith('start:'));
    expect(starts.map(([k]) => k).sort()).toEqual(['start:auth', 'start:config', 'start:dbmanager', 'start:gateway']);
    for (const [, cmd] of starts) expect(cmd).toMatch(/^exec node --import tsx services\/\w+\/src\/\w+\.ts( serve)?$/);
  });

  it('SIGTERM to npm stops the service: it drains, closes its port and exits, and npm exits with it', async () => {
    const env = await gatewayEnv({ keys, routes: [route('a', upstream.origin)] });
    const port = Number(env.PRISM_HTTP_PORT);
    // Its own process group, so whatever survives can be found and killed after the test.
    const npm = spawn('npm', ['run', '--silent', 'start:gateway'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH!, HOME: process.env.HOME ?? '/tmp', ...env },
      detached: true,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    npm.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const exited = new Promise<void>((r) => npm.once('exit', () => r()));
    try {
      await waitFor(
        'the gateway',
        async () => (await fetch(`http://127.0.0.1:${port}/ready`).catch(() => undefined))?.status === 200 || undefined,
        30_000,
      );
      process.kill(npm.pid!, 'SIGTERM');
      await waitFor(
        'npm to exit',
        () =>
          Promise.race([exited.then(() => true), new Promise<undefined>((r) => setTimeout(() => r(undefined), 200))]),
        15_000,
      );
      // The service itself is gone: its port no longer answers.
      await waitFor('the gateway port to close', async () => !(await listening(port)) || undefined, 10_000);
      expect(await listening(Number(env.PRISM_METRICS_PORT))).toBe(false);
      // No process of the group is left (signal 0 to the group fails once it is empty).
      const groupAlive = () => {
        try {
          process.kill(-npm.pid!, 0);
          return true;
        } catch {
          return false;
        }
      };
      await waitFor('every process of the group to exit', () => !groupAlive() || undefined, 10_000);
    } finally {
      try {
        process.kill(-npm.pid!, 'SIGKILL');
      } catch {
        // the whole group is gone, as it should be
      }
    }
    expect(stderr).not.toMatch(/Error/);
  }, 60_000);
});
