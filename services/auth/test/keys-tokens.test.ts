import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyRingFromPem } from '../src/keys.js';
import { AccessTokens, type InvalidToken } from '../src/tokens.js';
import { authClient } from './support/grpc.js';
import { authDatabase, call, type Harness, signUp, startHarness, type TestDatabase } from './support/harness.js';
import { makeKeyFiles } from './support/keys.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await authDatabase();
});
afterAll(async () => {
  await db?.drop();
});

const settings = { issuer: 'https://prism.test', audience: 'prism-api', accessTtlSeconds: 300 };

describe('access tokens', () => {
  it('are RS256 JWTs typed at+jwt with kid, iss, aud, sub, sid, a short exp, verifiable from the JWKS alone', async () => {
    const h = await startHarness({ db });
    try {
      const u = await signUp(h.base);
      const header = decodeProtectedHeader(u.access_token);
      expect(header).toMatchObject({ alg: 'RS256', typ: 'at+jwt' });
      const jwks = await call(h.base, 'GET', '/auth/.well-known/jwks.json');
      expect(jwks.status).toBe(200);
      expect(jwks.body.keys.map((k: { kid: string }) => k.kid)).toEqual([header.kid]);
      expect(JSON.stringify(jwks.body)).not.toMatch(/"d"|"p"|"q"/);
      // What the gateway does: verify with the published keys only.
      const { payload } = await jwtVerify(u.access_token, createLocalJWKSet(jwks.body), {
        issuer: settings.issuer,
        audience: settings.audience,
        typ: 'at+jwt',
      });
      expect(payload).toMatchObject({ sub: u.userId, sid: u.session_id, roles: ['user'] });
      expect(payload.exp! - payload.iat!).toBe(300);
      expect(typeof payload.jti).toBe('string');
    } finally {
      await h.close();
    }
  });

  it('refuses expired, mis-addressed, mistyped and foreign tokens with a reason', async () => {
    const keys = makeKeyFiles();
    const ring = await keyRingFromPem(keys.privatePem);
    const tokens = new AccessTokens(ring, settings);
    const reason = (p: Promise<unknown>) =>
      p.then(
        () => 'accepted',
        (e: InvalidToken) => e.reason,
      );
    const old = await tokens.issue('u1', 's1', [], Date.now() - 3600_000);
    expect(await reason(tokens.verify(old.token))).toBe('expired');
    const otherAudience = await new AccessTokens(ring, { ...settings, audience: 'another-api' }).issue('u1', 's1', []);
    expect(await reason(tokens.verify(otherAudience.token))).toBe('wrong_audience');
    const otherIssuer = await new AccessTokens(ring, { ...settings, issuer: 'https://evil.test' }).issue(
      'u1',
      's1',
      [],
    );
    expect(await reason(tokens.verify(otherIssuer.token))).toBe('wrong_issuer');
    // An ID-token-like JWT signed with the right key is not an access token.
    const plainJwt = await new SignJWT({ sid: 's1', roles: [] })
      .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: ring.signing.kid })
      .setIssuer(settings.issuer)
      .setAudience(settings.audience)
      .setSubject('u1')
      .setIssuedAt()
      .setExpirationTime('5m')
      .setJti('j')
      .sign(ring.signing.key);
    expect(await reason(tokens.verify(plainJwt))).toBe('wrong_type');
    const foreign = await new AccessTokens(await keyRingFromPem(makeKeyFiles().privatePem), settings).issue(
      'u1',
      's1',
      [],
    );
    expect(await reason(tokens.verify(foreign.token))).toBe('unknown_key');
    const good = await tokens.issue('u1', 's1', ['user']);
    expect(await reason(tokens.verify(good.token))).toBe('accepted');
    const [h, p, sig] = good.token.split('.');
    expect(await reason(tokens.verify(`${h}.${p}.${sig!.slice(0, -4)}AAAA`))).toBe('bad_signature');
  });

  it('refuses weak or wrong key material with a clear message', async () => {
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({
      type: 'pkcs8',
      format: 'pem',
    }) as string;
    await expect(keyRingFromPem(small)).rejects.toThrow(/1024 bits; at least 2048/);
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({
      type: 'pkcs8',
      format: 'pem',
    }) as string;
    await expect(keyRingFromPem(ec)).rejects.toThrow(/needs an RSA key, got ec/);
    await expect(keyRingFromPem(makeKeyFiles().privatePem, 'not a pem')).rejects.toThrow(/no PEM public key found/);
    await expect(keyRingFromPem('garbage')).rejects.toThrow(/not a PEM private key/);
  });
});

describe('key rotation', () => {
  let a: Harness | undefined;
  let b: Harness | undefined;
  let c: Harness | undefined;
  afterAll(async () => {
    for (const x of [a, b, c]) await x?.close();
  });

  it('a new key signs, the previous key keeps verifying while listed, both are in the JWKS', async () => {
    const keysA = makeKeyFiles();
    a = await startHarness({ db, keys: keysA });
    const before = await signUp(a.base);
    const kidA = decodeProtectedHeader(before.access_token).kid;
    await a.close();
    a = undefined;

    // Rotation: key B signs; A's public key stays in the bundle.
    const keysB = makeKeyFiles([keysA.publicPem]);
    b = await startHarness({ db, keys: keysB });
    const after = await call(b.base, 'POST', '/auth/login', {
      body: { email: before.email, password: 'correct horse battery staple' },
    });
    const kidB = decodeProtectedHeader(after.body.access_token).kid;
    expect(kidB).not.toBe(kidA);
    const jwks = await call(b.base, 'GET', '/auth/.well-known/jwks.json');
    expect(jwks.body.keys.map((k: { kid: string }) => k.kid)).toEqual([kidB, kidA]);
    const grpcB = authClient(b.grpcPort);
    try {
      expect(await grpcB.validateToken({ token: before.access_token })).toMatchObject({
        valid: true,
        userId: before.userId,
      });
      expect(await grpcB.validateToken({ token: after.body.access_token })).toMatchObject({ valid: true });
      expect((await call(b.base, 'GET', '/auth/me', { token: before.access_token })).status).toBe(200);
    } finally {
      grpcB.close();
    }
    await b.close();
    b = undefined;

    // Once A's tokens have expired, A leaves the bundle: its tokens no longer verify.
    writeFileSync(keysB.publicFile, keysB.publicPem);
    c = await startHarness({ db, keys: keysB });
    const grpcC = authClient(c.grpcPort);
    try {
      expect(await grpcC.validateToken({ token: before.access_token })).toMatchObject({
        valid: false,
        reason: 'unknown_key',
      });
      expect(await grpcC.validateToken({ token: after.body.access_token })).toMatchObject({ valid: true });
      expect((await call(c.base, 'GET', '/auth/.well-known/jwks.json')).body.keys).toHaveLength(1);
    } finally {
      grpcC.close();
    }
  });
});
