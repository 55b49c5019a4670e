import { spawn } from 'node:child_process';
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { HEALTH_PATHS, METRICS } from '#contract';
import { parseEnv } from '../src/config.js';
import { ServiceRuntime } from '../src/service.js';
import { configServiceEnv } from './support/env.js';
import { freePort, waitFor } from '#test/support/net';

function get(
  port: number,
  path: string,
): Promise<{ status: number; body: string; headers: IncomingMessage['headers'] }> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res
        .setEncoding('utf8')
        .on('data', (c: string) => (body += c))
        .on('end', () => resolve({ status: res.statusCode!, body, headers: res.headers }));
    })
      .on('error', reject)
      .end();
  });
}

const runtimes: ServiceRuntime[] = [];
afterEach(async () => {
  await Promise.all(runtimes.splice(0).map((r) => r.shutdown()));
});

async function runtimeWith(extra: Record<string, string> = {}) {
  const metricsPort = await freePort();
  const logs = new PassThrough();
  const lines: Record<string, unknown>[] = [];
  logs.setEncoding('utf8').on('data', (chunk: string) => {
    for (const l of chunk.split('\n')) if (l) lines.push(JSON.parse(l));
  });
  const runtime = new ServiceRuntime({
    service: 'config',
    env: parseEnv(
      'config',
      configServiceEnv({ PRISM_METRICS_PORT: String(metricsPort), PRISM_LOG_LEVEL: 'info', ...extra }),
    ),
    handleSignals: false,
    drainDelayMs: 200,
    logDestination: logs,
  });
  runtimes.push(runtime);
  return { runtime, metricsPort, lines };
}

describe('metrics and health server', () => {
  it('serves liveness, readiness from the dependency checks, and Prometheus metrics', async () => {
    const { runtime, metricsPort } = await runtimeWith();
    let dbUp = true;
    runtime.health.addCheck('postgres', () => {
      if (!dbUp) throw new Error('connection refused');
    });
    await runtime.start();
    expect((await get(metricsPort, HEALTH_PATHS.live)).status).toBe(200);
    const ready = await get(metricsPort, HEALTH_PATHS.ready);
    expect(ready.status).toBe(200);
    expect(JSON.parse(ready.body)).toEqual({ status: 'ok', checks: [{ name: 'postgres', ok: true }] });

    dbUp = false;
    const notReady = await get(metricsPort, HEALTH_PATHS.ready);
    expect(notReady.status).toBe(503);
    expect(JSON.parse(notReady.body).checks).toEqual([{ name: 'postgres', ok: false, error: 'connection refused' }]);
    expect((await get(metricsPort, HEALTH_PATHS.live)).status).toBe(200);

    runtime.metrics.httpRequests.inc({ method: 'GET', route: '/x', status: '200' });
    const metrics = await get(metricsPort, HEALTH_PATHS.metrics);
    expect(metrics.status).toBe(200);
    expect(metrics.body).toContain(`${METRICS.httpRequests}{method="GET",route="/x",status="200",service="config"} 1`);
    expect(metrics.body).toContain('process_cpu_user_seconds_total');
    expect(metrics.body).toContain(`# TYPE ${METRICS.httpDuration} histogram`);
    expect((await get(metricsPort, '/nope')).status).toBe(404);
  });

  it('is not ready before start, and turns 503 as soon as shutdown begins', async () => {
    const { runtime, metricsPort } = await runtimeWith();
    expect(runtime.health.draining).toBe(false);
    expect((await runtime.health.readiness()).ready).toBe(false);
    await runtime.start();
    expect((await get(metricsPort, HEALTH_PATHS.ready)).status).toBe(200);
    const stopping = runtime.shutdown();
    const during = await get(metricsPort, HEALTH_PATHS.ready);
    expect(during.status).toBe(503);
    expect(JSON.parse(during.body).status).toBe('draining');
    await stopping;
    await expect(get(metricsPort, HEALTH_PATHS.live)).rejects.toThrow(/ECONNREFUSED/);
  });

  it('a check that hangs makes readiness fail after two seconds instead of hanging the probe', async () => {
    const { runtime, metricsPort } = await runtimeWith();
    runtime.health.addCheck('stuck', () => new Promise(() => {}));
    await runtime.start();
    const r = await get(metricsPort, HEALTH_PATHS.ready);
    expect(r.status).toBe(503);
    expect(JSON.parse(r.body).checks[0]).toEqual({ name: 'stuck', ok: false, error: 'no answer within 2000 ms' });
  });
});

describe('graceful shutdown', () => {
  it('answers in-flight requests, then closes the listeners and runs the hooks in reverse order', async () => {
    const { runtime } = await runtimeWith();
    const server = runtime.createHttpServer((_req, res) => setTimeout(() => res.end('done'), 400));
    const port = await runtime.listen(server, 0, '127.0.0.1');
    const order: string[] = [];
    runtime.onShutdown('first', () => order.push('first'));
    runtime.onShutdown('second', async () => order.push('second'));
    await runtime.start(port);
    const inFlight = get(port, '/');
    await new Promise((r) => setTimeout(r, 50));
    await runtime.shutdown();
    expect(await inFlight).toMatchObject({ status: 200, body: 'done' });
    expect(order).toEqual(['second', 'first']);
    expect(server.listening).toBe(false);
  });

  it('SIGTERM to a real process: the in-flight request completes and the process exits 0 within the budget', async () => {
    const [httpPort, metricsPort] = [await freePort(), await freePort()];
    const child = spawn(process.execPath, ['--import', 'tsx', 'services/runtime/test/fixtures/slow-service.ts'], {
      env: {
        PATH: process.env.PATH,
        ...configServiceEnv({ PRISM_METRICS_PORT: String(metricsPort), PRISM_SHUTDOWN_TIMEOUT_SECONDS: '5' }),
        FIXTURE_HTTP_PORT: String(httpPort),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const exited = new Promise<{ code: number | null; at: number }>((resolve) =>
      child.on('exit', (code) => resolve({ code, at: Date.now() })),
    );
    try {
      await waitFor(
        'the fixture to be ready',
        async () => (await get(metricsPort, HEALTH_PATHS.ready)).status === 200 || undefined,
        20_000,
      );
      const inFlight = get(httpPort, '/slow?ms=1500');
      await new Promise((r) => setTimeout(r, 100));
      const sentAt = Date.now();
      child.kill('SIGTERM');
      await waitFor(
        'readiness 503',
        async () => (await get(metricsPort, HEALTH_PATHS.ready)).status === 503 || undefined,
      );
      expect(await inFlight).toMatchObject({ status: 200, body: 'waited 1500' });
      const { code, at } = await exited;
      expect(code, stderr).toBe(0);
      expect(at - sentAt).toBeLessThan(5_000);
    } finally {
      child.kill('SIGKILL');
    }
  });
});

describe('Consul registration', () => {
  // No Consul binary can be installed here (not in Debian, no network beyond the package
  // registries): a real HTTP server records the agent API calls the runtime makes.
  let consul: Server | undefined;
  afterEach(() => consul?.close());

  it('registers the service with an HTTP check on /health/ready and deregisters on shutdown', async () => {
    const calls: { method: string; url: string; body: string }[] = [];
    consul = createServer((req, res) => {
      let body = '';
      req
        .on('data', (c: Buffer) => (body += c.toString()))
        .on('end', () => {
          calls.push({ method: req.method!, url: req.url!, body });
          res.end();
        });
    });
    const consulPort = await new Promise<number>((r) =>
      consul!.listen(0, '127.0.0.1', () => r((consul!.address() as { port: number }).port)),
    );
    const { runtime, metricsPort } = await runtimeWith({ PRISM_CONSUL_ADDRESS: `127.0.0.1:${consulPort}` });
    await runtime.start(50052);
    await waitFor('registration', () => calls.length > 0 || undefined);
    const reg = calls[0]!;
    expect(reg.method).toBe('PUT');
    expect(reg.url).toBe('/v1/agent/service/register');
    const body = JSON.parse(reg.body);
    expect(body).toMatchObject({ Name: 'config', Port: 50052, Check: { Interval: '10s' } });
    expect(body.Check.HTTP).toMatch(new RegExp(`^http://[^/]+:${metricsPort}${HEALTH_PATHS.ready}$`));
    await runtime.shutdown();
    expect(calls[1]).toMatchObject({
      method: 'PUT',
      url: `/v1/agent/service/deregister/${encodeURIComponent(body.ID)}`,
    });
  });

  it('keeps running and retries when Consul is unreachable', async () => {
    const deadPort = await freePort();
    const { runtime, metricsPort, lines } = await runtimeWith({ PRISM_CONSUL_ADDRESS: `127.0.0.1:${deadPort}` });
    await runtime.start();
    await waitFor('a warning', () => lines.find((l) => l.msg === 'Consul registration failed; retrying'));
    expect((await get(metricsPort, HEALTH_PATHS.ready)).status).toBe(200);
  });
});
