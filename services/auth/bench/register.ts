/**
 * npm run bench:auth:register — whether the time of POST /auth/register tells a taken e-mail from
 * a new one (issue 22.11). Registrations of a taken e-mail and of new ones, interleaved and one at
 * a time (no queueing), against the real service as a child process; prints each path's median
 * latency and their ratio (1.00 is indistinguishable). BENCH_REGISTRATIONS per path, default 40.
 *
 * A latency benchmark, not a test: on a shared machine one run's noise can exceed a real
 * difference, so read the ratio next to each path's spread (p10–p90), which is printed too.
 */
import { availableParallelism } from 'node:os';
import { Pool } from 'undici';
import { startBenchService, withTestServers } from './service.js';

const N = Number(process.env.BENCH_REGISTRATIONS ?? 40);
const WARM_UP = 3;
const PASSWORD = 'correct horse battery staple';

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
}
const ms = (n: number) => `${n.toFixed(1)} ms`;

async function main(): Promise<void> {
  const svc = await startBenchService();
  const pool = new Pool(svc.base, { connections: 1 });
  try {
    /** One registration, timed from the request to the last byte of the answer. */
    const register = async (email: string) => {
      const t = performance.now();
      const r = await pool.request({
        method: 'POST',
        path: '/auth/register',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email, password: PASSWORD }),
      });
      const text = await r.body.text();
      const elapsed = performance.now() - t;
      if (r.statusCode !== 202) throw new Error(`register: ${r.statusCode} ${text}`);
      return { elapsed, text };
    };
    const run = `${Date.now()}`;
    const taken = `bench-taken-${run}@example.test`;
    const fresh = (i: number) => `bench-new-${run}-${i}@example.test`;
    await register(taken);
    const times = { taken: [] as number[], fresh: [] as number[] };
    const answers = new Set<string>();
    for (let i = -WARM_UP; i < N; i++) {
      // Alternating which path goes first, so drift in the machine's load falls on both alike.
      const order = i % 2 ? (['taken', 'fresh'] as const) : (['fresh', 'taken'] as const);
      for (const path of order) {
        const r = await register(path === 'taken' ? taken : fresh(i + WARM_UP));
        answers.add(r.text);
        if (i >= 0) times[path].push(r.elapsed);
      }
    }
    const [t50, f50] = [pct(times.taken, 50), pct(times.fresh, 50)];
    console.log(`register timing: ${N} registrations per path, one at a time, ${availableParallelism()} cores`);
    for (const [name, xs] of [
      ['taken e-mail', times.taken],
      ['new e-mail', times.fresh],
    ] as const)
      console.log(`  ${name.padEnd(13)} median ${ms(pct(xs, 50))}   p10 ${ms(pct(xs, 10))}   p90 ${ms(pct(xs, 90))}`);
    console.log(`  ratio taken / new (medians) ${(t50 / f50).toFixed(3)}`);
    console.log(`  distinct answer bodies: ${answers.size} (1: the body tells nothing either)`);
  } finally {
    await pool.close();
    await svc.stop();
  }
}

await withTestServers(main);
