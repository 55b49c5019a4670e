/**
 * The /health/live prober of `npm run bench:auth`, as a process of its own: polled from the benchmark's
 * own process, the probe also waited for that process's event loop, busy driving 16 clients, and charged
 * it to the service. Polls `argv[2]` every 10 ms until stdin closes, then prints the latencies (ms) as JSON.
 */
import { Pool } from 'undici';

const url = new URL(process.argv[2]!);
const pool = new Pool(url.origin, { connections: 1 });
const probe = async () => {
  const t = performance.now();
  const r = await pool.request({ method: 'GET', path: url.pathname });
  await r.body.text();
  return performance.now() - t;
};
// Connected and compiled before counting: the first probes of a fresh process measure the process.
for (let i = 0; i < 20; i++) await probe();
const latencies: number[] = [];
let running = true;
process.stdin.on('end', () => (running = false)).resume();
process.stdout.write('ready\n');
while (running) {
  latencies.push(await probe());
  await new Promise((r) => setTimeout(r, 10));
}
await pool.close();
process.stdout.write(JSON.stringify(latencies) + '\n');
