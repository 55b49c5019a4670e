import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '#test/support/net';
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
  return spawnSync(process.execPath, ['--import', 'tsx', MAIN], {
    env: { PATH: process.env.PATH!, ...env },
    encoding: 'utf8',
    timeout: 30_000,
  });
}

describe('configuration errors stop the process with one clear line', () => {
  it('a missing environment variable', async () => {
    const { PRISM_REDIS_ADDRESS: _, ...env } = await gatewayEnv({ keys, routes: [route('a', upstream.origin)] });
    const r = run(env);
    expect(r.status).toBe(78);
    expect(r.stderr.trim().split('\n')).toEqual([
      'gateway: environment variable PRISM_REDIS_ADDRESS is required but not set (Redis host:port)',
    ]);
  });

  it('a stream replica count JetStream cannot have', async () => {
    const env = await gatewayEnv({ keys, routes: [route('a', upstream.origin)] });
    for (const bad of ['0', '7', 'three']) {
      const r = run({ ...env, PRISM_NATS_STREAM_REPLICAS: bad });
      expect(r.status, bad).toBe(78);
      expect(r.stderr.trim().split('\n')).toEqual([
        expect.stringMatching(
          /^gateway: environment variable PRISM_NATS_STREAM_REPLICAS is invalid: expected a whole number from 1 to 5 \(/,
        ),
      ]);
    }
  });

  it('a bad value in gateway.yaml names the file and the key', async () => {
    const env = await gatewayEnv({ keys, routes: [route('a', upstream.origin)] });
    const file = join(tmpDir(), 'gateway.yaml');
    writeFileSync(
      file,
      'server: { port: 8080 }\nrate_limit: { enabled: true, requests_per_second: -5, burst: 1, on_redis_failure: open }\nauth: { issuer: a, audience: b }\nroutes: []\n',
    );
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
  // The runtime's drain delay: readiness is 503 and the listener stays open this long after SIGTERM.
  const DRAIN_MS = 2_000;

  it('no request accepted before or during the drain fails; the process exits 0 before the shutdown budget', async () => {
    upstream.respond = (_r, res) => setTimeout(() => res.writeHead(200).end('ok'), 100);
    const env = await gatewayEnv({
      keys,
      routes: [route('load', upstream.origin)],
      env: { PRISM_SHUTDOWN_TIMEOUT_SECONDS: '10' },
    });
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN], {
      env: { PATH: process.env.PATH!, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    const base = `http://127.0.0.1:${env.PRISM_HTTP_PORT}`;
    const agent = new Agent({ connections: 16 });
    try {
      await waitFor('the gateway', async () => (await fetch(`${base}/ready`)).status === 200 || undefined, 20_000);
      const auth = `Bearer ${await token(keys, 'load-user')}`;
      let sigtermAt = Infinity;
      const outcomes: { startedMs: number; ok: boolean; error?: string }[] = [];
      const upstreamBefore = upstream.requests.length;
      let sending = true;
      const worker = async () => {
        while (sending) {
          const started = Date.now();
          try {
            const r = await request(`${base}/api/load/x`, { dispatcher: agent, headers: { authorization: auth } });
            await r.body.text();
            outcomes.push({
              startedMs: started - sigtermAt,
              ok: r.statusCode === 200,
              ...(r.statusCode === 200 ? {} : { error: `status ${r.statusCode}` }),
            });
          } catch (e) {
            outcomes.push({
              startedMs: started - sigtermAt,
              ok: false,
              error: `${(e as { code?: string }).code}: ${(e as Error).message}`,
            });
            await new Promise((r) => setTimeout(r, 20));
          }
        }
      };
      const workers = Array.from({ length: 16 }, worker);
      await new Promise((r) => setTimeout(r, 700));
      sigtermAt = Date.now();
      child.kill('SIGTERM');
      const code = await exited;
      const tookMs = Date.now() - sigtermAt;
      await new Promise((r) => setTimeout(r, 200));
      sending = false;
      await Promise.all(workers);

      const before = outcomes.filter((o) => o.startedMs < 0);
      const duringDrain = outcomes.filter((o) => o.startedMs >= 0 && o.startedMs < DRAIN_MS - 500);
      const late = outcomes.filter((o) => o.startedMs >= DRAIN_MS - 500);
      // Requests sent before SIGTERM (16 of them in flight at that moment) and during the drain all succeed.
      expect(
        before.filter((o) => !o.ok),
        stderr,
      ).toEqual([]);
      expect(
        duringDrain.filter((o) => !o.ok),
        stderr,
      ).toEqual([]);
      expect(before.length).toBeGreaterThan(20);
      expect(duringDrain.length).toBeGreaterThan(16);
      // Once the listener closes, new attempts fail at the connection level only (never an HTTP error).
      expect(late.filter((o) => !o.ok && !/^(ECONNREFUSED|ECONNRESET|UND_ERR_SOCKET)/.test(o.error!))).toEqual([]);
      expect(late.some((o) => !o.ok)).toBe(true);
      // Every request the upstream received was answered 200 to the client.
      expect(outcomes.filter((o) => o.ok).length).toBe(upstream.requests.length - upstreamBefore);
      expect(code).toBe(0);
      expect(tookMs).toBeLessThan(10_000);
    } finally {
      child.kill('SIGKILL');
      await agent.close();
    }
  });
});
