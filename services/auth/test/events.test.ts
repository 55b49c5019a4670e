import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTH_EVENTS_STREAM } from '#contract';
import { waitFor } from '#test/support/net';
import { call, email, type Harness, PASSWORD, startHarness } from './support/harness.js';
import { privateNats } from '#test/support/private-servers';

let nats: Awaited<ReturnType<typeof privateNats>>;
let h: Harness;
beforeAll(async () => {
  nats = await privateNats();
  h = await startHarness({
    natsUrl: nats.url,
    env: { PRISM_NATS_STREAM_REPLICAS: '1' },
    outbox: { pollMs: 200, maxBackoffMs: 500, publishTimeoutMs: 1_000 },
  });
});
afterAll(async () => {
  await h?.close();
  await nats?.dispose();
});

async function streamMessages(
  nc: NatsConnection,
): Promise<{ subject: string; id: string; msgId: string | undefined }[]> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(AUTH_EVENTS_STREAM);
  const out = [];
  for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
    const m = (await jsm.streams.getMessage(AUTH_EVENTS_STREAM, { seq }))!;
    out.push({ subject: m.subject, id: m.json<{ id: string }>().id, msgId: m.header.get('Nats-Msg-Id') || undefined });
  }
  return out;
}

describe('events through the outbox to JetStream', () => {
  it('creates the stream for prism.auth.user.> and prism.auth.token.>', async () => {
    await call(h.base, 'POST', '/auth/register', { body: { email: email(), password: PASSWORD } });
    const nc = await connect({ servers: nats.url });
    try {
      const info = await waitFor('stream', async () =>
        (await jetstreamManager(nc)).streams.info(AUTH_EVENTS_STREAM).catch(() => undefined),
      );
      expect(info.config.subjects).toEqual(['prism.auth.user.>', 'prism.auth.token.>']);
      expect(info.config.duplicate_window).toBeGreaterThan(60 * 1e9);
      expect(info.config.num_replicas).toBe(1);
    } finally {
      await nc.close();
    }
  });

  it('loses nothing and doubles nothing when NATS stops during a burst of registrations', async () => {
    const addresses: string[] = [];
    for (let i = 0; i < 30; i++) {
      if (i === 10) await nats.stop();
      addresses.push(email('burst'));
      const r = await call(h.base, 'POST', '/auth/register', { body: { email: addresses[i], password: PASSWORD } });
      // Registration does not depend on NATS: the event waits in the outbox.
      expect(r.status).toBe(202);
    }
    const ids = (await h.sql.query('SELECT id FROM users WHERE email = ANY($1)', [addresses])).rows.map(
      (r: { id: string }) => r.id,
    );
    expect(ids).toHaveLength(30);
    expect(await h.publisher.pending()).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 500));
    await nats.start();
    await waitFor('outbox drained', async () => (await h.publisher.pending()) === 0, 20_000);

    const { rows } = await h.sql.query(
      `SELECT msg_id, payload->>'user_id' AS user_id, attempts FROM outbox WHERE subject = 'prism.auth.user.registered'`,
    );
    const byUser = new Map(rows.map((r) => [r.user_id, r.msg_id]));
    expect(ids.every((id) => byUser.has(id))).toBe(true);
    expect(rows.some((r) => r.attempts > 1)).toBe(true);

    const nc = await connect({ servers: nats.url });
    try {
      const messages = await streamMessages(nc);
      const registered = messages.filter((m) => m.subject === 'prism.auth.user.registered');
      for (const id of ids) expect(registered.filter((m) => m.msgId === byUser.get(id))).toHaveLength(1);
      // Every message is an outbox row, once, with Nats-Msg-Id = msg_id.
      expect(new Set(messages.map((m) => m.msgId)).size).toBe(messages.length);
      expect(messages.every((m) => m.msgId === m.id)).toBe(true);
    } finally {
      await nc.close();
    }
  });

  it('publishes the token events too (session revoked on logout)', async () => {
    const address = email();
    await call(h.base, 'POST', '/auth/register', { body: { email: address, password: PASSWORD } });
    const login = await call(h.base, 'POST', '/auth/login', { body: { email: address, password: PASSWORD } });
    await call(h.base, 'POST', '/auth/logout', { token: login.body.access_token });
    await waitFor('outbox drained', async () => (await h.publisher.pending()) === 0);
    const nc = await connect({ servers: nats.url });
    try {
      const messages = await streamMessages(nc);
      const revoked = messages.filter((m) => m.subject === 'prism.auth.token.session_revoked');
      expect(revoked.length).toBeGreaterThanOrEqual(1);
      const jsm = await jetstreamManager(nc);
      const last = (await jsm.streams.getMessage(AUTH_EVENTS_STREAM, {
        last_by_subj: 'prism.auth.token.session_revoked',
      }))!;
      expect(last.json()).toMatchObject({
        session_id: login.body.session_id,
        reason: 'logout',
        subject: 'prism.auth.token.session_revoked',
      });
      expect(JSON.stringify(last.json())).not.toContain(login.body.access_token);
    } finally {
      await nc.close();
    }
  });
});
