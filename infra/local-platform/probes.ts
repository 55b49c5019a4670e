import { request } from 'node:http';
import { connect } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import pg from 'pg';

/** Readiness probes of local servers: each answers true or false, never throws. */

export const HOST = '127.0.0.1';

export function tcpOpen(port: number, host = HOST): Promise<boolean> {
  return new Promise((res) => {
    const s = connect(port, host);
    s.once('connect', () => (s.destroy(), res(true)));
    s.once('error', () => res(false));
  });
}

/** A 2xx answer to a GET. */
export function httpOk(url: string): Promise<boolean> {
  return new Promise((res) => {
    const req = request(url, { timeout: 2_000 }, (r) => {
      r.resume();
      res((r.statusCode ?? 500) < 300);
    });
    req.on('error', () => res(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

/** AUTH (as `user` when given) then PING over RESP: true on PONG. */
export function redisPing(port: number, password: string, user?: string): Promise<boolean> {
  return new Promise((res) => {
    const s = connect(port, HOST);
    let buf = '';
    s.setTimeout(2_000, () => {
      s.destroy();
      res(false);
    });
    const bulk = (v: string) => `$${Buffer.byteLength(v)}\r\n${v}\r\n`;
    const auth = user
      ? `*3\r\n${bulk('AUTH')}${bulk(user)}${bulk(password)}`
      : `*2\r\n${bulk('AUTH')}${bulk(password)}`;
    s.on('connect', () => s.write(`${auth}*1\r\n${bulk('PING')}`));
    s.on('data', (d) => {
      buf += d.toString();
      if (!buf.includes('+PONG') && !buf.startsWith('-')) return;
      s.destroy();
      res(buf.includes('+PONG'));
    });
    s.on('error', () => res(false));
  });
}

export interface PostgresLogin {
  readonly port: number;
  readonly user: string;
  readonly password: string;
  /** TLS to a server that admits TCP over TLS only (the model's); plaintext when absent. */
  readonly ssl?: ConnectionOptions;
}

/** Logs in to the `postgres` database; creates `database` when given and missing (a fresh cluster has only postgres). */
export async function postgresReady(login: PostgresLogin, database?: string): Promise<boolean> {
  const client = new pg.Client({
    host: HOST,
    port: login.port,
    user: login.user,
    password: login.password,
    ...(login.ssl ? { ssl: login.ssl } : {}),
    database: 'postgres',
    connectionTimeoutMillis: 2_000,
  });
  try {
    await client.connect();
    if (database) {
      const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
      if (!rowCount) await client.query(`CREATE DATABASE "${database.replace(/"/g, '')}"`);
    }
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}
