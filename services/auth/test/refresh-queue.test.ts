// The refresh queue (PRISM_AUTH_REFRESH_CONCURRENCY): refreshes beyond the slots wait, beyond the bound they are
// shed with 503 + Retry-After before any work, and a shed refresh spends nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, type Harness, signUp, startHarness } from './support/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ env: { PRISM_AUTH_REFRESH_CONCURRENCY: '1' } });
});
afterAll(() => h?.close());

const lockWaiters = async () =>
  (
    await h.sql.query(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()`,
    )
  ).rows[0].n as number;

describe('refreshes beyond PRISM_AUTH_REFRESH_CONCURRENCY', () => {
  it('wait for the slot; beyond 64 waiting, 503 + Retry-After at once, the token not spent and good afterwards', async () => {
    const [a, b] = [await signUp(h.base), await signUp(h.base)];
    // A's refresh takes the one slot and waits on its row, held here.
    const holder = await h.sql.connect();
    await holder.query('BEGIN');
    await holder.query('SELECT 1 FROM refresh_tokens WHERE session_id = $1 FOR UPDATE', [a.session_id]);
    const first = call(h.base, 'POST', '/auth/refresh', { body: { refresh_token: a.refresh_token } });
    await expect.poll(lockWaiters).toBe(1);
    // 70 more: 64 wait (no database work: still one lock waiter), 6 are shed.
    const done: number[] = [];
    const rest = Array.from({ length: 70 }, (_, i) =>
      call(h.base, 'POST', '/auth/refresh', { body: { refresh_token: `not-a-token-${i}` } }).then((r) => {
        done.push(r.status);
        return r;
      }),
    );
    await expect.poll(() => done.length).toBe(6);
    expect(done).toEqual(Array<number>(6).fill(503));
    expect(await lockWaiters()).toBe(1);
    // B's refresh now: shed at once, its token untouched.
    const shed = await call(h.base, 'POST', '/auth/refresh', { body: { refresh_token: b.refresh_token } });
    expect(shed.status).toBe(503);
    expect(shed.headers.get('retry-after')).toBe('1');
    expect(shed.body.error).toBe('overloaded');
    const { rows } = await h.sql.query('SELECT used_at FROM refresh_tokens WHERE session_id = $1', [b.session_id]);
    expect(rows).toEqual([{ used_at: null }]);

    await holder.query('COMMIT');
    holder.release();
    expect((await first).status).toBe(200);
    const answers = await Promise.all(rest);
    expect(answers.filter((r) => r.status === 401)).toHaveLength(64);
    const again = await call(h.base, 'POST', '/auth/refresh', { body: { refresh_token: b.refresh_token } });
    expect(again.status).toBe(200);
  });
});
