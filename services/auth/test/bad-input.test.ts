import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, email, type Harness, PASSWORD, signUp, startHarness } from './support/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

describe('bad input gets a clear 4xx, never a 500', () => {
  it('names each invalid field (400) without echoing the values', async () => {
    const r = await call(h.base, 'POST', '/auth/register', {
      body: { email: 'not-an-email', password: 'short', extra: 1 },
    });
    expect(r.status).toBe(400);
    expect(r.body.error).toBe('invalid_request');
    const fields = (r.body.fields as { field: string }[]).map((f) => f.field).sort();
    expect(fields).toEqual(expect.arrayContaining(['email', 'password']));
    expect(r.body.message).toMatch(/body\.password: must be at least 12 characters/);
    expect(r.body.message).toMatch(/Unrecognized key.*extra/);
    expect(JSON.stringify(r.body)).not.toContain('short');
  });

  it('passwords: 12 to 128 characters counted as characters, never truncated', async () => {
    const tooLong = 'x'.repeat(129);
    expect((await call(h.base, 'POST', '/auth/register', { body: { email: email(), password: tooLong } })).status).toBe(
      400,
    );
    expect(
      (await call(h.base, 'POST', '/auth/register', { body: { email: email(), password: 'x'.repeat(11) } })).status,
    ).toBe(400);
    // 128 four-byte characters (512 bytes of UTF-8) are 128 characters: accepted.
    const emoji = '🔑'.repeat(128);
    const a = email();
    expect((await call(h.base, 'POST', '/auth/register', { body: { email: a, password: emoji } })).status).toBe(202);
    expect((await call(h.base, 'POST', '/auth/login', { body: { email: a, password: emoji } })).status).toBe(200);
    expect(
      (await call(h.base, 'POST', '/auth/login', { body: { email: a, password: '🔑'.repeat(127) + '🔒' } })).status,
    ).toBe(401);
    // Equal in the first 100 characters (past bcrypt's 72-byte cut-off), different at the end.
    const b = email();
    const long = 'p'.repeat(100) + 'tail-one';
    expect((await call(h.base, 'POST', '/auth/register', { body: { email: b, password: long } })).status).toBe(202);
    expect(
      (await call(h.base, 'POST', '/auth/login', { body: { email: b, password: 'p'.repeat(100) + 'tail-two' } }))
        .status,
    ).toBe(401);
    expect((await call(h.base, 'POST', '/auth/login', { body: { email: b, password: long } })).status).toBe(200);
  });

  it('415 for a body that is not JSON', async () => {
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/xml']) {
      const r = await call(h.base, 'POST', '/auth/login', {
        raw: 'email=a&password=b',
        headers: { 'content-type': type },
      });
      expect(r.status, type).toBe(415);
      expect(r.body.error).toBe('ctp_invalid_media_type');
    }
  });

  it('413 for an oversized body', async () => {
    const r = await call(h.base, 'POST', '/auth/login', { body: { email: email(), password: 'x'.repeat(64 * 1024) } });
    expect(r.status).toBe(413);
  });

  it('400 for malformed JSON, an empty body, a wrong type, a bad id', async () => {
    expect(
      (
        await call(h.base, 'POST', '/auth/login', {
          raw: '{"email": ',
          headers: { 'content-type': 'application/json' },
        })
      ).status,
    ).toBe(400);
    expect(
      (await call(h.base, 'POST', '/auth/login', { raw: '', headers: { 'content-type': 'application/json' } })).status,
    ).toBe(400);
    expect(
      (await call(h.base, 'POST', '/auth/login', { raw: '[1,2]', headers: { 'content-type': 'application/json' } }))
        .status,
    ).toBe(400);
    expect(
      (await call(h.base, 'POST', '/auth/login', { raw: 'null', headers: { 'content-type': 'application/json' } }))
        .status,
    ).toBe(400);
    expect((await call(h.base, 'POST', '/auth/login', { body: { email: 42, password: ['x'] } })).status).toBe(400);
    expect((await call(h.base, 'POST', '/auth/login', {})).status).toBe(400);
    expect((await call(h.base, 'POST', '/auth/refresh', { body: { refresh_token: '' } })).status).toBe(400);
    const u = await signUp(h.base);
    const badId = await call(h.base, 'DELETE', '/auth/sessions/not-a-uuid', { token: u.access_token });
    expect(badId.status).toBe(400);
    expect(badId.body.fields[0]).toMatchObject({ in: 'params', field: 'id' });
    expect(
      (
        await call(h.base, 'POST', '/auth/api-keys', {
          token: u.access_token,
          body: { name: 'x', scopes: ['BAD SCOPE'] },
        })
      ).status,
    ).toBe(400);
    expect((await call(h.base, 'GET', '/auth/oauth/facebook/authorize')).status).toBe(400);
    expect((await call(h.base, 'GET', '/auth/oauth/github/callback')).status).toBe(400);
    expect((await call(h.base, 'POST', '/auth/refresh', { body: { refresh_token: 'garbage' } })).status).toBe(401);
  });

  it('401 for missing, malformed or forged bearer tokens', async () => {
    expect((await call(h.base, 'GET', '/auth/me')).status).toBe(401);
    expect((await call(h.base, 'GET', '/auth/me', { headers: { authorization: 'Basic abc' } })).status).toBe(401);
    expect((await call(h.base, 'GET', '/auth/me', { token: 'a.b.c' })).status).toBe(401);
    const u = await signUp(h.base);
    const [head, payload] = u.access_token.split('.');
    const forged = Buffer.from(
      JSON.stringify({ ...JSON.parse(Buffer.from(payload!, 'base64url').toString()), roles: ['admin'] }),
    ).toString('base64url');
    const r = await call(h.base, 'GET', '/auth/me', { token: `${head}.${forged}.${u.access_token.split('.')[2]}` });
    expect(r.status).toBe(401);
    expect(r.headers.get('www-authenticate')).toMatch(/invalid_token/);
  });

  it('never writes a password, token or key to the log', async () => {
    const secretPassword = 'Sup3r-Secret-Passphrase-For-Logs';
    const u = await signUp(h.base, email(), secretPassword);
    await call(h.base, 'POST', '/auth/login', { body: { email: u.email, password: 'wrong-but-secret-enough' } });
    await call(h.base, 'POST', '/auth/register', { body: { email: 'bad', password: 'tiny-secret' } });
    const refreshed = await call(h.base, 'POST', '/auth/refresh', { body: { refresh_token: u.refresh_token } });
    await call(h.base, 'POST', '/auth/refresh', { body: { refresh_token: u.refresh_token } }); // reuse: logged as a warning
    const key = await call(h.base, 'POST', '/auth/api-keys', {
      token: refreshed.body.access_token,
      body: { name: 'ci' },
    });
    await call(h.base, 'GET', '/auth/me', { token: 'eyJhbGciOiJSUzI1NiJ9.forged.token' });
    await new Promise((r) => setTimeout(r, 50));
    const text = h.logs.text;
    expect(text).toMatch(/"route":"\/auth\/login"/);
    expect(text).toMatch(/refresh token reuse/);
    for (const secret of [
      secretPassword,
      'wrong-but-secret-enough',
      'tiny-secret',
      u.refresh_token,
      u.access_token,
      refreshed.body.refresh_token,
      key.body.key ?? 'no key',
      'forged.token',
    ]) {
      expect(text).not.toContain(secret);
    }
  });

  it('the same request id comes back and is on the log line', async () => {
    const r = await call(h.base, 'POST', '/auth/login', {
      body: { email: email(), password: PASSWORD },
      headers: { 'x-request-id': 'req-abc-123' },
    });
    expect(r.headers.get('x-request-id')).toBe('req-abc-123');
    await new Promise((r) => setTimeout(r, 20));
    expect(h.logs.lines.some((l) => l.includes('"reqId":"req-abc-123"') && l.includes('"status":401'))).toBe(true);
  });

  it('junk sent to every documented route is a 4xx, never a 5xx', async () => {
    const u = await signUp(h.base);
    const doc = (await call(h.base, 'GET', '/auth/openapi.json')).body as {
      paths: Record<string, Record<string, unknown>>;
    };
    const junkBodies = [
      'null',
      '[]',
      '"string"',
      '12',
      '{"email":{"$gt":""}}',
      '{"__proto__":{"admin":true}}',
      `{"refresh_token":"${'\u0000'.repeat(10)}"}`,
      '{"name":"x","scopes":"not-a-list"}',
    ];
    const junkIds = ['%00', "1' OR '1'='1", '..%2F..%2Fetc', 'x'.repeat(2000), '00000000-0000-0000-0000-000000000000'];
    let requests = 0;
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const method of Object.keys(ops)) {
        for (const id of junkIds) {
          const concrete = path.replace('{id}', id).replace('{provider}', id);
          for (const token of [undefined, u.access_token]) {
            const bodies = method === 'post' ? junkBodies : [undefined];
            for (const raw of bodies) {
              const r = await call(h.base, method.toUpperCase(), concrete, {
                token,
                ...(raw !== undefined ? { raw, headers: { 'content-type': 'application/json' } } : {}),
              });
              requests++;
              expect(r.status, `${method} ${concrete} ${raw ?? ''}`).toBeLessThan(500);
            }
          }
        }
      }
    }
    expect(requests).toBeGreaterThan(200);
  });

  it('no 500 was answered in this file', async () => {
    expect(h.logs.lines.filter((l) => /"status":5\d\d/.test(l))).toEqual([]);
  });
});
