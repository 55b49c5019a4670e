import { createHmac, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { IDENTITY_HEADERS } from '#contract';
import {
  GOOD_API_KEY,
  randomApiKey,
  freePort,
  makeKeys,
  revokeLikeAuth,
  startAuthGrpc,
  startTestGateway,
  TestUpstream,
  token,
  route,
  type Keys,
  type RunningGateway,
  ISSUER,
  AUDIENCE,
} from './support/harness.js';

let keys: Keys;
let otherKeys: Keys;
let upstream: TestUpstream;
let auth: Awaited<ReturnType<typeof startAuthGrpc>>;
let gw: RunningGateway;

beforeAll(async () => {
  keys = await makeKeys();
  otherKeys = await makeKeys();
  upstream = await new TestUpstream().start();
  auth = await startAuthGrpc({ [GOOD_API_KEY]: { keyId: 'key-1', userId: 'user-apikey', scopes: ['read'] } });
  gw = await startTestGateway({
    keys,
    authGrpcPort: auth.port,
    routes: [route('things', upstream.origin), route('public', upstream.origin, { auth_required: false })],
  });
  await vi.waitUntil(() => gw.revocations.connected, { timeout: 5_000 });
});

afterAll(async () => {
  await gw?.close();
  await upstream?.stop();
  await auth?.close();
});

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

async function call(path: string, headers: Record<string, string> = {}) {
  const before = upstream.requests.length;
  const res = await fetch(gw.url + path, { headers });
  const body = await res.text();
  return { res, body, forwarded: upstream.requests.slice(before) };
}

describe('a valid token', () => {
  it('is proxied with the identity headers; identity headers sent by the client are stripped', async () => {
    const sub = `user-${randomUUID()}`;
    const t = await token(keys, sub);
    const { res, forwarded } = await call('/api/things/items/7?x=1', {
      authorization: `Bearer ${t}`,
      [IDENTITY_HEADERS.userId]: 'admin',
      'X-Prism-Roles': 'admin',
      'x-prism-anything': 'forged',
      'x-request-id': 'client-req-1',
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toBe('client-req-1');
    expect(res.headers.get('x-upstream')).toBe('yes');
    expect(forwarded).toHaveLength(1);
    const h = forwarded[0]!.headers;
    expect(forwarded[0]!.url).toBe('/things/items/7?x=1');
    expect(h[IDENTITY_HEADERS.userId]).toBe(sub);
    expect(h[IDENTITY_HEADERS.method]).toBe('jwt');
    expect(h[IDENTITY_HEADERS.roles]).toBe('user');
    expect(h[IDENTITY_HEADERS.scopes]).toBe('read write');
    expect(h['x-prism-anything']).toBeUndefined();
    expect(h['x-request-id']).toBe('client-req-1');
    expect(h['x-forwarded-for']).toBe('127.0.0.1');
  });

  it('gets a request id when the client sends none', async () => {
    const { res, forwarded } = await call('/api/things/x', { authorization: `Bearer ${await token(keys, 'u1')}` });
    expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(forwarded[0]!.headers['x-request-id']).toBe(res.headers.get('x-request-id'));
  });
});

describe('forged or invalid tokens are rejected with 401 and never reach the upstream', () => {
  const now = () => Math.floor(Date.now() / 1000);
  const cases: [string, () => Promise<string>][] = [
    [
      'alg none',
      async () =>
        `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: 'attacker', iss: ISSUER, aud: AUDIENCE, exp: now() + 600 })}.`,
    ],
    [
      'HS256 signed with the RSA public key',
      async () => {
        const head = b64({ alg: 'HS256', typ: 'JWT', kid: keys.kid });
        const body = b64({ sub: 'attacker', iss: ISSUER, aud: AUDIENCE, exp: now() + 600 });
        const sig = createHmac('sha256', keys.publicPem).update(`${head}.${body}`).digest('base64url');
        return `${head}.${body}.${sig}`;
      },
    ],
    ['expired beyond the leeway', () => token(keys, 'u', { exp: now() - 60, iat: now() - 700 })],
    ['not yet valid', () => token(keys, 'u', { nbf: now() + 60 })],
    ['wrong issuer', () => token(keys, 'u', { iss: 'someone-else' })],
    ['wrong audience', () => token(keys, 'u', { aud: 'another-api' })],
    ['unknown kid', () => token(keys, 'u', {}, { kid: 'no-such-key' })],
    ['not an access token (typ JWT)', () => token(keys, 'u', {}, { typ: 'JWT' })],
    ['no typ header', () => token(keys, 'u', {}, { typ: undefined })],
    ['signed by another key under our kid', () => token(otherKeys, 'u', {}, { kid: keys.kid })],
    [
      'tampered payload',
      async () => {
        const [h, , s] = (await token(keys, 'victim')).split('.');
        return `${h}.${b64({ sub: 'admin', iss: ISSUER, aud: AUDIENCE, exp: now() + 600, roles: ['admin'] })}.${s}`;
      },
    ],
    ['garbage', async () => 'not.a.jwt'],
    [
      'missing sub',
      async () => (await token(keys, 'x')).replace(/^([^.]+)\.[^.]+/, (_m, h) => `${h}.${b64({ iss: ISSUER })}`),
    ],
  ];
  it.each(cases)('%s', async (_name, make) => {
    const { res, body, forwarded } = await call('/api/things/secret', { authorization: `Bearer ${await make()}` });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toContain('Bearer');
    expect(JSON.parse(body)).toMatchObject({ error: expect.any(String), request_id: expect.any(String) });
    expect(forwarded).toEqual([]);
  });

  it('a token within the leeway (expired 2 s ago, leeway 5 s) is accepted', async () => {
    const { res } = await call('/api/things/x', {
      authorization: `Bearer ${await token(keys, 'u', { exp: now() - 2 })}`,
    });
    expect(res.status).toBe(200);
  });

  it('a cached token stops being accepted once it expires', async () => {
    const t = await token(keys, 'short', { exp: now() - 4 }); // 1 s of leeway left
    expect((await call('/api/things/x', { authorization: `Bearer ${t}` })).res.status).toBe(200);
    await new Promise((r) => setTimeout(r, 1_600));
    expect((await call('/api/things/x', { authorization: `Bearer ${t}` })).res.status).toBe(401);
  });

  it('no credentials on a protected route: 401; on a public route: proxied without identity', async () => {
    expect((await call('/api/things/x')).res.status).toBe(401);
    const pub = await call('/api/public/login', { authorization: 'Bearer expired.or.bad' });
    expect(pub.res.status).toBe(200);
    expect(pub.forwarded[0]!.headers[IDENTITY_HEADERS.userId]).toBeUndefined();
    expect(pub.forwarded[0]!.headers.authorization).toBe('Bearer expired.or.bad');
  });
});

describe('sessions revoked by auth (Redis marker and pushed event)', () => {
  it('a token of a revoked session is refused within 100 ms, even though its verification is cached', async () => {
    const sid = `sid-${randomUUID()}`;
    const t = await token(keys, 'session-user', { sid });
    const other = await token(keys, 'session-user', { sid: `sid-${randomUUID()}` });
    expect((await call('/api/things/s', { authorization: `Bearer ${t}` })).res.status).toBe(200);
    await revokeLikeAuth({ sessionId: sid });
    await expect
      .poll(async () => (await call('/api/things/s', { authorization: `Bearer ${t}` })).res.status, {
        timeout: 100,
        interval: 5,
      })
      .toBe(401);
    const refused = await call('/api/things/s', { authorization: `Bearer ${t}` });
    expect(refused.res.status).toBe(401);
    expect(JSON.parse(refused.body).error).toBe('token revoked');
    expect(refused.forwarded).toEqual([]);
    expect((await call('/api/things/s', { authorization: `Bearer ${other}` })).res.status).toBe(200);
  });

  it('on a public route a revoked token is ignored: the request goes on anonymously (a stale header cannot block login)', async () => {
    {
      const sid = `sid-${randomUUID()}`;
      const t = await token(keys, 'stale-user', { sid });
      expect((await call('/api/things/s', { authorization: `Bearer ${t}` })).res.status).toBe(200);
      await revokeLikeAuth({ sessionId: sid });
      await expect
        .poll(async () => (await call('/api/things/s', { authorization: `Bearer ${t}` })).res.status, {
          timeout: 100,
          interval: 5,
        })
        .toBe(401);
      const login = await call('/api/public/login', {
        authorization: `Bearer ${t}`,
        [IDENTITY_HEADERS.userId]: 'forged',
      });
      expect(login.res.status).toBe(200);
      expect(login.res.headers.get('ratelimit-limit')).not.toBeNull();
      expect(login.forwarded).toHaveLength(1);
      for (const h of Object.values(IDENTITY_HEADERS)) expect(login.forwarded[0]!.headers[h]).toBeUndefined();
      // The protected route still refuses it.
      expect((await call('/api/things/s', { authorization: `Bearer ${t}` })).res.status).toBe(401);
    }
  });

  it('also without rate limiting', async () => {
    const g = await startTestGateway({
      keys,
      routes: [route('things', upstream.origin), route('public', upstream.origin, { auth_required: false })],
      rateLimit: { enabled: false },
    });
    try {
      await vi.waitUntil(() => g.revocations.connected, { timeout: 5_000 });
      const sid = `sid-${randomUUID()}`;
      const t = await token(keys, 'session-user', { sid });
      expect((await fetch(`${g.url}/api/things/s`, { headers: { authorization: `Bearer ${t}` } })).status).toBe(200);
      await revokeLikeAuth({ sessionId: sid });
      await expect
        .poll(
          async () => (await fetch(`${g.url}/api/things/s`, { headers: { authorization: `Bearer ${t}` } })).status,
          { timeout: 100, interval: 5 },
        )
        .toBe(401);
      const pub = await fetch(`${g.url}/api/public/login`, { headers: { authorization: `Bearer ${t}` } });
      expect(pub.status).toBe(200);
      expect(upstream.requests.at(-1)!.headers[IDENTITY_HEADERS.userId]).toBeUndefined();
    } finally {
      await g.close();
    }
  });
});

describe('API keys through auth gRPC ValidateApiKey', () => {
  it('a valid key is proxied with the key owner identity, the key itself is not forwarded, and the answer is cached in Redis', async () => {
    const before = auth.calls.length;
    const first = await call('/api/things/k', { 'x-api-key': GOOD_API_KEY });
    expect(first.res.status).toBe(200);
    const h = first.forwarded[0]!.headers;
    expect(h[IDENTITY_HEADERS.method]).toBe('api_key');
    expect(h[IDENTITY_HEADERS.userId]).toBe('user-apikey');
    expect(h[IDENTITY_HEADERS.apiKeyId]).toBe('key-1');
    expect(h['x-api-key']).toBeUndefined();
    const second = await call('/api/things/k', { 'x-api-key': GOOD_API_KEY });
    expect(second.res.status).toBe(200);
    expect(auth.calls.length - before).toBeLessThanOrEqual(1);
  });

  it('an unreadable cache entry counts as a miss', async () => {
    const { Redis } = await import('ioredis');
    const { createHash } = await import('node:crypto');
    const [host, port] = process.env.PRISM_TEST_REDIS_ADDRESS!.split(':');
    const redis = new Redis({ host, port: Number(port), password: process.env.PRISM_TEST_REDIS_PASSWORD });
    // A gateway of its own: this one has the key in its memory already.
    const g = await startTestGateway({ keys, authGrpcPort: auth.port, routes: [route('things', upstream.origin)] });
    try {
      await redis.set(
        `prism:gw:apikey:${createHash('sha256').update(GOOD_API_KEY).digest('base64url')}`,
        '{not json',
        'EX',
        30,
      );
      const before = auth.calls.length;
      expect((await fetch(`${g.url}/api/things/k`, { headers: { 'x-api-key': GOOD_API_KEY } })).status).toBe(200);
      expect(auth.calls.length).toBe(before + 1);
    } finally {
      redis.disconnect();
      await g.close();
    }
  });

  it('attack: a made-up validation written into Redis (SET with the Redis password) authenticates nobody', async () => {
    const { Redis } = await import('ioredis');
    const { createHash } = await import('node:crypto');
    const [host, port] = process.env.PRISM_TEST_REDIS_ADDRESS!.split(':');
    const redis = new Redis({ host, port: Number(port), password: process.env.PRISM_TEST_REDIS_PASSWORD });
    const forged = randomApiKey();
    const cacheKey = `prism:gw:apikey:${createHash('sha256').update(forged).digest('base64url')}`;
    const claim = {
      valid: true,
      keyId: 'key-forged',
      userId: 'admin',
      scopes: ['admin'],
      expiresAt: 0,
      reason: '',
      until: Date.now() + 60_000,
    };
    try {
      // As the old format had it, as the new format has it with a MAC made without the gateway's key, and
      // with a genuine entry of another key copied over: each is a cache miss and auth refuses the key.
      const valid = `prism:gw:apikey:${createHash('sha256').update(GOOD_API_KEY).digest('base64url')}`;
      expect((await call('/api/things/k', { 'x-api-key': GOOD_API_KEY })).res.status).toBe(200);
      const genuine = await redis.get(valid);
      expect(genuine).toMatch(/^[A-Za-z0-9_-]{43}\./);
      const wrongKey = createHmac('sha256', 'guessed')
        .update(cacheKey)
        .update('\n')
        .update(JSON.stringify(claim))
        .digest('base64url');
      for (const entry of [JSON.stringify(claim), `${wrongKey}.${JSON.stringify(claim)}`, genuine!]) {
        await redis.set(cacheKey, entry, 'EX', 60);
        const before = auth.calls.length;
        const { res, forwarded } = await call('/api/things/k', { 'x-api-key': forged });
        expect(res.status).toBe(401);
        expect(forwarded).toEqual([]);
        expect(auth.calls.length).toBe(before + 1);
      }
    } finally {
      redis.disconnect();
    }
  });

  it('auth unreachable: 503 (not 401), nothing forwarded', async () => {
    const g = await startTestGateway({
      keys,
      authGrpcPort: await freePort(),
      routes: [route('things', upstream.origin)],
    });
    try {
      const before = upstream.requests.length;
      const r = await fetch(`${g.url}/api/things/k`, { headers: { 'x-api-key': randomApiKey() } });
      expect(r.status).toBe(503);
      expect(upstream.requests.length).toBe(before);
    } finally {
      await g.close();
    }
  });

  it('an unknown key is refused with 401', async () => {
    const before = auth.calls.length;
    const { res, forwarded } = await call('/api/things/k', { 'x-api-key': randomApiKey() });
    expect(res.status).toBe(401);
    expect(forwarded).toEqual([]);
    expect(auth.calls.length).toBe(before + 1);
  });

  it('a key not shaped like a Prism key is refused without asking auth', async () => {
    const before = auth.calls.length;
    for (const k of ['pk_live_good', 'prism_short_x', `prism_${'a'.repeat(12)}_${'b'.repeat(37)}`, 'x'.repeat(300)]) {
      expect((await call('/api/things/k', { 'x-api-key': k })).res.status).toBe(401);
    }
    expect(auth.calls.length).toBe(before);
  });
});

describe('JWKS', () => {
  it('verifies against the auth JWKS, and picks up a rotated key', async () => {
    const { createServer } = await import('node:http');
    const { exportJWK } = await import('jose');
    const jwksKeys = [{ ...(await exportJWK(otherKeys.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' }];
    let fetches = 0;
    const jwks = createServer(
      (_req, res) =>
        ++fetches && res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: jwksKeys })),
    );
    await new Promise<void>((r) => jwks.listen(0, '127.0.0.1', () => r()));
    const jwksUrl = `http://127.0.0.1:${(jwks.address() as { port: number }).port}/jwks.json`;
    const g = await startTestGateway({
      keys,
      routes: [route('things', upstream.origin)],
      env: { PRISM_AUTH_JWKS_URL: jwksUrl, PRISM_JWT_PUBLIC_KEY_FILE: '' },
      jwksCooldownMs: 300,
    });
    try {
      const ok = await fetch(`${g.url}/api/things/a`, {
        headers: { authorization: `Bearer ${await token(otherKeys, 'j', {}, { kid: 'k1' })}` },
      });
      expect(ok.status).toBe(200);
      const rotated = await makeKeys();
      jwksKeys.push({ ...(await exportJWK(rotated.publicKey)), kid: 'k2', alg: 'RS256', use: 'sig' });
      // An unknown kid refetches the JWKS once the cool-down (300 ms here, 30 s by default) has passed.
      await new Promise((r) => setTimeout(r, 350));
      const r2 = await fetch(`${g.url}/api/things/a`, {
        headers: { authorization: `Bearer ${await token(rotated, 'j', {}, { kid: 'k2' })}` },
      });
      expect(r2.status).toBe(200);
      expect(fetches).toBe(2);
      const unknown = await fetch(`${g.url}/api/things/a`, {
        headers: { authorization: `Bearer ${await token(rotated, 'j', {}, { kid: 'k9' })}` },
      });
      expect(unknown.status).toBe(401);
    } finally {
      await g.close();
      jwks.close();
    }
  });
});

describe('JWKS key withdrawn', () => {
  it('the cached tokens of a key the JWKS no longer lists are refused after its next fetch; the cache keeps the others until they expire', async () => {
    const { createServer } = await import('node:http');
    const { exportJWK } = await import('jose');
    const kept = await makeKeys();
    const jwk = async (k: typeof kept, kid: string) => ({
      ...(await exportJWK(k.publicKey)),
      kid,
      alg: 'RS256',
      use: 'sig',
    });
    let jwksKeys = [await jwk(otherKeys, 'withdrawn'), await jwk(kept, 'kept')];
    let fetches = 0;
    const jwks = createServer(
      (_req, res) =>
        ++fetches && res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: jwksKeys })),
    );
    await new Promise<void>((r) => jwks.listen(0, '127.0.0.1', () => r()));
    const g = await startTestGateway({
      keys,
      routes: [route('things', upstream.origin)],
      env: {
        PRISM_AUTH_JWKS_URL: `http://127.0.0.1:${(jwks.address() as { port: number }).port}/jwks.json`,
        PRISM_JWT_PUBLIC_KEY_FILE: '',
      },
      jwksRefreshMs: 500,
    });
    const status = async (t: string) =>
      (await fetch(`${g.url}/api/things/a`, { headers: { authorization: `Bearer ${t}` } })).status;
    try {
      const compromised = await token(otherKeys, 'w', {}, { kid: 'withdrawn' });
      const good = await token(kept, 'k', {}, { kid: 'kept' });
      expect([await status(compromised), await status(good)]).toEqual([200, 200]);
      // Cached now: while the JWKS is unchanged they keep passing across refreshes, with no new verification.
      const before = fetches;
      await new Promise((r) => setTimeout(r, 1_200));
      expect(fetches).toBeGreaterThan(before);
      expect([await status(compromised), await status(good)]).toEqual([200, 200]);
      jwksKeys = jwksKeys.filter((k) => k.kid !== 'withdrawn');
      await expect.poll(() => status(compromised), { timeout: 3_000, interval: 100 }).toBe(401);
      expect(await status(good)).toBe(200);
    } finally {
      await g.close();
      jwks.close();
    }
  });
});

describe('public key file', () => {
  it("accepts the auth service's rotation bundle: tokens of every key in it verify, by kid", async () => {
    const { writeFileSync } = await import('node:fs');
    const bundle = keys.publicKeyFile.replace(/\.pem$/, '-bundle.pem');
    writeFileSync(bundle, `${keys.publicPem}${otherKeys.publicPem}`);
    const g = await startTestGateway({
      keys: { ...keys, publicKeyFile: bundle },
      routes: [route('things', upstream.origin)],
      env: { PRISM_AUTH_JWKS_URL: '' },
    });
    try {
      for (const k of [keys, otherKeys]) {
        const res = await fetch(`${g.url}/api/things/a`, {
          headers: { authorization: `Bearer ${await token(k, 'rotating')}` },
        });
        expect(res.status, k.kid).toBe(200);
      }
      // Without a kid, a token cannot say which of several keys signed it.
      const noKid = await fetch(`${g.url}/api/things/a`, {
        headers: { authorization: `Bearer ${await token(otherKeys, 'rotating', {}, { kid: undefined })}` },
      });
      expect(noKid.status).toBe(401);
      const stranger = await makeKeys();
      const unknown = await fetch(`${g.url}/api/things/a`, {
        headers: { authorization: `Bearer ${await token(stranger, 'rotating')}` },
      });
      expect(unknown.status).toBe(401);
    } finally {
      await g.close();
    }
  });
});
