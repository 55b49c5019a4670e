import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../runtime/test/support/net.js';
import { gatewayEnv, makeKeys, route, TestUpstream, tmpDir, token, type Keys } from './support/harness.js';

const MAIN = 'services/gateway/src/main.ts';
let keys: Keys;
let upstream: TestUpstream;
beforeAll(async () => {
  keys = await makeKeys();
  upstream = await new TestUpstream().start();
});
afterAll(() => upstream.stop());

function run(env: Record<string, string>) {
  return spawnSync(process.execPath, ['--import', 'tsx', MAIN], { env: { PATH: process.env.PATH!, ...env }, encoding: 'utf8', timeout: 30_000 });
}

describe('configuration errors stop the process with one clear line', () => {
  it('a missing environment variable', async () => {
    const { PRISM_REDIS_ADDRESS: _, ...env } = await gatewayEnv({ keys, routes: [route('a', upstream.origin)] });
    const r = run(env);
    expect(r.status).toBe(78);
    expect(r.stderr.trim().split('\n')).toEqual(['gateway: environment variable PRISM_REDIS_ADDRESS is required but not set (Redis host:port)']);
  });

  it('a bad value in gateway.yaml names the file and the key', async () => {
    const env = await gatewayEnv({ keys, routes: [route('a', upstream.origin)] });
    const file = join(tmpDir(), 'gateway.yaml');
    writeFileSync(file, 'server: { port: 8080 }\nrate_limit: { enabled: true, requests_per_second: -5, burst: 1, on_redis_failure: open }\nauth: { issuer: a, audience: b }\nroutes: []\n');
    const r = run({ ...env, PRISM_GATEWAY_CONFIG_FILE: file });
    expect(r.status).toBe(78);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(new RegExp(`^gateway config ${file}: rate_limit\\.requests_per_second: .+`));
  });

  it('a missing gateway.yaml', async () => {
    const env = await gatewayEnv({ keys, routes: [] });
    const r = run({ ...env, PRISM_GATEWAY_CONFIG_FILE: '/nonexistent/gateway.yaml' });
    expect(r.status).toBe(78);
    expect(r.stderr.trim()).toBe('gateway config /nonexistent/gateway.yaml: cannot read it (ENOENT)');
  });
});

describe('SIGTERM under load (the real process)', () => {
  it('no in-flight request fails; the process exits 0 before the shutdown budget', async () => {
    upstream.respond = (_r, res) => setTimeout(() => res.writeHead(200).end('ok'), 100);
    const env = await gatewayEnv({ keys, routes: [route('load', upstream.origin)], env: { PRISM_SHUTDOWN_TIMEOUT_SECONDS: '10' } });
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN], { env: { PATH: process.env.PATH!, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    const base = `http://127.0.0.1:${env.PRISM_HTTP_PORT}`;
    const agent = new Agent({ connections: 16 });
    try {
      await waitFor('the gateway', async () => (await fetch(`${base}/ready`)).status === 200 || undefined, 20_000);
      const auth = `Bearer ${await token(keys, 'load-user')}`;
      const outcome = { ok: 0, refused: 0, failed: [] as string[] };
      let sending = true;
      const worker = async () => {
        while (sending) {
          try {
            const r = await request(`${base}/api/load/x`, { dispatcher: agent, headers: { authorization: auth } });
            await r.body.text();
            if (r.statusCode === 200) outcome.ok++;
            else outcome.failed.push(`status ${r.statusCode}`);
          } catch (e) {
            const code = (e as { code?: string }).code;
            // Refused connections were never sent: the listener is closed, as it should be.
            if (code === 'ECONNREFUSED') {
              outcome.refused++;
              await new Promise((r) => setTimeout(r, 20));
            } else outcome.failed.push(`${code}: ${(e as Error).message}`);
          }
        }
      };
      const workers = Array.from({ length: 16 }, worker);
      await new Promise((r) => setTimeout(r, 700));
      const okBefore = outcome.ok;
      child.kill('SIGTERM');
      const t0 = Date.now();
      const code = await exited;
      const tookMs = Date.now() - t0;
      await new Promise((r) => setTimeout(r, 200));
      sending = false;
      await Promise.all(workers);
      expect(outcome.failed, stderr).toEqual([]);
      expect(okBefore).toBeGreaterThan(20);
      expect(outcome.ok).toBeGreaterThan(okBefore + 16); // the 16 in flight at SIGTERM and those during the drain delay
      expect(outcome.refused).toBeGreaterThan(0);
      expect(code).toBe(0);
      expect(tookMs).toBeLessThan(10_000);
    } finally {
      child.kill('SIGKILL');
      await agent.close();
    }
  });
});
