import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { privateRedis, type PrivateServer } from '#test/support/private-servers';
import { ScriptPipeline, ScriptUnavailable, type ScriptPipelineOptions } from '../src/redis-script.js';

/** Echoes its key and argument, so each caller can see it got its own reply; errors on request. */
const ECHO = `
if ARGV[1] == 'fail' then return redis.error_reply('ERR asked to fail') end
return {KEYS[1], ARGV[1]}
`;

let redis: PrivateServer & { address: string; password: string };
const open: ScriptPipeline[] = [];
beforeAll(async () => {
  redis = await privateRedis('pipe-secret');
});
afterAll(async () => {
  open.forEach((p) => p.close());
  await redis.dispose();
});

function pipeline(o: Partial<ScriptPipelineOptions> = {}): ScriptPipeline {
  const p = new ScriptPipeline({
    host: '127.0.0.1',
    port: redis.port,
    password: redis.password,
    lua: ECHO,
    timeoutMs: 250,
    connectionName: 'pipe-test',
    ...o,
  });
  open.push(p);
  return p;
}

const admin = () => new Redis({ port: redis.port, password: redis.password, maxRetriesPerRequest: 0 });

describe('ScriptPipeline (one pipelined EVALSHA connection)', () => {
  it('gives every concurrent caller its own reply, in one pipeline, with any UTF-8 key', async () => {
    const p = pipeline();
    await p.waitReady(2_000);
    const keys = Array.from({ length: 500 }, (_, i) => `k:${i}:${i % 3 === 0 ? 'ünïcødé-用户' : 'plain'}`);
    const replies = await Promise.all(keys.map((k, i) => p.call([k], [i])));
    expect(replies).toEqual(keys.map((k, i) => [k, String(i)]));
  });

  it('a script error fails that call only; the replies after it stay matched', async () => {
    const p = pipeline();
    await p.waitReady(2_000);
    const [a, b, c] = await Promise.allSettled([p.call(['a'], ['1']), p.call(['b'], ['fail']), p.call(['c'], ['3'])]);
    expect(a).toEqual({ status: 'fulfilled', value: ['a', '1'] });
    expect(b.status).toBe('rejected');
    expect(String((b as PromiseRejectedResult).reason)).toContain('asked to fail');
    expect(c).toEqual({ status: 'fulfilled', value: ['c', '3'] });
  });

  it('a wrong password: calls fail at once and the reason is reported', async () => {
    const downs: string[] = [];
    const p = pipeline({ password: 'wrong', onDown: (e) => downs.push(e.message) });
    await expect(p.waitReady(500)).rejects.toThrow('no Redis connection within 500 ms');
    await expect(p.call(['k'], ['v'])).rejects.toBeInstanceOf(ScriptUnavailable);
    expect(downs[0]).toMatch(/AUTH failed: WRONGPASS/);
  });

  it('NOSCRIPT after SCRIPT FLUSH: that call fails, the script is loaded again for the next ones', async () => {
    const p = pipeline();
    await p.waitReady(2_000);
    const a = admin();
    await a.script('FLUSH');
    await a.quit();
    await expect(p.call(['k'], ['1'])).rejects.toThrow(/NOSCRIPT/);
    await expect(p.call(['k'], ['2'])).resolves.toEqual(['k', '2']);
  });

  it('no reply within the timeout: pending calls fail, the connection is replaced, calls work again', async () => {
    const downs: string[] = [];
    const p = pipeline({ onDown: (e) => downs.push(e.message) });
    await p.waitReady(2_000);
    const a = admin();
    await a.call('CLIENT', 'PAUSE', '1000', 'ALL');
    const started = performance.now();
    await expect(p.call(['k'], ['paused'])).rejects.toBeInstanceOf(ScriptUnavailable);
    expect(performance.now() - started).toBeLessThan(800);
    expect(downs).toContain('no reply within 250 ms');
    await a.call('CLIENT', 'UNPAUSE');
    await a.quit();
    await p.waitReady(3_000);
    await expect(p.call(['k'], ['after'])).resolves.toEqual(['k', 'after']);
  });

  it('Redis stopped: calls fail at once rather than queue; Redis restarted (no scripts): it reconnects, loads the script, and calls succeed', async () => {
    const p = pipeline();
    await p.waitReady(2_000);
    await redis.stop();
    await expect.poll(() => p.connected, { timeout: 2_000 }).toBe(false);
    const started = performance.now();
    await expect(p.call(['k'], ['down'])).rejects.toThrow('Redis not connected');
    expect(performance.now() - started).toBeLessThan(50);
    await redis.start();
    await p.waitReady(5_000);
    await expect(p.call(['k'], ['back'])).resolves.toEqual(['k', 'back']);
  });

  it('close() ends the connection and later calls fail', async () => {
    const p = pipeline();
    await p.waitReady(2_000);
    p.close();
    await expect(p.call(['k'], ['x'])).rejects.toBeInstanceOf(ScriptUnavailable);
  });
});
