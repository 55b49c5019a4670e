import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { attachContext, type PlatformContext, type PlatformState } from './context.js';
import {
  startModelJaeger,
  startModelMinio,
  startModelNats,
  startModelPostgres,
  startModelRedis,
} from './data-stores.js';
import { Launcher, LocalPlatformError, readState } from './launcher.js';
import type { Layout } from './layout.js';
import { isAlive, startProcess, stopProcess, type RunningProcess } from './processes.js';
import { ECHO } from './render.js';
import { startEcho, startService } from './services.js';

/**
 * The local platform's supervisor: a detached process (started by `up`, stopped first by `down`) that
 * restarts a process of the platform when it dies, with back-off (1 s, doubling to at most 30 s; back to
 * 1 s once the process has stayed up a minute), counts restarts in the state file (`local:status` shows
 * them), carries out `local:restart` requests (a file per process under run/supervisor/), and holds a
 * process stopped while a `hold-<process>` file is there (the DB manager's `restore --apply`).
 */

const FIRST_DELAY_MS = 1_000;
const MAX_DELAY_MS = 30_000;
const STABLE_MS = 60_000;
const TICK_MS = 300;

/** Starts one process of the platform again, as `up` started it (same ports, files and readiness probe). */
function startByName(pc: PlatformContext, launcher: Launcher<PlatformState>, name: string): Promise<void> {
  if (name === 'postgres-auth') return startModelPostgres(pc, launcher, 'auth');
  if (name === 'postgres-ops') return startModelPostgres(pc, launcher, 'ops');
  if (name === 'redis') return startModelRedis(pc, launcher);
  if (name === 'nats') return startModelNats(pc, launcher);
  if (name === 'minio') return startModelMinio(pc, launcher);
  if (name === 'jaeger') return startModelJaeger(pc, launcher);
  if (name === ECHO) return startEcho(pc, launcher);
  if (name === 'dbmanager' || name === 'config' || name === 'auth') return startService(pc, launcher, name);
  if (/^gateway-\d+$/.test(name)) return startService(pc, launcher, 'gateway', name);
  throw new LocalPlatformError(`no such process: ${name}`);
}

const requestDir = (l: Layout) => l.run('supervisor');
const requestFile = (l: Layout, name: string) => join(requestDir(l), `restart-${name}`);
const resultFile = (l: Layout, name: string) => join(requestDir(l), `restart-${name}.result`);
// The protocol of the DB manager's supervisorControl (services/dbmanager/src/backup/server-control.ts).
const holdFile = (l: Layout, name: string) => join(requestDir(l), `hold-${name}`);
const heldFile = (l: Layout, name: string) => join(requestDir(l), `held-${name}`);

interface Backoff {
  failures: number;
  /** When the next attempt may start (set when the death is noticed). */
  next?: number;
  /** When it was last started by us. */
  startedAt: number;
}

const log = (s: string) => process.stdout.write(`${new Date().toISOString()} ${s}\n`);

export async function supervise(repoRoot: string, l: Layout): Promise<void> {
  let stopping = false;
  // A stop cuts a restart's readiness wait short; what it started is recorded already, and `down` stops it.
  const abort = new AbortController();
  for (const sig of ['SIGTERM', 'SIGINT'] as const) process.on(sig, () => ((stopping = true), abort.abort()));
  const backoff = new Map<string, Backoff>();
  mkdirSync(requestDir(l), { recursive: true, mode: 0o700 });
  log(`supervising the platform in ${l.root}`);
  while (!stopping) {
    const state = readState<PlatformState>(l.state);
    if (!state) break; // the platform is gone
    const pc = attachContext(repoRoot, l, state);
    const launcher = new Launcher<PlatformState>(l.state, state, abort.signal);
    const restart = async (p: RunningProcess, why: string): Promise<void> => {
      log(`${p.name}: ${why}; starting it again`);
      state.restarts = { ...state.restarts, [p.name]: (state.restarts?.[p.name] ?? 0) + 1 };
      try {
        await startByName(pc, launcher, p.name);
        log(`${p.name}: running again (pid ${state.processes.find((x) => x.name === p.name)?.pid})`);
      } catch (e) {
        // Half-started (not ready): stop it, so the next attempt starts clean.
        const now = state.processes.find((x) => x.name === p.name);
        if (now && !stopping) await stopProcess(now);
        launcher.save();
        throw e;
      }
    };
    for (const p of [...state.processes]) {
      if (stopping) break;
      if (existsSync(requestFile(l, p.name))) {
        rmSync(requestFile(l, p.name));
        const t0 = Date.now();
        let result: string;
        try {
          await stopProcess(p);
          await restart(p, 'restart requested');
          backoff.set(p.name, { failures: 0, startedAt: Date.now() });
          result = `ok ${Date.now() - t0}`;
        } catch (e) {
          result = `failed ${(e as Error).message}`;
        }
        writeFileSync(resultFile(l, p.name), result);
        continue;
      }
      // A hold (the DB manager's restore --apply swapping a data directory): stopped, and kept stopped.
      if (existsSync(holdFile(l, p.name))) {
        if (isAlive(p)) {
          log(`${p.name}: held; stopping it until the hold is released`);
          await stopProcess(p);
        }
        writeFileSync(heldFile(l, p.name), '');
        continue;
      }
      if (existsSync(heldFile(l, p.name))) {
        await restart(p, 'hold released').catch((e: Error) =>
          log(`${p.name}: start after the hold failed: ${e.message.split('\n')[0]}`),
        );
        rmSync(heldFile(l, p.name));
        backoff.set(p.name, { failures: 0, startedAt: Date.now() });
        continue;
      }
      const b = backoff.get(p.name) ?? { failures: 0, startedAt: Date.now() };
      backoff.set(p.name, b);
      if (isAlive(p)) {
        if (b.failures > 0 && Date.now() - b.startedAt > STABLE_MS) b.failures = 0;
        continue;
      }
      const delay = Math.min(FIRST_DELAY_MS * 2 ** b.failures, MAX_DELAY_MS);
      if (b.next === undefined) {
        b.next = Date.now() + delay;
        log(`${p.name}: exited (pid ${p.pid}); restart in ${delay / 1000} s`);
      }
      if (Date.now() < b.next) continue;
      b.next = undefined;
      b.failures++;
      b.startedAt = Date.now();
      await restart(p, 'exited').catch((e: Error) => log(`${p.name}: restart failed: ${e.message.split('\n')[0]}`));
    }
    await new Promise((r) => setTimeout(r, TICK_MS));
  }
  log('supervisor stopped');
}

/** Starts the supervisor of a platform whose processes are all running; records it in the state. */
export async function startSupervisor(repoRoot: string, l: Layout, state: PlatformState): Promise<RunningProcess> {
  const p = await startProcess({
    name: 'supervisor',
    command: process.execPath,
    args: ['--import', 'tsx', 'infra/local-platform/supervisor-main.ts', l.root],
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', LANG: 'C.UTF-8' },
    cwd: repoRoot,
    logFile: l.log('supervisor'),
    stopTimeoutMs: 10_000,
  });
  state.supervisor = p;
  return p;
}

/**
 * Asks the supervisor to restart one process (stop, start, wait until ready) and waits for the outcome.
 * Resolves with the time it took.
 */
export async function requestRestart(l: Layout, name: string, timeoutMs = 200_000): Promise<number> {
  const state = readState<PlatformState>(l.state);
  if (!state) throw new LocalPlatformError(`no local platform in ${l.root}; start it with npm run local:up`);
  if (!state.processes.some((p) => p.name === name))
    throw new LocalPlatformError(`no process ${name}; one of: ${state.processes.map((p) => p.name).join(', ')}`);
  if (!state.supervisor || !isAlive(state.supervisor))
    throw new LocalPlatformError(
      'the platform has no running supervisor; stop it (npm run local:down) and start it again',
    );
  rmSync(resultFile(l, name), { force: true });
  writeFileSync(requestFile(l, name), '');
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (existsSync(resultFile(l, name))) {
      const result = readFileSync(resultFile(l, name), 'utf8');
      rmSync(resultFile(l, name), { force: true });
      if (result.startsWith('ok ')) return Number(result.slice(3));
      throw new LocalPlatformError(`${name} could not be restarted: ${result.replace(/^failed /, '')}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new LocalPlatformError(
    `${name}: no answer from the supervisor within ${timeoutMs / 1000} s (see npm run local:logs -- supervisor)`,
  );
}
