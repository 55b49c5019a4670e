// `npm run bench:gateway`: in one run, measures the upstream directly, a bare Node proxy on undici,
// and the gateway with JWT verification and the Redis rate limit on (plus the same gateway verifying
// every token from scratch), each as its own process under the same load. Prints requests/second,
// p50/p99 latency, CPU microseconds per request of the measured process, and the ratios.
// Starts its own redis-server and nats-server (JetStream) on free ports. About 45 s.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import autocannon from 'autocannon';
import { gatewayEnv, makeKeys, route, token, tmpDir, freePort } from '../test/support/harness.js';

const DURATION_S = Number(process.env.BENCH_DURATION ?? 8);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const CLK_TCK = 100;

const children: ChildProcess[] = [];
process.on('exit', () => children.forEach((c) => c.kill('SIGKILL')));

function start(cmd: string, args: string[], env: Record<string, string>, readyWhen: (line: string) => boolean): Promise<ChildProcess> {
  const child = spawn(cmd, args, { env: { PATH: process.env.PATH!, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    const onData = (c: Buffer) => {
      out += c.toString();
      if (out.split('\n').some(readyWhen)) resolve(child);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${out.slice(-500)}`)));
  });
}

const PROFILE_DIR = process.env.BENCH_PROFILE_DIR;
const node = (file: string, env: Record<string, string>, ready: (l: string) => boolean) =>
  start(process.execPath, [...(PROFILE_DIR && file.includes('main.ts') ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] : []), '--import', 'tsx', file], env, ready);

/** utime + stime of a process in microseconds (from /proc). */
function cpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[11]) + Number(f[12])) / CLK_TCK) * 1e6;
}

interface Result {
  name: string;
  rps: number;
  p50: number;
  p99: number;
  cpuUs: number | undefined;
  non2xx: number;
  errors: number;
}

async function measure(name: string, url: string, headers: Record<string, string>, proc: ChildProcess | undefined): Promise<Result> {
  await autocannon({ url, connections: CONNECTIONS, duration: 1, headers }); // warm-up (JIT, pools, caches)
  const before = proc ? cpuMicros(proc.pid!) : 0;
  const r = await autocannon({ url, connections: CONNECTIONS, duration: DURATION_S, headers });
  const cpu = proc ? cpuMicros(proc.pid!) - before : undefined;
  const total = r.requests.total;
  return {
    name,
    rps: r.requests.average,
    p50: r.latency.p50,
    p99: r.latency.p99,
    cpuUs: cpu === undefined ? undefined : cpu / total,
    non2xx: r.non2xx,
    errors: r.errors + r.timeouts,
  };
}

async function main() {
  const dir = tmpDir();
  const [upPort, bareP, redisPort, natsPort] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  await start('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--requirepass', 'bench', '--save', '', '--appendonly', 'no'], {}, (l) => l.includes('Ready to accept connections'));
  await start('nats-server', ['-a', '127.0.0.1', '-p', String(natsPort), '-js', '-sd', `${dir}/nats`], {}, (l) => l.includes('Server is ready'));
  const upstream = await node('services/gateway/bench/upstream.ts', { PORT: String(upPort) }, (l) => l === 'ready');
  const origin = `http://127.0.0.1:${upPort}`;
  const bare = await node('services/gateway/bench/bare-proxy.ts', { PORT: String(bareP), UPSTREAM: origin }, (l) => l === 'ready');

  const keys = await makeKeys(dir);
  const auth = { authorization: `Bearer ${await token(keys, 'bench-user')}` };
  const gw = async (tokenCacheSize: number, features: { events?: boolean; rateLimit?: boolean } = {}) => {
    const env = await gatewayEnv({
      keys,
      routes: [route('bench', origin, { timeout_ms: 5_000 })],
      // Every request is checked against Redis (one EVALSHA) but admitted.
      rateLimit: { enabled: features.rateLimit ?? true, requests_per_second: 10_000_000, burst: 10_000_000, on_redis_failure: 'open' },
      auth: { token_cache_size: tokenCacheSize },
      events: { enabled: features.events ?? true, buffer_size: 10_000 },
      redis: { address: `127.0.0.1:${redisPort}`, password: 'bench' },
      natsUrl: `nats://127.0.0.1:${natsPort}`,
      env: { PRISM_LOG_LEVEL: 'info' },
    });
    const p = await node('services/gateway/src/main.ts', env, (l) => l.includes('gateway listening'));
    return { p, url: `http://127.0.0.1:${env.PRISM_HTTP_PORT}/api/bench/x` };
  };

  console.log(`gateway benchmark: ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), Node ${process.version}, ${CONNECTIONS} connections, ${DURATION_S} s per target, autocannon in this process`);
  const results: Result[] = [];
  results.push(await measure('upstream direct', `${origin}/x`, {}, upstream));
  results.push(await measure('bare Node proxy (undici)', `http://127.0.0.1:${bareP}/x`, {}, bare));
  const g1 = await gw(10_000);
  results.push(await measure('gateway: JWT + Redis rate limit + events', g1.url, auth, g1.p));
  g1.p.kill('SIGTERM');
  await new Promise((r) => g1.p.once('exit', r));
  if (process.env.BENCH_BREAKDOWN) {
    // Where the gateway's time goes: the same gateway with features switched off.
    for (const [name, f] of [['gateway without events', { events: false }], ['gateway without events and rate limit', { events: false, rateLimit: false }]] as const) {
      const g = await gw(10_000, f);
      results.push(await measure(name, g.url, auth, g.p));
      g.p.kill('SIGTERM');
      await new Promise((r) => g.p.once('exit', r));
    }
  }
  if (process.env.BENCH_ONLY_CACHED) return report(results);
  const g2 = await gw(0);
  results.push(await measure('gateway, every token verified (no token cache)', g2.url, auth, g2.p));
  g2.p.kill('SIGTERM');
  await new Promise((r) => g2.p.once('exit', r));
  report(results);
}

function report(results: Result[]) {
  const pad = (s: string, n: number) => s.padEnd(n);
  console.log(`\n${pad('target', 50)}${pad('req/s', 10)}${pad('p50 ms', 9)}${pad('p99 ms', 9)}${pad('CPU µs/req', 12)}non-2xx/errors`);
  for (const r of results) {
    console.log(`${pad(r.name, 50)}${pad(r.rps.toFixed(0), 10)}${pad(String(r.p50), 9)}${pad(String(r.p99), 9)}${pad(r.cpuUs === undefined ? '-' : r.cpuUs.toFixed(1), 12)}${r.non2xx}/${r.errors}`);
  }
  const [, bareR, full] = results as [Result, Result, Result];
  const nocache = results.find((r) => r.name.includes('no token cache')) ?? full;
  console.log('\nratios (gateway vs bare Node proxy):');
  console.log(`  throughput: ${(full.rps / bareR.rps).toFixed(2)} (target >= 0.75); without token cache ${(nocache.rps / bareR.rps).toFixed(2)}`);
  console.log(`  CPU per request: ${(full.cpuUs! / bareR.cpuUs!).toFixed(2)}x (gateway ${full.cpuUs!.toFixed(1)} µs, target <= 100 µs); without token cache ${nocache.cpuUs!.toFixed(1)} µs`);
  const bad = results.filter((r) => r.non2xx + r.errors > 0);
  if (bad.length) console.log(`\nWARNING: non-2xx or errors in: ${bad.map((r) => r.name).join(', ')}`);
  setTimeout(() => process.exit(0), 1_000);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
