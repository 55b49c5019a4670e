// The refresh queue (PRISM_AUTH_REFRESH_CONCURRENCY): refreshes beyond the slots wait, beyond the bound they are
// shed with 503 + Retry-After before any work, a shed refresh spends nothing, and a flooding address's own
// waiters are shed before another address's request.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, type Harness, signUp, startHarness } from './support/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ env: { PRISM_AUTH_REFRESH_CONCURRENCY: '1', PRISM_TRUSTED_PROXIES: '127.0.0.1' } });
});
afterAll(() => h?.close());

const lockWaiters = async () =>
  (
    await h.sql.query(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()`,
    )
  ).rows[0].n as number;

const from = (ip: string) => ({ 'x-forwarded-for': ip });
const FLOOD = '203.0.113.7';

describe('refreshes beyond PRISM_AUTH_REFRESH_CONCURRENCY', () => {
  it('wait for the slot; beyond 64 waiting, 503 + Retry-After at once, the token not spent; a flooding address cannot have another address shed', async () => {
    const [a, b, c] = [await signUp(h.base), await signUp(h.base), await signUp(h.base)];
    // A's refresh takes the one slot and waits on its row, held here.
    const holder = await h.sql.connect();
    await holder.query('BEGIN');
    await holder.query('SELECT 1 FROM refresh_tokens WHERE session_id = $1 FOR UPDATE', [a.session_id]);
    const first = call(h.base, 'POST', '/auth/refresh', { body: { refresh_token: a.refresh_token } });
    await expect.poll(lockWaiters).toBe(1);
    // 70 more from one address: 64 wait (no database work: still one lock waiter), 6 are shed.
    const done: number[] = [];
    const flood = Array.from({ length: 70 }, (_, i) =>
      call(h.base, 'POST', '/auth/refresh', {
        body: { refresh_token: `not-a-token-${i}` },
        headers: from(FLOOD),
      }).then((r) => {
        done.push(r.status);
        return r;
      }),
    );
    await expect.poll(() => done.length).toBe(6);
    expect(done).toEqual(Array<number>(6).fill(503));
    expect(await lockWaiters()).toBe(1);
    // C's refresh from the flooding address: shed at once, its token untouched.
    const shed = await call(h.base, 'POST', '/auth/refresh', {
      body: { refresh_token: c.refresh_token },
      headers: from(FLOOD),
    });
    expect(shed.status).toBe(503);
    expect(shed.headers.get('retry-after')).toBe('1');
    expect(shed.body.error).toBe('overloaded');
    const { rows } = await h.sql.query('SELECT used_at FROM refresh_tokens WHERE session_id = $1', [c.session_id]);
    expect(rows).toEqual([{ used_at: null }]);
    // B's from another address waits: the flood's newest waiter is shed in its place.
    const fromB = call(h.base, 'POST', '/auth/refresh', {
      body: { refresh_token: b.refresh_token },
      headers: from('198.51.100.20'),
    });
    await expect.poll(() => done.length).toBe(7);
    expect(done[6]).toBe(503);

    await holder.query('COMMIT');
    holder.release();
    expect((await first).status).toBe(200);
    expect((await fromB).status).toBe(200);
    const answers = await Promise.all(flood);
    expect(answers.filter((r) => r.status === 401)).toHaveLength(63);
    const again = await call(h.base, 'POST', '/auth/refresh', { body: { refresh_token: c.refresh_token } });
    expect(again.status).toBe(200);
  });
});
