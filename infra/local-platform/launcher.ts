import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { writeFileAtomic } from '../local/files.js';
import {
  isAlive,
  startProcess,
  stopProcess,
  type ProcessSpec,
  type RunningProcess,
  type StopResult,
} from './processes.js';

/**
 * Starts local servers and records each in a state file as it starts (so whatever stops them, a
 * `down`, an interrupted `up` or the test set-up's teardown, finds every one), then waits for its
 * readiness probe. The local platform and the test servers both start theirs through this.
 */

export class LocalPlatformError extends Error {
  override readonly name = 'LocalPlatformError';
}

/** `component/port` → local port. Gateway instances are `gateway-<n>`. */
export type PortMap = Readonly<Record<string, number>>;

/** What a state file records: the ports chosen and every process started (pid and start time). */
export interface ProcessState {
  readonly dir: string;
  readonly ports: PortMap;
  readonly processes: RunningProcess[];
}

/** Thrown when a start is interrupted (Ctrl-C, SIGTERM). */
class InterruptedError extends LocalPlatformError {
  constructor() {
    super('interrupted');
  }
}

export function throwIfInterrupted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new InterruptedError();
}

export function readState<S extends ProcessState>(file: string): S | undefined {
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as S) : undefined;
}

function writeState(file: string, s: ProcessState): void {
  writeFileAtomic(file, `${JSON.stringify(s, null, 2)}\n`, 0o600);
}

function logTail(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

export type Probe = () => Promise<boolean>;

/** Polls `check` until it answers true; fails when the process exits first or after the timeout, with the end of its log. */
async function waitReady(p: RunningProcess, check: Probe, timeoutMs = 120_000, signal?: AbortSignal): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    throwIfInterrupted(signal);
    if (!isAlive(p))
      throw new LocalPlatformError(`${p.name} exited during start-up; the end of ${p.logFile}:\n${logTail(p.logFile)}`);
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new LocalPlatformError(
    `${p.name} not ready after ${timeoutMs / 1000} s; the end of ${p.logFile}:\n${logTail(p.logFile)}`,
  );
}

export class Launcher<S extends ProcessState = ProcessState> {
  constructor(
    private readonly stateFile: string,
    readonly state: S,
    /** Aborts every start (waits and tasks) when it fires. */
    readonly signal?: AbortSignal,
  ) {
    writeState(stateFile, state);
  }

  /** Starts the process, records it (in place of a dead one of the same name), and waits until `ready` answers true. */
  async launch(spec: ProcessSpec, ready: Probe, timeoutMs?: number): Promise<RunningProcess> {
    throwIfInterrupted(this.signal);
    const p = await startProcess(spec);
    const i = this.state.processes.findIndex((x) => x.name === p.name);
    if (i >= 0) this.state.processes[i] = p;
    else this.state.processes.push(p);
    this.save();
    await waitReady(p, ready, timeoutMs, this.signal);
    return p;
  }

  save(): void {
    writeState(this.stateFile, this.state);
  }
}

/**
 * Stops in reverse start order, one wave after another (lower waves first; the local platform stops
 * its gateways, then the services, then the data stores); processes of one wave stop together.
 */
export async function stopAll(
  processes: readonly RunningProcess[],
  wave: (p: RunningProcess) => number = () => 0,
): Promise<StopResult[]> {
  const results: StopResult[] = [];
  const order = [...processes].reverse();
  const waves = [...new Set(order.map(wave))].sort((a, b) => a - b);
  for (const w of waves) results.push(...(await Promise.all(order.filter((p) => wave(p) === w).map(stopProcess))));
  return results;
}

export function anyAlive(state: ProcessState | undefined): boolean {
  return !!state?.processes.some(isAlive);
}

export interface TaskOptions {
  readonly env: Record<string, string>;
  readonly cwd: string;
  readonly log: string;
  readonly user?: { uid: number; gid: number } | undefined;
  /** Kills the task when it fires. */
  readonly signal?: AbortSignal | undefined;
}

/** Runs a one-shot command to completion (a task); its output is appended to its log file. */
export function runTask(name: string, command: string, args: readonly string[], o: TaskOptions): Promise<void> {
  return new Promise((res, rej) => {
    const out: Buffer[] = [];
    if (o.signal?.aborted) return rej(new InterruptedError());
    const child = spawn(command, args, {
      cwd: o.cwd,
      env: o.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(o.user ? { uid: o.user.uid, gid: o.user.gid } : {}),
      ...(o.signal ? { signal: o.signal } : {}),
    });
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => out.push(d));
    child.once('error', (e) =>
      rej(
        o.signal?.aborted
          ? new InterruptedError()
          : new LocalPlatformError(`${name}: cannot run ${command}: ${e.message}`),
      ),
    );
    child.once('close', (code) => {
      writeFileSync(o.log, Buffer.concat(out), { flag: 'a', mode: 0o600 });
      if (o.signal?.aborted) rej(new InterruptedError());
      else if (code === 0) res();
      else
        rej(
          new LocalPlatformError(
            `${name} failed (exit ${code}):\n${Buffer.concat(out).toString().trimEnd().split('\n').slice(-15).join('\n')}`,
          ),
        );
    });
  });
}

/** Like Promise.all, but waits for every step to settle first, so nothing starts after a failure is handled. */
export async function allSettled(steps: readonly Promise<unknown>[]): Promise<void> {
  const results = await Promise.allSettled(steps);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}
