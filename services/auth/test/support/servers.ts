import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chownSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitFor } from '../../../runtime/test/support/net.js';

/**
 * Private servers for tests that stop and restart a dependency (the shared test servers must
 * never be stopped). Each listens on a free port on 127.0.0.1 and keeps its data across restarts.
 */

export interface PrivateServer {
  readonly port: number;
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops for good and removes nothing shared. */
  destroy(): Promise<void>;
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve())));
}

async function tcpOpen(port: number): Promise<boolean> {
  const { connect } = await import('node:net');
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

/** nats-server with JetStream and a file store that survives restarts. */
export async function privateNats(): Promise<PrivateServer & { url: string }> {
  const port = await freePort();
  const store = mkdtempSync(join(tmpdir(), 'prism-auth-nats-'));
  let child: ChildProcess | undefined;
  const server = {
    port,
    url: `nats://127.0.0.1:${port}`,
    async start() {
      child = spawn('nats-server', ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', store], { stdio: 'ignore' });
      await waitFor('nats-server', () => tcpOpen(port));
    },
    async stop() {
      if (!child) return;
      const c = child;
      child = undefined;
      c.kill('SIGTERM');
      await exited(c);
    },
    async destroy() {
      await server.stop();
    },
  };
  await server.start();
  return server;
}

/** redis-server with a password and no persistence. */
export async function privateRedis(password: string): Promise<PrivateServer & { address: string }> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  const server = {
    port,
    address: `127.0.0.1:${port}`,
    async start() {
      child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--requirepass', password, '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
      await waitFor('redis-server', () => tcpOpen(port));
    },
    async stop() {
      if (!child) return;
      const c = child;
      child = undefined;
      c.kill('SIGKILL');
      await exited(c);
    },
    async destroy() {
      await server.stop();
    },
  };
  await server.start();
  return server;
}

/**
 * A PostgreSQL cluster of its own (initdb, then pg_ctl). PostgreSQL refuses to run as root,
 * so as root it runs as the postgres user with a data directory owned by it.
 */
export async function privatePostgres(password: string): Promise<PrivateServer & { url: (db?: string) => string }> {
  const bin = process.env.PRISM_TEST_PG_BIN;
  if (!bin) throw new Error('PRISM_TEST_PG_BIN is not set: run the tests through vitest (global set-up)');
  const port = await freePort();
  const root = mkdtempSync(join(tmpdir(), 'prism-auth-pg-'));
  const data = join(root, 'data');
  const pwfile = join(root, 'pw');
  writeFileSync(pwfile, `${password}\n`);
  const asRoot = process.getuid?.() === 0;
  const run = (cmd: string, args: string[]) =>
    execFileSync(asRoot ? 'runuser' : cmd, asRoot ? ['-u', 'postgres', '--', cmd, ...args] : args, { stdio: ['ignore', 'pipe', 'pipe'] });
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString());
    chownSync(root, uid, gid);
    chownSync(pwfile, uid, gid);
  }
  run(join(bin, 'initdb'), ['-D', data, '-U', 'prism', `--pwfile=${pwfile}`, '-A', 'scram-sha-256']);
  const server = {
    port,
    url: (db = 'postgres') => `postgres://prism:${password}@127.0.0.1:${port}/${db}`,
    async start() {
      run(join(bin, 'pg_ctl'), ['-D', data, '-l', join(root, 'server.log'), '-w', '-o', `-h 127.0.0.1 -p ${port} -k ${root} -c fsync=off`, 'start']);
    },
    async stop() {
      run(join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop']);
    },
    async destroy() {
      try {
        await server.stop();
      } catch {
        /* already stopped */
      }
    },
  };
  await server.start();
  return server;
}
