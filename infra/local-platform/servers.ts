import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import type { ConnectionOptions } from 'node:tls';
import { LocalPlatformError, runTask, type Launcher } from './launcher.js';
import { HOST, httpOk, postgresReady, redisPing } from './probes.js';
import type { RunningProcess } from './processes.js';

/**
 * The four servers, as local processes on 127.0.0.1: what both the local platform (with the model's
 * settings) and the test servers (with the tests') start. Each function prepares the server's files,
 * launches it and returns once it answers its readiness probe.
 */

interface ServerBase {
  /** Process name (state, logs, status). */
  readonly name: string;
  readonly logFile: string;
  readonly stopTimeoutMs: number;
  readonly env: Readonly<Record<string, string>>;
}

const asRoot = process.getuid?.() === 0;

/** The uid and gid PostgreSQL runs as when we are root (it refuses root). */
function postgresUser(): { uid: number; gid: number } | undefined {
  if (!asRoot) return undefined;
  try {
    return {
      uid: Number(execFileSync('id', ['-u', 'postgres']).toString().trim()),
      gid: Number(execFileSync('id', ['-g', 'postgres']).toString().trim()),
    };
  } catch {
    throw new LocalPlatformError(
      'running as root, PostgreSQL needs a `postgres` user to run as (sudo apt-get install postgresql creates it)',
    );
  }
}

export interface PostgresServer extends ServerBase {
  readonly pgBin: string;
  readonly data: string;
  readonly socketDir: string;
  readonly port: number;
  readonly superuser: string;
  readonly password: string;
  /** Server options besides the data directory, address and socket (`-c port=...` among them). */
  readonly args: readonly string[];
  /** SIGINT: "fast" shutdown; SIGQUIT: "immediate" (a throw-away cluster). */
  readonly stopSignal: 'SIGINT' | 'SIGQUIT';
  /** A database to create when missing. */
  readonly database?: string;
  /** The readiness probe's TLS (a server with `ssl=on` and a hostssl-only pg_hba.conf). */
  readonly ssl?: ConnectionOptions;
  /**
   * Files copied for the server's user alone (0600) before it starts: its TLS key and certificate, which
   * PostgreSQL refuses when others may read the key, and which it could not reach in a 0700 directory of ours.
   */
  readonly privateFiles?: readonly { readonly from: string; readonly to: string }[];
}

export async function startPostgres(launcher: Launcher, o: PostgresServer): Promise<RunningProcess> {
  const user = postgresUser();
  mkdirSync(o.socketDir, { recursive: true, mode: 0o700 });
  if (!existsSync(join(o.data, 'PG_VERSION'))) {
    rmSync(o.data, { recursive: true, force: true });
    mkdirSync(o.data, { recursive: true, mode: 0o700 });
    const pw = join(o.socketDir, 'pwfile');
    writeFileSync(pw, `${o.password}\n`, { mode: 0o600 });
    if (user) for (const p of [o.data, o.socketDir, pw]) chownSync(p, user.uid, user.gid);
    await runTask(
      `initdb ${o.name}`,
      join(o.pgBin, 'initdb'),
      ['-D', o.data, '-U', o.superuser, `--pwfile=${pw}`, '-A', 'scram-sha-256', '--no-instructions'],
      {
        env: { ...o.env },
        cwd: '/',
        log: o.logFile,
        user,
        signal: launcher.signal,
      },
    );
    rmSync(pw);
  } else if (user) {
    chownSync(o.socketDir, user.uid, user.gid);
  }
  for (const f of o.privateFiles ?? []) {
    copyFileSync(f.from, f.to);
    chmodSync(f.to, 0o600);
    if (user) chownSync(f.to, user.uid, user.gid);
  }
  return launcher.launch(
    {
      name: o.name,
      command: join(o.pgBin, 'postgres'),
      args: ['-D', o.data, ...o.args, '-c', `listen_addresses=${HOST}`, '-c', `unix_socket_directories=${o.socketDir}`],
      env: { ...o.env, PGDATA: o.data },
      cwd: o.data,
      logFile: o.logFile,
      stopSignal: o.stopSignal,
      stopTimeoutMs: o.stopTimeoutMs,
      ...(user ? { user } : {}),
    },
    () =>
      postgresReady(
        { port: o.port, user: o.superuser, password: o.password, ...(o.ssl ? { ssl: o.ssl } : {}) },
        o.database,
      ),
  );
}

export interface RedisServer extends ServerBase {
  readonly redisServer: string;
  readonly port: number;
  /** The password of `requirepass`, or, with `acl`, of the user `user` the readiness probe logs in as. */
  readonly password: string;
  /** ACL `user …` lines instead of `requirepass` (the model's users, with their passwords). */
  readonly acl?: readonly string[];
  readonly user?: string;
  /** Holds the private config file (with the password) and is the working directory. */
  readonly runDir: string;
  readonly dataDir: string;
  /** A config file to include first (the model's). */
  readonly include?: string;
  /** Further config lines (`save ""`). */
  readonly settings?: readonly string[];
}

export async function startRedis(launcher: Launcher, o: RedisServer): Promise<RunningProcess> {
  mkdirSync(o.runDir, { recursive: true, mode: 0o700 });
  mkdirSync(o.dataDir, { recursive: true, mode: 0o700 });
  // The passwords go in a private file, never on the command line (the process list shows that).
  // Later lines win over the included file.
  const privateConf = join(o.runDir, 'redis.local.conf');
  const lines = [
    ...(o.include ? [`include ${o.include}`] : []),
    `port ${o.port}`,
    `bind ${HOST}`,
    ...(o.acl ?? [`requirepass ${o.password}`]),
    ...(o.settings ?? []),
    '',
  ];
  writeFileSync(privateConf, lines.join('\n'), { mode: 0o600 });
  return launcher.launch(
    {
      name: o.name,
      command: o.redisServer,
      args: [privateConf],
      env: o.env,
      cwd: o.dataDir,
      logFile: o.logFile,
      stopTimeoutMs: o.stopTimeoutMs,
    },
    () => redisPing(o.port, o.password, o.user),
  );
}

export interface NatsServer extends ServerBase {
  readonly natsServer: string;
  readonly clientPort: number;
  readonly monitorPort: number;
  /** The configuration: `--config FILE`, or `-js -sd DIR`. */
  readonly args: readonly string[];
  readonly dataDir: string;
  /** The monitor endpoint that answers 2xx when ready. */
  readonly readyPath: string;
}

export async function startNats(launcher: Launcher, o: NatsServer): Promise<RunningProcess> {
  mkdirSync(o.dataDir, { recursive: true, mode: 0o700 });
  // Command-line options win over a config file: local address and ports.
  const args = [...o.args, '-a', HOST, '-p', String(o.clientPort), '-m', String(o.monitorPort)];
  return launcher.launch(
    {
      name: o.name,
      command: o.natsServer,
      args,
      env: o.env,
      cwd: o.dataDir,
      logFile: o.logFile,
      stopTimeoutMs: o.stopTimeoutMs,
    },
    () => httpOk(`http://${HOST}:${o.monitorPort}${o.readyPath}`),
  );
}

export interface MinioServer extends ServerBase {
  readonly minio: string;
  readonly dataDir: string;
  readonly certsDir: string;
  readonly apiPort: number;
  readonly consolePort: number;
  readonly readyPath: string;
}

export async function startMinio(launcher: Launcher, o: MinioServer): Promise<RunningProcess> {
  mkdirSync(o.dataDir, { recursive: true, mode: 0o700 });
  mkdirSync(o.certsDir, { recursive: true, mode: 0o700 });
  const args = [
    'server',
    o.dataDir,
    '--address',
    `${HOST}:${o.apiPort}`,
    '--console-address',
    `${HOST}:${o.consolePort}`,
    '--certs-dir',
    o.certsDir,
  ];
  return launcher.launch(
    {
      name: o.name,
      command: o.minio,
      args,
      env: o.env,
      cwd: o.dataDir,
      logFile: o.logFile,
      stopTimeoutMs: o.stopTimeoutMs,
    },
    () => httpOk(`http://${HOST}:${o.apiPort}${o.readyPath}`),
  );
}
