import { spawn } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync } from 'node:fs';

/**
 * The local platform's processes: each runs detached in its own process group (so a stop reaches
 * every child it forks, and the `up` command can exit while they keep running), with stdout and
 * stderr appended to its log file. A process is identified by pid and start time, so a stop never
 * signals an unrelated process that happens to reuse a recorded pid.
 */

export interface ProcessSpec {
  /** Name shown in progress, status and `local:logs` (for example `gateway-1`). */
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly cwd: string;
  readonly logFile: string;
  /** Signal that asks for a graceful stop (PostgreSQL: SIGINT, its "fast" shutdown). @default SIGTERM */
  readonly stopSignal?: NodeJS.Signals;
  /** How long a graceful stop may take before SIGKILL. */
  readonly stopTimeoutMs: number;
  /** Run as this uid/gid (PostgreSQL refuses root). */
  readonly user?: { readonly uid: number; readonly gid: number };
}

export interface RunningProcess {
  readonly name: string;
  readonly pid: number;
  /** Start time in clock ticks since boot (/proc/<pid>/stat field 22). */
  readonly startTicks: number;
  readonly stopSignal: NodeJS.Signals;
  readonly stopTimeoutMs: number;
  readonly logFile: string;
}

function startTicks(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count fields after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(rest[19]);
  } catch {
    return undefined;
  }
}

/** Spawns the process in its own group; resolves once it has started (rejects if it cannot be executed). */
export function startProcess(spec: ProcessSpec): Promise<RunningProcess> {
  const fd = openSync(spec.logFile, 'a', 0o600);
  try {
    const child = spawn(spec.command, spec.args, {
      cwd: spec.cwd,
      env: spec.env,
      detached: true,
      stdio: ['ignore', fd, fd],
      ...(spec.user ? { uid: spec.user.uid, gid: spec.user.gid } : {}),
    });
    return new Promise((resolve, reject) => {
      child.once('error', (e) => reject(new Error(`${spec.name}: cannot start ${spec.command}: ${e.message}`)));
      child.once('spawn', () => {
        child.unref();
        resolve({
          name: spec.name,
          pid: child.pid!,
          startTicks: startTicks(child.pid!) ?? 0,
          stopSignal: spec.stopSignal ?? 'SIGTERM',
          stopTimeoutMs: spec.stopTimeoutMs,
          logFile: spec.logFile,
        });
      });
    });
  } finally {
    closeSync(fd);
  }
}

/** The process is still the one that was started (same pid and start time) and has not exited. */
export function isAlive(p: RunningProcess): boolean {
  const ticks = startTicks(p.pid);
  if (ticks === undefined || ticks !== p.startTicks) return false;
  // A zombie (exited, not yet reaped by a parent that is still us) counts as stopped.
  try {
    const state = readFileSync(`/proc/${p.pid}/stat`, 'utf8');
    return state.slice(state.lastIndexOf(')') + 2, state.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/**
 * Members of the process group still running (the leader may exit before a forked child). Zombies
 * do not count: an exited child of the process that started it (a test) lingers until reaped.
 */
function groupAlive(pgid: number): boolean {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(rest[2]) === pgid && rest[0] !== 'Z') return true;
    } catch {
      /* exited meanwhile */
    }
  }
  return false;
}

export interface StopResult {
  readonly name: string;
  readonly outcome: 'stopped' | 'killed' | 'not running';
  readonly ms: number;
}

/**
 * Sends the stop signal to the process group, waits for the whole group to exit, and kills
 * what is left after the timeout.
 */
export async function stopProcess(p: RunningProcess): Promise<StopResult> {
  const t0 = Date.now();
  if (!isAlive(p) && !groupAlive(p.pid)) return { name: p.name, outcome: 'not running', ms: 0 };
  // The group id is the leader's pid (spawned detached). A group outlives its leader while a member
  // runs, and its id cannot be reused meanwhile, so signalling it reaches only what we started.
  try {
    process.kill(-p.pid, p.stopSignal);
  } catch {
    /* exited meanwhile */
  }
  const until = t0 + p.stopTimeoutMs;
  while (Date.now() < until) {
    if (!groupAlive(p.pid)) return { name: p.name, outcome: 'stopped', ms: Date.now() - t0 };
    await new Promise((r) => setTimeout(r, 50));
  }
  try {
    process.kill(-p.pid, 'SIGKILL');
  } catch {
    /* exited meanwhile */
  }
  while (groupAlive(p.pid) && Date.now() < until + 5_000) await new Promise((r) => setTimeout(r, 50));
  return { name: p.name, outcome: 'killed', ms: Date.now() - t0 };
}
