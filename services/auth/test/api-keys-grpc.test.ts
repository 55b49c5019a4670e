import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_KEY_PATTERN } from '#contract';
import { grpc } from '../../runtime/src/index.js';
import { generateApiKey, parseApiKey, withChecksum } from '../src/api-keys.js';
import * as S from '../src/http/schemas.js';
import { authClient, healthClient } from './support/grpc.js';
import { call, type Harness, signUp, startHarness } from './support/harness.js';

let h: Harness;
let auth: ReturnType<typeof authClient>;
beforeAll(async () => {
  h = await startHarness();
  auth = authClient(h.grpcPort);
});
afterAll(async () => {
  auth?.close();
  await h?.close();
});

describe('API keys', () => {
  it('have an identifiable prefix and a checksum that catches any typo without a lookup', () => {
    const { key, prefix } = generateApiKey();
    expect(key).toMatch(API_KEY_PATTERN);
    expect(key.startsWith(`prism_${prefix}_`)).toBe(true);
    expect(parseApiKey(key)).toBe(prefix);
    // Every single-character change is refused by the checksum (or the pattern).
    let caught = 0;
    for (let i = 6; i < key.length; i++) {
      if (key[i] === '_') continue;
      const typo = key.slice(0, i) + (key[i] === 'a' ? 'b' : 'a') + key.slice(i + 1);
      if (parseApiKey(typo) === undefined) caught++;
      else throw new Error(`typo at ${i} not caught`);
    }
    expect(caught).toBeGreaterThan(40);
    expect(parseApiKey(key.slice(0, -1))).toBeUndefined();
  });

  it('are shown once, stored as a hash, listed without the key, validated over gRPC with scopes, and revocable', async () => {
    const u = await signUp(h.base);
    const created = await call(h.base, 'POST', '/auth/api-keys', {
      token: u.access_token,
      body: { name: 'ci deploy', scopes: ['deploy:write', 'config.read', 'deploy:write'], expires_in_days: 30 },
    });
    expect(created.status).toBe(201);
    const key = S.ApiKeyCreated.parse(created.body);
    expect(key.scopes).toEqual(['config.read', 'deploy:write']);
    const { rows } = await h.sql.query('SELECT prefix, encode(key_hash, $2) AS hash FROM api_keys WHERE id = $1', [
      key.id,
      'hex',
    ]);
    expect(rows[0].prefix).toBe(key.prefix);
    expect(JSON.stringify(rows)).not.toContain(key.key.split('_')[2]!);

    const list = await call(h.base, 'GET', '/auth/api-keys', { token: u.access_token });
    expect(S.ApiKeyList.parse(list.body).api_keys.map((k) => k.id)).toEqual([key.id]);
    expect(JSON.stringify(list.body)).not.toContain(key.key);

    const ok = await auth.validateApiKey({ apiKey: key.key });
    expect(ok).toMatchObject({ valid: true, keyId: key.id, userId: u.userId, scopes: ['config.read', 'deploy:write'] });
    expect(ok.expiresAt).toBeGreaterThan(Date.now() / 1000 + 29 * 86400);

    // Right id, wrong secret with a valid checksum: the constant-time hash compare refuses it.
    const forged = withChecksum(`prism_${key.prefix}_${'A'.repeat(32)}`);
    expect(parseApiKey(forged)).toBe(key.prefix);
    expect(await auth.validateApiKey({ apiKey: forged })).toMatchObject({ valid: false, reason: 'unknown' });
    expect(await auth.validateApiKey({ apiKey: 'prism_garbage' })).toMatchObject({ valid: false, reason: 'malformed' });

    expect((await call(h.base, 'DELETE', `/auth/api-keys/${key.id}`, { token: u.access_token })).status).toBe(204);
    expect(await auth.validateApiKey({ apiKey: key.key })).toMatchObject({ valid: false, reason: 'revoked' });
    expect((await call(h.base, 'DELETE', `/auth/api-keys/${key.id}`, { token: u.access_token })).status).toBe(404);
    const events = await h.sql.query(`SELECT subject FROM outbox WHERE payload->>'key_id' = $1 ORDER BY id`, [key.id]);
    expect(events.rows.map((r) => r.subject)).toEqual([
      'prism.auth.token.api_key_created',
      'prism.auth.token.api_key_revoked',
    ]);
  });

  it('refuse expired keys and keys of other users cannot be revoked', async () => {
    const u = await signUp(h.base);
    const other = await signUp(h.base);
    const created = await call(h.base, 'POST', '/auth/api-keys', { token: u.access_token, body: { name: 'short' } });
    expect(
      (await call(h.base, 'DELETE', `/auth/api-keys/${created.body.id}`, { token: other.access_token })).status,
    ).toBe(404);
    await h.sql.query(`UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE id = $1`, [created.body.id]);
    expect(await auth.validateApiKey({ apiKey: created.body.key })).toMatchObject({ valid: false, reason: 'expired' });
  });
});

describe('gRPC', () => {
  it('validates access tokens and reports revocation', async () => {
    const u = await signUp(h.base);
    const ok = await auth.validateToken({ token: u.access_token });
    expect(ok).toMatchObject({ valid: true, userId: u.userId, roles: ['user'], reason: '' });
    expect(ok.expiresAt).toBeGreaterThan(Date.now() / 1000);
    expect(await auth.validateToken({ token: 'nonsense' })).toMatchObject({ valid: false, reason: 'malformed' });
    await call(h.base, 'POST', '/auth/logout', { token: u.access_token });
    expect(await auth.validateToken({ token: u.access_token })).toMatchObject({ valid: false, reason: 'revoked' });
  });

  it('looks up users: NOT_FOUND for an unknown id, INVALID_ARGUMENT for a non-UUID', async () => {
    const u = await signUp(h.base);
    const user = await auth.getUser({ userId: u.userId });
    expect(user).toMatchObject({ id: u.userId, email: u.email, roles: ['user'], disabled: false });
    expect(user.createdAt).toBeGreaterThan(0);
    await expect(auth.getUser({ userId: '00000000-0000-4000-8000-000000000000' })).rejects.toMatchObject({
      code: grpc.status.NOT_FOUND,
    });
    await expect(auth.getUser({ userId: 'nope' })).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
  });

  it('serves grpc.health.v1 for the server and the auth service', async () => {
    const health = healthClient(h.grpcPort);
    try {
      expect(await health.check('')).toEqual({ status: 'SERVING' });
      expect(await health.check('prism.auth.v1.AuthService')).toEqual({ status: 'SERVING' });
      await expect(health.check('other.Service')).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
    } finally {
      health.close();
    }
  });
});
