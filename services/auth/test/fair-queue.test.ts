// The fair queue on its own (the HTTP routes that use it are tested in refresh-queue and login-flood).
import { describe, expect, it } from 'vitest';
import { HttpError } from '../src/errors.js';
import { FairQueue } from '../src/fair-queue.js';

/** Work that runs until released, recording its start. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  return { open, work: (log: string[], name: string) => async () => (log.push(name), await opened, name) };
}

const status = (p: Promise<unknown>) =>
  p.then(
    () => 'done',
    (e: unknown) => (e instanceof HttpError ? `${e.statusCode} ${e.headers['retry-after'] ?? ''}`.trim() : 'error'),
  );

describe('FairQueue', () => {
  it('gives a free slot to the waiting address served longest ago, not to the one that queued most', async () => {
    const q = new FairQueue(1, 10, 'busy');
    const g = gate();
    const log: string[] = [];
    const all = [q.run(g.work(log, 'a0'), 'a')];
    for (let i = 1; i <= 3; i++) all.push(q.run(g.work(log, `a${i}`), 'a'));
    all.push(q.run(g.work(log, 'b0'), 'b'));
    g.open();
    await Promise.all(all);
    expect(log).toEqual(['a0', 'b0', 'a1', 'a2', 'a3']);
  });

  it('full: a newcomer from another address takes the place of the flooding address’s newest waiter', async () => {
    const q = new FairQueue(1, 4, 'busy');
    const g = gate();
    const log: string[] = [];
    const running = q.run(g.work(log, 'a0'), 'a');
    const waiting = [1, 2, 3, 4].map((i) => status(q.run(g.work(log, `a${i}`), 'a')));
    // The flooding address's own fifth waiter is shed at once: its address already has the most waiting.
    expect(await status(q.run(g.work(log, 'a5'), 'a'))).toBe('503 1');
    // Another address's request waits; a4 (the flooder's newest) is shed for it.
    const b = status(q.run(g.work(log, 'b0'), 'b'));
    expect(await waiting[3]).toBe('503 1');
    g.open();
    expect(await running).toBe('a0');
    expect(await Promise.all([b, ...waiting.slice(0, 3)])).toEqual(['done', 'done', 'done', 'done']);
    expect(log).toEqual(['a0', 'b0', 'a1', 'a2', 'a3']);
  });

  it('full with every address waiting as much as the newcomer’s: the newcomer is shed, no one else', async () => {
    const q = new FairQueue(1, 2, 'busy');
    const g = gate();
    const log: string[] = [];
    const running = q.run(g.work(log, 'x'), 'x');
    const waiting = [status(q.run(g.work(log, 'a'), 'a')), status(q.run(g.work(log, 'b'), 'b'))];
    expect(await status(q.run(g.work(log, 'c'), 'c'))).toBe('503 1');
    expect(await status(q.run(g.work(log, 'a2'), 'a'))).toBe('503 1');
    g.open();
    await running;
    expect(await Promise.all(waiting)).toEqual(['done', 'done']);
    // Every slot came back: the next runs at once.
    expect(await q.run(async () => 'after', 'c')).toBe('after');
  });
});
