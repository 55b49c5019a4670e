import { randomBytes, randomUUID } from 'node:crypto';
import { request } from 'node:http';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { AUTH_FAILURE_LIMIT_DEFAULTS, IDENTITY_HEADERS, METRICS } from '#contract';
import {
  call as authCall,
  type Harness as AuthHarness,
  signUp,
  startHarness as startAuth,
} from '../../auth/test/support/harness.js';
import {
  makeKeys,
  metricValue,
  randomApiKey,
  route,
  startAuthGrpc,
  startTestGateway,
  TestUpstream,
  token,
  type Keys,
  type RunningGateway,
} from './support/harness.js';

/**
 * Attacks on the gateway from outside (issue 13): each test performs the attack against a real
 * gateway (real Redis, real upstreams, a real gRPC auth) and asserts that it fails.
 */

let keys: Keys;
let upstream: TestUpstream;
beforeAll(async () => {
  keys = await makeKeys();
  upstream = await new TestUpstream().start();
});
afterAll(() => upstream.stop());

/** A client address of its own per test run (the shared Redis remembers buckets across runs). */
const someIp = () =>
  `2001:db8::${randomBytes(4)
    .toString('hex')
    .replace(/^(....)/, '$1:')}`;

/** Sends the headers and part of a declared body, then disappears (or, with `stallMs`, first waits that long). */
function abortedUpload(port: number, path: string, stallMs = 100): Promise<void> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1', () => {
      s.write(
        `POST ${path} HTTP/1.1\r\nHost: gw\r\nContent-Type: application/octet-stream\r\nContent-Length: 50000\r\n\r\n`,
      );
      s.write(Buffer.alloc(4096, 1));
      setTimeout(() => {
        s.destroy();
        setTimeout(resolve, 50);
      }, stallMs);
    });
    s.on('error', () => resolve());
  });
}

/** GET through node:http, which sends header names as given (underscores included). */
function rawGet(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers }, (res) => {
      res.resume().on('end', () => resolve(res.statusCode!));
    });
    req.on('error', reject).end();
  });
}

describe('circuit breaker: only failures of the upstream count', () => {
  let gw: RunningGateway;
  beforeAll(async () => {
    gw = await startTestGateway({
      keys,
      routes: [route('upload', upstream.origin, { auth_required: false, timeout_ms: 400 })],
    });
  });
  afterAll(() => gw.close());

  it('uploads the client itself aborts mid-body never open the circuit for everyone', async () => {
    // Twice the failure threshold (3) of aborted uploads from an anonymous client.
    await Promise.all(Array.from({ length: 6 }, () => abortedUpload(gw.port, '/api/upload/files')));
    // However the gateway notices (an error on the body, or the upstream's silence while it waits for the
    // rest of the body), it has by now: the route's timeout has passed twice over.
    await new Promise((r) => setTimeout(r, 800));
    const state = metricValue(await gw.metrics(), METRICS.circuitBreakerState, { upstream: upstream.origin });
    expect(state).toBe(0);
    const before = upstream.requests.length;
    const r = await fetch(`${gw.url}/api/upload/after`);
    expect(r.status).toBe(200);
    expect(upstream.requests.length).toBe(before + 1);
  });

  it('nor do uploads the client stalls mid-body until the upstream times out waiting for the rest', async () => {
    await Promise.all(Array.from({ length: 6 }, () => abortedUpload(gw.port, '/api/upload/slow', 900)));
    expect(metricValue(await gw.metrics(), METRICS.circuitBreakerState, { upstream: upstream.origin })).toBe(0);
    expect((await fetch(`${gw.url}/api/upload/after`)).status).toBe(200);
  });
});

describe('circuit breaker: anonymous traffic cannot open the breaker of signed-in users', () => {
  let slow: TestUpstream;
  let gw: RunningGateway;
  beforeAll(async () => {
    slow = await new TestUpstream().start();
    // Slow for anyone who asks for /slow: longer than the route's timeout.
    slow.respond = (r, res) => {
      if (r.url.includes('/slow')) setTimeout(() => res.writeHead(200).end('late'), 1_000);
      else res.writeHead(200).end('ok');
    };
    gw = await startTestGateway({
      keys,
      routes: [route('pub', slow.origin, { auth_required: false, timeout_ms: 300 })],
    });
  });
  afterAll(async () => {
    await gw.close();
    await slow.stop();
  });

  it('six slow anonymous requests open the anonymous breaker only: signed-in users still get through', async () => {
    const statuses = await Promise.all(
      Array.from({ length: 6 }, () => fetch(`${gw.url}/api/pub/slow`).then((r) => r.status)),
    );
    // The first three time out (504); the breaker (threshold 3) may already refuse the last ones.
    expect(statuses.filter((s) => s === 504).length).toBeGreaterThanOrEqual(3);
    const text = await gw.metrics();
    expect(metricValue(text, METRICS.circuitBreakerState, { upstream: slow.origin, class: 'anonymous' })).toBe(2);
    expect(metricValue(text, METRICS.circuitBreakerState, { upstream: slow.origin, class: 'authenticated' })).toBe(0);
    // Counted as the gateway's timeouts, not as failures of the upstream.
    expect(
      metricValue(text, METRICS.upstreamFailures, { upstream: slow.origin, class: 'anonymous', kind: 'timeout' }),
    ).toBeGreaterThanOrEqual(3);
    expect(
      metricValue(text, METRICS.upstreamFailures, { upstream: slow.origin, class: 'anonymous', kind: 'upstream' }),
    ).toBe(0);
    // Anonymous requests now get the fast 503; a signed-in user is served.
    expect((await fetch(`${gw.url}/api/pub/x`)).status).toBe(503);
    const signedIn = await fetch(`${gw.url}/api/pub/x`, {
      headers: { authorization: `Bearer ${await token(keys, `breaker-${randomUUID()}`)}` },
    });
    expect(signedIn.status).toBe(200);
    expect(await signedIn.text()).toBe('ok');
  });
});

describe('headers a client must not be able to pass upstream', () => {
  let gw: RunningGateway;
  beforeAll(async () => {
    gw = await startTestGateway({ keys, routes: [route('hdr', upstream.origin)] });
  });
  afterAll(() => gw.close());

  it('identity headers spelled with underscores, and X-Real-IP, Forwarded, X-Original-URL, X-Rewrite-URL are stripped', async () => {
    const sub = `alice-${randomUUID()}`;
    const before = upstream.requests.length;
    const status = await rawGet(`${gw.url}/api/hdr/x`, {
      authorization: `Bearer ${await token(keys, sub)}`,
      x_prism_user_id: 'admin',
      X_Prism_Roles: 'admin',
      'x-prism_scopes': 'admin:all',
      'x_prism-api-key-id': 'forged',
      x_prism_anything: 'forged',
      x_forwarded_for: '6.6.6.6',
      x_forwarded_host: 'evil.example',
      x_request_id: 'spoofed',
      'X-Real-IP': '6.6.6.6',
      x_real_ip: '6.6.6.6',
      Forwarded: 'for=6.6.6.6;proto=https',
      'X-Original-URL': '/admin',
      'X-Rewrite-URL': '/admin',
      x_original_url: '/admin',
    });
    expect(status).toBe(200);
    const h = upstream.requests.slice(before)[0]!.headers;
    for (const name of Object.keys(h)) expect(name).not.toContain('_');
    for (const name of ['x-real-ip', 'forwarded', 'x-original-url', 'x-rewrite-url']) expect(h[name]).toBeUndefined();
    expect(h[IDENTITY_HEADERS.userId]).toBe(sub);
    expect(h[IDENTITY_HEADERS.roles]).toBe('user');
    expect(h['x-forwarded-for']).toBe('127.0.0.1');
    expect(JSON.stringify(h)).not.toContain('6.6.6.6');
  });

  it('only allowed headers go upstream: address, URL, scheme and method overrides of every spelling stay at the gateway', async () => {
    // Headers that some framework or proxy believes (issue 22 item 12): each carries a value the upstream must never see.
    const overrides = [
      'X-Client-IP',
      'True-Client-IP',
      'CF-Connecting-IP',
      'Fastly-Client-IP',
      'Client-IP',
      'X-Cluster-Client-IP',
      'X-Originating-IP',
      'X-Remote-IP',
      'X-Remote-Addr',
      'X-ProxyUser-Ip',
      'X-Custom-IP-Authorization',
      'X-Forwarded',
      'X-Forwarded-Server',
      'X-Forwarded-Port',
      'X-Forwarded-Scheme',
      'X-Forwarded-Ssl',
      'X-Forwarded-Prefix',
      'X-Forwarded-Uri',
      'X-Forwarded-Path',
      'X-Url-Scheme',
      'Front-End-Https',
      'X-Host',
      'X-Original-Host',
      'X-Original-Method',
      'X-HTTP-Method-Override',
      'X-HTTP-Method',
      'X-Method-Override',
      'X-Envoy-Original-Path',
      'Via',
      'X-Api-Key-Id',
      'X-Anything',
    ];
    const sent: Record<string, string> = {
      authorization: `Bearer ${await token(keys, `hdr-${randomUUID()}`)}`,
      accept: 'application/json',
      'if-none-match': '"v1"',
    };
    for (const name of overrides) sent[name] = name.toLowerCase().includes('method') ? 'DELETE' : 'evil-6.6.6.6';
    const before = upstream.requests.length;
    expect(await rawGet(`${gw.url}/api/hdr/x`, sent)).toBe(200);
    const got = upstream.requests.slice(before)[0]!;
    expect(overrides.length).toBeGreaterThanOrEqual(22);
    for (const name of overrides) expect(got.headers[name.toLowerCase()], name).toBeUndefined();
    expect(JSON.stringify(got.headers)).not.toContain('evil');
    expect(JSON.stringify(got.headers)).not.toContain('DELETE');
    expect(got.method).toBe('GET');
    // Ordinary headers still pass, and a header named in Connection (hop-by-hop) does not.
    expect(got.headers.accept).toBe('application/json');
    expect(got.headers['if-none-match']).toBe('"v1"');
    const hop = upstream.requests.length;
    expect(
      await rawGet(`${gw.url}/api/hdr/x`, {
        authorization: sent.authorization!,
        connection: 'keep-alive, accept-language',
        'accept-language': 'de',
      }),
    ).toBe(200);
    expect(upstream.requests[hop]!.headers['accept-language']).toBeUndefined();
  });
});

describe('non-canonical tokens: one string per token', () => {
  let gw: RunningGateway;
  beforeAll(async () => {
    gw = await startTestGateway({ keys, routes: [route('tok', upstream.origin)] });
  });
  afterAll(() => gw.close());

  it('extra base64 padding, or other spellings of the same bytes, in any part of a valid token are refused', async () => {
    const t = await token(keys, `padding-${randomUUID()}`);
    const get = (tok: string) =>
      fetch(`${gw.url}/api/tok/x`, { headers: { authorization: `Bearer ${tok}` } }).then((r) => r.status);
    expect(await get(t)).toBe(200);
    const [h, p, s] = t.split('.') as [string, string, string];
    // The signature's last character carries 4 unused bits: flipping one spells the same bytes.
    const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const sameBytes = s.slice(0, -1) + ALPHABET[ALPHABET.indexOf(s.at(-1)!) ^ 1];
    expect(Buffer.from(sameBytes, 'base64url').equals(Buffer.from(s, 'base64url'))).toBe(true);
    const variants = [
      `${t}=`,
      `${t}==`,
      `${h}.${p}.${sameBytes}`,
      `${h}=.${p}.${s}`,
      `${h}.${p}=.${s}`,
      `${h}.${p}.${s.replace(/-/g, '+').replace(/_/g, '/')}`,
    ];
    for (const v of variants) expect(await get(v), v.slice(-12)).toBe(401);
  });
});

describe('failed authentication is rate limited per client address', () => {
  let gw: RunningGateway;
  let auth: Awaited<ReturnType<typeof startAuthGrpc>>;
  beforeAll(async () => {
    auth = await startAuthGrpc({});
    gw = await startTestGateway({
      keys,
      authGrpcPort: auth.port,
      routes: [route('fail', upstream.origin)],
      server: { trusted_proxies: ['127.0.0.1'] },
      auth: { failure_limit: { ...AUTH_FAILURE_LIMIT_DEFAULTS } },
    });
  });
  afterAll(async () => {
    await gw.close();
    await auth.close();
  });

  it('guessed API keys and forged tokens get 429 once over the limit, without asking auth; other clients are not affected', async () => {
    const max = AUTH_FAILURE_LIMIT_DEFAULTS.max_failures;
    const attacker = someIp();
    const guess = () =>
      fetch(`${gw.url}/api/fail/x`, { headers: { 'x-api-key': randomApiKey(), 'x-forwarded-for': attacker } });
    const statuses: number[] = [];
    for (let i = 0; i < max + 10; i++) statuses.push((await guess()).status);
    expect(statuses.slice(0, max)).toEqual(Array(max).fill(401));
    expect(statuses.slice(max + 1)).toEqual(Array(9).fill(429));
    // Auth was asked about at most one key past the limit.
    expect(auth.calls.length).toBeLessThanOrEqual(max + 1);
    const refused = await guess();
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    // Forged tokens from the same address too.
    const [h, p] = (await token(keys, 'victim')).split('.');
    const forged = await fetch(`${gw.url}/api/fail/x`, {
      headers: { authorization: `Bearer ${h}.${p}.${'A'.repeat(342)}`, 'x-forwarded-for': attacker },
    });
    expect(forged.status).toBe(429);
    // Another client address guessing is answered normally, and valid credentials work.
    const other = someIp();
    expect(
      (await fetch(`${gw.url}/api/fail/x`, { headers: { 'x-api-key': randomApiKey(), 'x-forwarded-for': other } }))
        .status,
    ).toBe(401);
    const ok = await fetch(`${gw.url}/api/fail/x`, {
      headers: { authorization: `Bearer ${await token(keys, 'someone')}`, 'x-forwarded-for': other },
    });
    expect(ok.status).toBe(200);
  });
});

describe('client addresses behind trusted proxies', () => {
  let gw: RunningGateway;
  let bare: RunningGateway;
  beforeAll(async () => {
    const opts = {
      keys,
      routes: [route('open', upstream.origin, { auth_required: false })],
      rateLimit: { requests_per_second: 1, burst: 3 },
    };
    [gw, bare] = await Promise.all([
      startTestGateway({ ...opts, server: { trusted_proxies: ['127.0.0.1', '10.0.0.0/8'] } }),
      startTestGateway(opts),
    ]);
  });
  afterAll(async () => {
    await gw.close();
    await bare.close();
  });

  const get = (g: RunningGateway, xff: string) =>
    fetch(`${g.url}/api/open/x`, { headers: { 'x-forwarded-for': xff } }).then(
      async (r) => (await r.arrayBuffer(), r.status),
    );

  it('the right-most untrusted X-Forwarded-For hop is the client: entries a client prepends cannot buy it a fresh bucket', async () => {
    const client = `198.51.100.${Math.floor(Math.random() * 250) + 1}`;
    for (let i = 0; i < 3; i++) expect(await get(gw, `${someIp()}, ${client}, 10.1.2.3`)).toBe(200);
    expect(await get(gw, `${someIp()}, ${client}, 10.9.9.9`)).toBe(429);
    // Another real client behind the same proxies has its own bucket.
    expect(await get(gw, `${client}, ${someIp()}, 10.1.2.3`)).toBe(200);
    // Upstream sees the client the gateway determined, and only that.
    const before = upstream.requests.length;
    const other = someIp();
    expect(await get(gw, `6.6.6.6, ${other}`)).toBe(200);
    expect(upstream.requests.slice(before)[0]!.headers['x-forwarded-for']).toBe(other);
  });

  it('without trusted proxies X-Forwarded-For is ignored: the socket address is the client', async () => {
    const before = upstream.requests.length;
    expect(await get(bare, '6.6.6.6')).toBe(200);
    expect(upstream.requests.slice(before)[0]!.headers['x-forwarded-for']).toBe('127.0.0.1');
  });
});

describe('API keys', () => {
  it('share one rate-limit bucket per account: N keys do not give N times the allowance', async () => {
    const user = `multi-key-${randomUUID()}`;
    const k1 = randomApiKey();
    const k2 = randomApiKey();
    const auth = await startAuthGrpc({
      [k1]: { keyId: `${user}-k1`, userId: user, scopes: [] },
      [k2]: { keyId: `${user}-k2`, userId: user, scopes: [] },
    });
    const gw = await startTestGateway({
      keys,
      authGrpcPort: auth.port,
      routes: [route('keys', upstream.origin)],
      rateLimit: { requests_per_second: 1, burst: 3 },
      server: { trusted_proxies: ['127.0.0.1'] },
    });
    try {
      // An address of its own: the test is about the account bucket, not the (shared) address bucket of 127.0.0.1.
      const ip = `10.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}.7`;
      const get = (k: string) =>
        fetch(`${gw.url}/api/keys/x`, { headers: { 'x-api-key': k, 'x-forwarded-for': ip } }).then((r) => r.status);
      for (let i = 0; i < 3; i++) expect(await get(k1)).toBe(200);
      expect(await get(k1)).toBe(429);
      expect(await get(k2)).toBe(429);
    } finally {
      await gw.close();
      await auth.close();
    }
  });

  describe('revoked in auth', () => {
    let authSvc: AuthHarness;
    let gw: RunningGateway;
    beforeAll(async () => {
      authSvc = await startAuth();
      gw = await startTestGateway({ keys, authGrpcPort: authSvc.grpcPort, routes: [route('keys', upstream.origin)] });
      await vi.waitUntil(() => gw.revocations.connected, { timeout: 5_000 });
    });
    afterAll(async () => {
      await gw?.close();
      await authSvc?.close();
    });

    it('stops working at the gateway within 100 ms (auth pushes the revocation), not after the cache time', async () => {
      const u = await signUp(authSvc.base);
      const created = await authCall(authSvc.base, 'POST', '/auth/api-keys', {
        token: u.access_token,
        body: { name: 'ci' },
      });
      expect(created.status).toBe(201);
      const get = () =>
        fetch(`${gw.url}/api/keys/x`, { headers: { 'x-api-key': created.body.key } }).then((r) => r.status);
      // Used once: the gateway now has the key's validation cached (30 s).
      expect(await get()).toBe(200);
      expect(await get()).toBe(200);
      expect(
        (await authCall(authSvc.base, 'DELETE', `/auth/api-keys/${created.body.id}`, { token: u.access_token })).status,
      ).toBe(204);
      await expect.poll(get, { timeout: 100, interval: 2 }).toBe(401);
    });
  });
});
