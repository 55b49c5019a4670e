import { randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CIRCUIT_STATE, METRICS } from '#contract';
import {
  makeKeys,
  metricValue,
  route,
  startTestGateway,
  TestUpstream,
  token,
  type Keys,
  type RunningGateway,
} from './support/harness.js';

let keys: Keys;
let auth: Record<string, string>;
beforeAll(async () => {
  keys = await makeKeys();
  auth = { authorization: `Bearer ${await token(keys, `proxy-${randomUUID()}`)}` };
});

const RESET_MS = 2000;
describe('circuit breaker', () => {
  let upstream: TestUpstream;
  let gw: RunningGateway;
  beforeAll(async () => {
    upstream = await new TestUpstream().start();
    gw = await startTestGateway({
      keys,
      routes: [
        route('flaky', upstream.origin, {
          // Long enough that the request after the opening one comes before it (a CI run at load average 13 took
          // over 400 ms between them, so the breaker was already half-open).
          circuit_breaker: { failure_threshold: 3, reset_timeout_ms: RESET_MS, half_open_max_requests: 1 },
        }),
      ],
    });
  });
  afterAll(async () => {
    await gw.close();
    await upstream.stop();
  });

  it('opens after consecutive 5xx (fast 503, upstream receives nothing), then recovers through half-open', async () => {
    const state = async () =>
      metricValue(await gw.metrics(), METRICS.circuitBreakerState, {
        upstream: upstream.origin,
        class: 'authenticated',
      });
    upstream.respond = (_r, res) => res.writeHead(500, { 'content-type': 'text/plain' }).end('boom');
    for (let i = 0; i < 3; i++) {
      const r = await fetch(`${gw.url}/api/flaky/x`, { headers: auth });
      expect(r.status).toBe(500);
      expect(await r.text()).toBe('boom');
    }
    expect(await state()).toBe(CIRCUIT_STATE.open);
    const seen = upstream.requests.length;
    const t0 = performance.now();
    const fast = await fetch(`${gw.url}/api/flaky/x`, { headers: auth });
    expect(fast.status).toBe(503);
    expect(fast.headers.get('retry-after')).toBe(String(Math.ceil(RESET_MS / 1000))); // the reset timeout
    expect(performance.now() - t0).toBeLessThan(100);
    expect(upstream.requests.length).toBe(seen);

    // Still failing after the reset timeout: the single half-open trial fails and it opens again.
    await new Promise((r) => setTimeout(r, RESET_MS + 50));
    expect((await fetch(`${gw.url}/api/flaky/x`, { headers: auth })).status).toBe(500);
    expect(upstream.requests.length).toBe(seen + 1);
    expect(await state()).toBe(CIRCUIT_STATE.open);
    expect((await fetch(`${gw.url}/api/flaky/x`, { headers: auth })).status).toBe(503);

    // Healthy again: the trial succeeds and the circuit closes.
    upstream.respond = (_r, res) => res.writeHead(200).end('ok');
    await new Promise((r) => setTimeout(r, RESET_MS + 50));
    expect((await fetch(`${gw.url}/api/flaky/x`, { headers: auth })).status).toBe(200);
    expect(await state()).toBe(CIRCUIT_STATE.closed);
    expect((await fetch(`${gw.url}/api/flaky/x`, { headers: auth })).status).toBe(200);
  });

  it('an upstream shedding load (503 with Retry-After) is answering: its 503s reach the client, the circuit stays closed, nothing is retried', async () => {
    const r0 = route('shed', upstream.origin, { retries: 2 });
    const own = await startTestGateway({ keys, routes: [r0] });
    try {
      upstream.respond = (_r, res) => res.writeHead(503, { 'retry-after': '7' }).end('busy');
      const seen = upstream.requests.length;
      for (let i = 0; i < 6; i++) {
        const r = await fetch(`${own.url}/api/shed/x`, { headers: auth });
        expect(r.status).toBe(503);
        expect(r.headers.get('retry-after')).toBe('7');
        expect(await r.text()).toBe('busy');
      }
      expect(upstream.requests.length).toBe(seen + 6);
      const metrics = await own.metrics();
      expect(
        metricValue(metrics, METRICS.circuitBreakerState, { upstream: upstream.origin, class: 'authenticated' }),
      ).toBe(CIRCUIT_STATE.closed);
      // The control: the same 503 without Retry-After is a failure, retried (2) and counted until the circuit opens.
      upstream.respond = (_r, res) => res.writeHead(503).end('down');
      expect((await fetch(`${own.url}/api/shed/x`, { headers: auth })).status).toBe(503);
      expect(upstream.requests.length).toBe(seen + 6 + 3);
      expect(
        metricValue(await own.metrics(), METRICS.circuitBreakerState, {
          upstream: upstream.origin,
          class: 'authenticated',
        }),
      ).toBe(CIRCUIT_STATE.open);
    } finally {
      await own.close();
    }
  });

  it('half-open lets only the configured number of trials through at once', async () => {
    let release: () => void = () => {};
    upstream.respond = (_r, res) => res.writeHead(502).end();
    for (let i = 0; i < 3; i++) await (await fetch(`${gw.url}/api/flaky/x`, { headers: auth })).arrayBuffer();
    await new Promise((r) => setTimeout(r, RESET_MS + 50));
    upstream.respond = (_r, res) => {
      release = () => res.writeHead(200).end('ok');
    };
    const trial = fetch(`${gw.url}/api/flaky/x`, { headers: auth });
    await new Promise((r) => setTimeout(r, 50));
    expect((await fetch(`${gw.url}/api/flaky/x`, { headers: auth })).status).toBe(503);
    release();
    expect((await trial).status).toBe(200);
  });
});

describe('timeouts and retries', () => {
  let upstream: TestUpstream;
  let gw: RunningGateway;
  beforeAll(async () => {
    upstream = await new TestUpstream().start();
    gw = await startTestGateway({
      keys,
      routes: [
        route('retry', upstream.origin, {
          retries: 2,
          timeout_ms: 300,
          circuit_breaker: { failure_threshold: 50, reset_timeout_ms: 1000, half_open_max_requests: 1 },
        }),
        route('noretry', upstream.origin, { retries: 0, timeout_ms: 300 }),
      ],
    });
  });
  afterAll(async () => {
    await gw.close();
    await upstream.stop();
  });

  it('retries an idempotent request after a 503, within the route retries', async () => {
    let n = 0;
    upstream.respond = (_r, res) => (++n < 3 ? res.writeHead(503).end('busy') : res.writeHead(200).end('third time'));
    const r = await fetch(`${gw.url}/api/retry/x`, { headers: auth });
    expect(r.status).toBe(200);
    expect(await r.text()).toBe('third time');
    expect(n).toBe(3);
  });

  it('never retries a POST', async () => {
    let n = 0;
    upstream.respond = (_r, res) => (++n, res.writeHead(503).end('busy'));
    const r = await fetch(`${gw.url}/api/retry/x`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: '{"a":1}',
    });
    expect(r.status).toBe(503);
    expect(n).toBe(1);
  });

  it('an upstream slower than the route timeout gets 504', async () => {
    // undici's timeouts tick on a ~1 s clock: a 300 ms timeout fires within 300-1,300 ms.
    upstream.respond = (_r, res) => setTimeout(() => res.writeHead(200).end('late'), 3_000);
    const t0 = performance.now();
    const r = await fetch(`${gw.url}/api/noretry/x`, { headers: auth });
    expect(r.status).toBe(504);
    expect(performance.now() - t0).toBeLessThan(2_000);
  });

  it('an unreachable upstream gets 502', async () => {
    const dead = await new TestUpstream().start();
    await dead.stop();
    const g = await startTestGateway({ keys, routes: [route('dead', dead.origin)] });
    try {
      const r = await fetch(`${g.url}/api/dead/x`, { headers: auth });
      expect(r.status).toBe(502);
      expect(await r.json()).toMatchObject({ error: 'upstream unreachable' });
    } finally {
      await g.close();
    }
  });
});

describe('proxying', () => {
  let upstream: TestUpstream;
  let gw: RunningGateway;
  beforeAll(async () => {
    upstream = await new TestUpstream().start();
    gw = await startTestGateway({
      keys,
      routes: [route('svc', upstream.origin)],
      server: { body_limit_bytes: 1024, max_header_bytes: 4096 },
    });
  });
  afterAll(async () => {
    await gw.close();
    await upstream.stop();
  });

  it('passes bodies through byte for byte (no JSON parsing), hop-by-hop headers removed', async () => {
    const body = '{"not": valid json,,}';
    const before = upstream.requests.length;
    upstream.respond = (_r, res) =>
      res
        .writeHead(400, { 'content-type': 'application/json', 'set-cookie': ['a=1', 'b=2'] })
        .end('{"error":"bad json"}');
    const r = await fetch(`${gw.url}/api/svc/items`, {
      method: 'POST',
      headers: {
        ...auth,
        'content-type': 'application/json',
        'idempotency-key': 'kept',
        'x-custom': 'not on the allow-list',
        te: 'trailers',
      },
      body,
    });
    expect(r.status).toBe(400);
    expect(await r.text()).toBe('{"error":"bad json"}');
    expect(r.headers.getSetCookie()).toEqual(['a=1', 'b=2']);
    const rec = upstream.requests[before]!;
    expect(rec.body.toString()).toBe(body);
    expect(rec.url).toBe('/svc/items');
    expect(rec.headers['idempotency-key']).toBe('kept');
    expect(rec.headers['x-custom']).toBeUndefined();
    expect(rec.headers.te).toBeUndefined();
    expect(rec.headers['x-forwarded-host']).toBe(new URL(gw.url).host);
  });

  it('rewrites the prefix: with and without a rest path or a query', async () => {
    const urls: string[] = [];
    for (const p of ['/api/svc', '/api/svc?q=1', '/api/svc/a/b?q=%20x']) {
      const before = upstream.requests.length;
      upstream.respond = (_r, res) => res.writeHead(204).end();
      expect((await fetch(gw.url + p, { headers: auth })).status).toBe(204);
      urls.push(upstream.requests[before]!.url);
    }
    expect(urls).toEqual(['/svc', '/svc?q=1', '/svc/a/b?q=%20x']);
  });

  it('Expect: 100-continue is answered by the gateway and the body still arrives', async () => {
    upstream.respond = (r, res) => res.writeHead(200).end(`got ${r.body.length}`);
    const { request } = await import('node:http');
    const { port } = new URL(gw.url);
    const status = await new Promise<string>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port,
          path: '/api/svc/e',
          method: 'POST',
          headers: { ...auth, expect: '100-continue', 'content-length': '5' },
        },
        (res) => {
          let b = '';
          res.on('data', (c) => (b += c)).on('end', () => resolve(`${res.statusCode} ${b}`));
        },
      );
      req.on('continue', () => req.end('hello'));
      req.on('error', reject);
    });
    expect(status).toBe('200 got 5');
  });

  it('TRACE is refused with 405', async () => {
    const { request } = await import('node:http');
    const { port } = new URL(gw.url);
    const code = await new Promise<number>((resolve) =>
      request({ host: '127.0.0.1', port, path: '/api/svc/x', method: 'TRACE', headers: auth }, (res) =>
        resolve(res.statusCode!),
      ).end(),
    );
    expect(code).toBe(405);
  });

  it('a chunked upload within the limit is passed through', async () => {
    upstream.respond = (r, res) => res.writeHead(200).end(String(r.body.length));
    const stream = new ReadableStream({
      start(c) {
        c.enqueue(new TextEncoder().encode('x'.repeat(500)));
        c.enqueue(new TextEncoder().encode('y'.repeat(500)));
        c.close();
      },
    });
    const r = await fetch(`${gw.url}/api/svc/up`, { method: 'PUT', headers: auth, body: stream, duplex: 'half' });
    expect(r.status).toBe(200);
    expect(await r.text()).toBe('1000');
  });
});

describe('malformed input gets a clean 4xx', () => {
  let upstream: TestUpstream;
  let gw: RunningGateway;
  beforeAll(async () => {
    upstream = await new TestUpstream().start();
    gw = await startTestGateway({
      keys,
      routes: [route('svc', upstream.origin)],
      server: { body_limit_bytes: 1024, max_header_bytes: 4096 },
    });
  });
  afterAll(async () => {
    await gw.close();
    await upstream.stop();
  });

  /** Sends raw bytes and returns the status line's code (the connection is then closed). */
  function raw(text: string): Promise<number> {
    const { port } = new URL(gw.url);
    return new Promise((resolve, reject) => {
      const s = connect(Number(port), '127.0.0.1');
      let got = '';
      s.on('data', (c) => (got += c.toString()));
      s.on('error', reject);
      s.on('close', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(got)?.[1] ?? 0)));
      s.write(text, () => s.end());
    });
  }

  it('oversized headers: 431', async () => {
    const r = await fetch(`${gw.url}/api/svc/x`, { headers: { ...auth, 'x-big': 'a'.repeat(8000) } });
    expect(r.status).toBe(431);
  });

  it('oversized body (Content-Length): 413 before the upstream sees anything', async () => {
    const before = upstream.requests.length;
    const r = await fetch(`${gw.url}/api/svc/x`, { method: 'POST', headers: auth, body: 'z'.repeat(5000) });
    expect(r.status).toBe(413);
    expect(upstream.requests.length).toBe(before);
  });

  it('oversized chunked body: 413', async () => {
    const stream = new ReadableStream({
      start(c) {
        for (let i = 0; i < 5; i++) c.enqueue(new TextEncoder().encode('q'.repeat(600)));
        c.close();
      },
    });
    const r = await fetch(`${gw.url}/api/svc/x`, { method: 'POST', headers: auth, body: stream, duplex: 'half' });
    expect(r.status).toBe(413);
  });

  it.each([
    ['/api/svc/../admin', 400],
    ['/api/svc/%2e%2e/admin', 400],
    ['/api/svc/a%2fb', 400],
    ['/api/svc/a\\b', 400],
    ['/api/unknown/x', 404],
    ['/nothing', 404],
  ])('path %s: %i', async (path, status) => {
    const before = upstream.requests.length;
    expect(
      await raw(`GET ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: ${auth.authorization}\r\nConnection: close\r\n\r\n`),
    ).toBe(status);
    expect(upstream.requests.length).toBe(before);
  });

  it('absolute-form and asterisk request targets: 400', async () => {
    expect(await raw(`GET http://evil.example/api/svc/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`)).toBe(400);
    expect(await raw(`OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`)).toBe(400);
  });

  it('garbage that is not HTTP: 400, and the gateway keeps serving', async () => {
    expect(await raw('\x00\x01\x02 hello\r\n\r\n')).toBe(400);
    expect(await raw('GET /api/svc/x HTTP/1.1\r\nBad Header\r\n\r\n')).toBe(400);
    expect(
      await raw(
        'POST /api/svc/x HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      ),
    ).toBe(400);
    expect((await fetch(`${gw.url}/health`)).status).toBe(200);
  });

  it('a malformed Authorization header: 401', async () => {
    expect((await fetch(`${gw.url}/api/svc/x`, { headers: { authorization: 'Basic dXNlcjpwYXNz' } })).status).toBe(401);
    expect((await fetch(`${gw.url}/api/svc/x`, { headers: { authorization: 'Bearer' } })).status).toBe(401);
  });

  it('public health paths answer on the gateway port', async () => {
    for (const p of ['/health', '/live', '/ready']) expect((await fetch(gw.url + p)).status).toBe(200);
  });
});
