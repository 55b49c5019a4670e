// `npm run bench:gateway`: in one run, measures the upstream directly, a bare Node proxy on undici,
// and the gateway with JWT verification and the Redis rate limit on (plus the same gateway verifying
// every token from scratch), each as its own process under the same load (the same request, bearer
// token included). The targets take turns for several rounds, so a noisy moment on the shared machine
// hits one round rather than one target; prints requests/second, p50/p99 latency, CPU microseconds
// per request of the measured process, and the ratios (medians over the rounds).
// Starts its own redis-server and nats-server (JetStream) on free ports. About 70 s.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import autocannon from 'autocannon';
import { ACCESS_TOKEN } from '#contract';
import { gatewayEnv, makeKeys, route, token, tmpDir, freePort } from '../test/support/harness.js';
import { checkBounds, everyCredentialOnce, makeIdentities, zipfRequests, zipfSequence } from './identities.js';

const DURATION_S = Number(process.env.BENCH_DURATION ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const CLK_TCK = 100;
/** BENCH_IDENTITIES=N: N users' tokens and API keys in a Zipf distribution instead of one token (bench/identities.ts). */
const IDENTITIES = Number(process.env.BENCH_IDENTITIES ?? 0);
/** What autocannon sends: one fixed request, or a request per user drawn from the Zipf sequence. */
type Load = Pick<autocannon.Options, 'headers' | 'requests'>;

const children: ChildProcess[] = [];
process.on('exit', () => children.forEach((c) => c.kill('SIGKILL')));

function start(
  cmd: string,
  args: string[],
  env: Record<string, string>,
  readyWhen: (line: string) => boolean,
): Promise<ChildProcess> {
  const child = spawn(cmd, args, { env: { PATH: process.env.PATH!, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    const onData = (c: Buffer) => {
      out += c.toString();
      if (out.split('\n').some(readyWhen)) resolve(child);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${out.slice(-500)}`)));
  });
}

const PROFILE_DIR = process.env.BENCH_PROFILE_DIR;
const node = (file: string, env: Record<string, string>, ready: (l: string) => boolean) =>
  start(
    process.execPath,
    [
      ...(PROFILE_DIR && (file.includes('main.ts') || file.includes('bare-proxy.ts'))
        ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`]
        : []),
      '--import',
      'tsx',
      file,
    ],
    env,
    ready,
  );

/** utime + stime of a process in microseconds (from /proc). */
function cpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[11]) + Number(f[12])) / CLK_TCK) * 1e6;
}

/** Busy time of the whole machine (all CPUs, everything but idle and iowait) in microseconds. */
function machineBusyMicros(): number {
  const f = readFileSync('/proc/stat', 'utf8').slice(0, 200).split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  return ((total - f[3]! - f[4]!) / CLK_TCK) * 1e6;
}

interface Result {
  name: string;
  rps: number;
  p50: number;
  p99: number;
  cpuUs: number;
  /** Redis and NATS together, per request. */
  storesUs: number;
  /** Every process of the machine (load generator, upstream, target, Redis, NATS, kernel), per request. */
  machineUs: number;
  non2xx: number;
  errors: number;
}

interface Target {
  readonly name: string;
  readonly url: string;
  readonly proc: ChildProcess;
}

async function measure(t: Target, load: Load, stores: ChildProcess[]): Promise<Result> {
  const storesCpu = () => stores.reduce((n, p) => n + cpuMicros(p.pid!), 0);
  const before = [cpuMicros(t.proc.pid!), storesCpu(), machineBusyMicros()] as const;
  const r = await autocannon({ url: t.url, connections: CONNECTIONS, duration: DURATION_S, ...load });
  const total = r.requests.total;
  return {
    name: t.name,
    rps: r.requests.average,
    p50: r.latency.p50,
    p99: r.latency.p99,
    cpuUs: (cpuMicros(t.proc.pid!) - before[0]) / total,
    storesUs: (storesCpu() - before[1]) / total,
    machineUs: (machineBusyMicros() - before[2]) / total,
    non2xx: r.non2xx,
    errors: r.errors + r.timeouts,
  };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function main() {
  const dir = tmpDir();
  const [upPort, bareP, redisPort, natsPort] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  const redis = await start(
    'redis-server',
    ['--port', String(redisPort), '--bind', '127.0.0.1', '--requirepass', 'bench', '--save', '', '--appendonly', 'no'],
    {},
    (l) => l.includes('Ready to accept connections'),
  );
  const nats = await start(
    'nats-server',
    ['-a', '127.0.0.1', '-p', String(natsPort), '-js', '-sd', `${dir}/nats`],
    {},
    (l) => l.includes('Server is ready'),
  );
  const upstream = await node('services/gateway/bench/upstream.ts', { PORT: String(upPort) }, (l) => l === 'ready');
  const origin = `http://127.0.0.1:${upPort}`;
  const bare = await node(
    'services/gateway/bench/bare-proxy.ts',
    { PORT: String(bareP), UPSTREAM: origin },
    (l) => l === 'ready',
  );

  const keys = await makeKeys(dir);
  // Every target gets the same request, bearer token included. Like auth's tokens it names its session,
  // so the gateway's script also checks the session's revocation.
  const headers = {
    authorization: `Bearer ${await token(keys, 'bench-user', { [ACCESS_TOKEN.sessionClaim]: 'bench-session' })}`,
  };
  const identities = IDENTITIES > 0 ? await makeIdentities(keys, IDENTITIES) : undefined;
  const seq = identities ? zipfSequence(IDENTITIES) : undefined;
  const load: Load = identities ? zipfRequests(identities.ids, seq!) : { headers };
  const gateway = async (
    name: string,
    tokenCacheSize: number,
    features: { events?: boolean; rateLimit?: boolean; limit?: [number, number]; otlp?: string } = {},
  ): Promise<Target> => {
    const [rate, burst] = features.limit ?? [10_000_000, 10_000_000];
    const env = await gatewayEnv({
      keys,
      routes: [route('bench', origin, { timeout_ms: 5_000 })],
      // Every request is checked (leased tokens, Redis when a lease runs out) but admitted.
      rateLimit: { enabled: features.rateLimit ?? true, requests_per_second: rate, burst, on_redis_failure: 'open' },
      auth: { token_cache_size: tokenCacheSize },
      // Each bench user has its own client address (X-Forwarded-For from this trusted proxy).
      server: { trusted_proxies: ['127.0.0.1'] },
      ...(identities ? { authGrpcPort: identities.authPort } : {}),
      events: { enabled: features.events ?? true, buffer_size: 10_000 },
      redis: { address: `127.0.0.1:${redisPort}`, password: 'bench' },
      natsUrl: `nats://127.0.0.1:${natsPort}`,
      env: {
        PRISM_LOG_LEVEL: 'info',
        ...(features.otlp ? { PRISM_OTLP_ENDPOINT: features.otlp, PRISM_TRACE_SAMPLE_RATIO: TRACING! } : {}),
      },
    });
    const proc = await node('services/gateway/src/main.ts', env, (l) => l.includes('gateway listening'));
    return { name, url: `http://127.0.0.1:${env.PRISM_HTTP_PORT}/api/bench/x`, proc };
  };

  const targets: Target[] = [
    { name: 'upstream direct', url: `${origin}/x`, proc: upstream },
    { name: 'bare Node proxy (undici)', url: `http://127.0.0.1:${bareP}/x`, proc: bare },
    await gateway(GATEWAY, 10_000),
  ];
  if (process.env.BENCH_BREAKDOWN) {
    // The design's floor: the bare proxy plus only the rate limiter's one script call per request.
    const floorPort = await freePort();
    const floor = await node(
      'services/gateway/bench/bare-proxy.ts',
      { PORT: String(floorPort), UPSTREAM: origin, REDIS_ADDRESS: `127.0.0.1:${redisPort}`, REDIS_PASSWORD: 'bench' },
      (l) => l === 'ready',
    );
    targets.push({
      name: 'bare proxy + rate-limit script call only',
      url: `http://127.0.0.1:${floorPort}/x`,
      proc: floor,
    });
    // Where the gateway's time goes: the same gateway with features switched off.
    targets.push(await gateway('gateway without events', 10_000, { events: false }));
    targets.push(await gateway('gateway without events and rate limit', 10_000, { events: false, rateLimit: false }));
  }
  if (!process.env.BENCH_ONLY_CACHED) targets.push(await gateway(NO_CACHE, 0));
  let sink: ChildProcess | undefined;
  if (TRACING) {
    // The full feature set: the same gateway with tracing on, spans exported over OTLP/HTTP.
    const sinkPort = await freePort();
    sink = await node('services/gateway/bench/otlp-sink.ts', { PORT: String(sinkPort) }, (l) => l === 'ready');
    targets.push(await gateway(TRACED, 10_000, { otlp: `http://127.0.0.1:${sinkPort}/v1/traces` }));
  }

  console.log(
    `gateway benchmark: ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), Node ${process.version}, ${CONNECTIONS} connections, ` +
      `${ROUNDS} rounds of ${DURATION_S} s per target, targets taking turns, autocannon in this process, ` +
      (IDENTITIES ? `${IDENTITIES} users (tokens and API keys, Zipf)` : 'one token'),
  );
  for (const t of targets) await autocannon({ url: t.url, connections: CONNECTIONS, duration: 1, ...load }); // warm-up (JIT, pools, caches)
  // Steady state: each gateway has seen every user once (tokens stay cached until they expire, API keys 30 s, so
  // later rounds validate some keys again, as a gateway in service does).
  if (identities)
    for (const t of targets.slice(2))
      await autocannon({ url: t.url, connections: CONNECTIONS, ...everyCredentialOnce(identities.ids) });
  const rounds: Result[][] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const round: Result[] = [];
    for (const t of targets) round.push(await measure(t, load, [redis, nats]));
    rounds.push(round);
    console.log(`round ${i + 1}: ${round.map((r) => `${r.name} ${r.rps.toFixed(0)}/s`).join(', ')}`);
  }
  // SIGTERM lets the proxies exit cleanly (and write their CPU profiles with BENCH_PROFILE_DIR).
  await Promise.all(targets.slice(1).map((t) => new Promise((r) => t.proc.once('exit', r).kill('SIGTERM'))));
  report(targets, rounds);
  if (sink) {
    // What the traced gateway exported (the gateways above flushed their spans as they stopped).
    let said = '';
    sink.stdout!.on('data', (c: Buffer) => (said += c.toString()));
    await new Promise((r) => sink.once('exit', r).kill('SIGTERM'));
    console.log(`  ${said.trim()}`);
  }
  if (identities) {
    // The bounds under the same traffic: two gateways with a limit the busiest users exceed.
    const [rate, burst] = [100, 20];
    const pair = [
      await gateway('bounds 1', 10_000, { limit: [rate, burst] }),
      await gateway('bounds 2', 10_000, { limit: [rate, burst] }),
    ];
    const b = await checkBounds(
      pair.map((t) => t.url),
      identities.ids,
      seq!,
      rate,
      burst,
      { redis: { address: `127.0.0.1:${redisPort}`, password: 'bench' }, natsUrl: `nats://127.0.0.1:${natsPort}` },
      CONNECTIONS,
      6,
    );
    console.log(`\nbounds under this load, two gateways, ${rate}/s burst ${burst} per bucket:`);
    console.log(
      `  busiest user's admissions in any 1 s window: ${b.worstWindow} (bound: ${b.allowed}) ${b.worstWindow <= b.allowed ? 'OK' : 'EXCEEDED'}`,
    );
    console.log(
      `  revoked session refused after: ${b.revocationMs.map((m) => `${m.toFixed(0)} ms`).join(', ')} (bound: 100 ms, plus a request's latency: p50 ${b.p50Ms} ms) ${b.revocationMs.every((m) => m <= 100 + b.p50Ms) ? 'OK' : 'EXCEEDED'}`,
    );
    await identities.close();
  }
  setTimeout(() => process.exit(0), 1_000);
}

const GATEWAY = 'gateway: JWT + Redis rate limit + events';
const NO_CACHE = 'gateway, every token verified (no token cache)';
/** BENCH_TRACING=<ratio>: adds the gateway with tracing on, this share of the requests traced. */
const TRACING = process.env.BENCH_TRACING;
const TRACED = `gateway + tracing (sample ratio ${TRACING}, OTLP)`;

/** Per target, the round with its median throughput; ratios are medians of the per-round ratios (each round's targets ran minutes apart at most). */
function report(targets: Target[], rounds: Result[][]) {
  const pad = (s: string, n: number) => s.padEnd(n);
  console.log(
    `\n${pad('target (median round)', 50)}${pad('req/s', 10)}${pad('p50 ms', 9)}${pad('p99 ms', 9)}${pad('CPU µs/req', 12)}${pad('Redis+NATS', 12)}${pad('machine', 10)}non-2xx/errors (all rounds)`,
  );
  for (let t = 0; t < targets.length; t++) {
    const mine = rounds.map((r) => r[t]!);
    const m = [...mine].sort((a, b) => a.rps - b.rps)[(mine.length - 1) >> 1]!;
    const bad = mine.reduce((n, r) => n + r.non2xx, 0) + '/' + mine.reduce((n, r) => n + r.errors, 0);
    console.log(
      `${pad(m.name, 50)}${pad(m.rps.toFixed(0), 10)}${pad(String(m.p50), 9)}${pad(String(m.p99), 9)}${pad(median(mine.map((r) => r.cpuUs)).toFixed(1), 12)}${pad(median(mine.map((r) => r.storesUs)).toFixed(1), 12)}${pad(median(mine.map((r) => r.machineUs)).toFixed(1), 10)}${bad}`,
    );
  }
  const idx = (name: string) => targets.findIndex((t) => t.name === name);
  const ratio = (name: string, f: (r: Result) => number) => {
    const i = idx(name);
    return i === -1 ? undefined : rounds.map((r) => f(r[i]!) / f(r[1]!));
  };
  const fmt = (xs: number[]) => `${median(xs).toFixed(2)} (rounds: ${xs.map((x) => x.toFixed(2)).join(', ')})`;
  console.log('\nratios against the bare Node proxy, median of the rounds:');
  console.log(`  gateway throughput: ${fmt(ratio(GATEWAY, (r) => r.rps)!)}; target >= 0.85`);
  console.log(
    `  gateway CPU per request: ${fmt(ratio(GATEWAY, (r) => r.cpuUs)!)}x; target <= 1.3x (${median(rounds.map((r) => r[idx(GATEWAY)]!.cpuUs)).toFixed(1)} µs)`,
  );
  console.log(
    `  machine CPU per request (all processes, kernel included): ${fmt(ratio(GATEWAY, (r) => r.machineUs)!)}x`,
  );
  const nc = ratio(NO_CACHE, (r) => r.rps);
  const floor = ratio('bare proxy + rate-limit script call only', (r) => r.rps);
  if (floor) console.log(`  bare proxy + rate-limit script call only (the design's ceiling): throughput ${fmt(floor)}`);
  if (nc)
    console.log(
      `  without token cache: throughput ${fmt(nc)}, CPU ${median(rounds.map((r) => r[idx(NO_CACHE)]!.cpuUs)).toFixed(1)} µs`,
    );
  const traced = ratio(TRACED, (r) => r.rps);
  if (traced)
    console.log(
      `  with tracing: throughput ${fmt(traced)}; CPU per request ${fmt(ratio(TRACED, (r) => r.cpuUs)!)}x (targets as above)`,
    );
  console.log(
    '\nCPU µs/req: the measured process (utime + stime from /proc); Redis+NATS: those two servers; machine: every',
  );
  console.log(
    'process and the kernel (from /proc/stat), the load generator included. Throughput is bounded by the machine column.',
  );
  const bad = targets.filter((_, t) => rounds.some((r) => r[t]!.non2xx + r[t]!.errors > 0));
  if (bad.length) console.log(`\nWARNING: non-2xx or errors in: ${bad.map((t) => t.name).join(', ')}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
