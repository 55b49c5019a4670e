import { execFile } from 'node:child_process';
import { chmod, copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgTlsEnv } from '#contract';
import { foreignCertificate, issueFromLocalCa } from '#infra/local/mtls-pki';
import { pgHbaConf } from '#infra/model/files/postgres';
import { pgClientSsl } from '#runtime';
import { ownedByPostgres, pgServerTls } from '#test/support/pg-tls';
import { type PrivatePostgres, asPostgres, pgBin, privatePostgres } from '#test/support/private-servers';

/**
 * TLS to PostgreSQL, attacked on a real server configured from the contract (ssl=on, TLS 1.2+,
 * pg_hba hostssl-only): a plaintext client is refused, and a client with the services' settings
 * (verify-full, the mesh CA) refuses an impostor server — a foreign CA's certificate, or the right CA's
 * for another host — before it sends the password. The server's pg_hba.conf is the model's. libpq programs (backups) connect with the same env.
 */
const exec = promisify(execFile);

describe('PostgreSQL over TLS (real server, verify-full with the mesh CA)', () => {
  let server: PrivatePostgres;
  let dir: string;
  let meshCa: string;
  let live: { cert: string; key: string };
  let pkiDir: string;

  /** Puts `files` in place as the server's certificate and reloads (PostgreSQL re-reads TLS files on SIGHUP). */
  const present = async (files: { cert: string; key: string }) => {
    await copyFile(files.cert, live.cert);
    await copyFile(files.key, live.key);
    await chmod(live.key, 0o600);
    await ownedByPostgres(join(dir, 'live'));
    await asPostgres('pg_ctl', ['-D', server.dataDir, 'reload']);
    await new Promise((r) => setTimeout(r, 500));
  };
  let rightFiles: () => { cert: string; key: string };

  const client = (ssl: pg.ClientConfig['ssl']) =>
    new pg.Client({
      host: '127.0.0.1',
      port: server.port,
      user: 'prism',
      password: server.password,
      database: 'postgres',
      ssl,
      connectionTimeoutMillis: 5_000,
    });
  const verifyFull = () => pgClientSsl('127.0.0.1', pgTlsEnv(meshCa));
  const libpq = (program: string, args: string[], env: NodeJS.ProcessEnv) =>
    exec(join(pgBin(), program), ['-h', '127.0.0.1', '-p', String(server.port), '-U', 'prism', ...args], {
      env: { ...process.env, PGPASSWORD: server.password, ...env },
    });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'prism-pgtls-'));
    const tls = await pgServerTls(dir);
    meshCa = tls.ca;
    pkiDir = tls.pkiDir;
    live = tls.live;
    rightFiles = () => tls.issued;
    server = await privatePostgres(tls.options);
    // The model's own pg_hba.conf (prism is the replication user here).
    await writeFile(join(server.dataDir, 'pg_hba.conf'), pgHbaConf('prism'));
    await ownedByPostgres(server.dataDir);
    await asPostgres('pg_ctl', ['-D', server.dataDir, 'reload']);
    await new Promise((r) => setTimeout(r, 500));
  }, 60_000);

  afterAll(async () => {
    await server?.dispose();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('the server speaks TLS 1.2+ only and a verify-full client with the mesh CA gets in', async () => {
    const c = client(verifyFull());
    await c.connect();
    try {
      const { rows } = await c.query<{ ssl: boolean; version: string }>(
        'SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()',
      );
      expect(rows[0]).toMatchObject({ ssl: true });
      expect(['TLSv1.2', 'TLSv1.3']).toContain(rows[0]!.version);
      const { rows: hba } = await c.query<{ type: string }>('SELECT DISTINCT type FROM pg_hba_file_rules');
      expect(hba.map((r) => r.type).sort()).toEqual(['hostssl', 'local']);
    } finally {
      await c.end();
    }
  });

  it('a plaintext client is refused by the server (data and replication)', async () => {
    await expect(client(false).connect()).rejects.toThrow(/no pg_hba\.conf entry .*no encryption/);
    const replication = 'dbname=postgres replication=true';
    await expect(libpq('psql', ['-d', replication, '-c', 'IDENTIFY_SYSTEM'], { PGSSLMODE: 'disable' })).rejects.toThrow(
      /no pg_hba\.conf entry for replication connection .*no encryption/,
    );
    // Over TLS the same replication connection is let in (pg_basebackup, pg_receivewal).
    const { stdout } = await libpq('psql', ['-d', replication, '-Atc', 'IDENTIFY_SYSTEM'], pgTlsEnv(meshCa));
    expect(stdout).toMatch(/^\d+\|/);
  });

  it('libpq programs (backups) connect with the contract env: verify-full against the mesh CA', async () => {
    const sql = 'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()';
    const { stdout } = await libpq('psql', ['-d', 'postgres', '-Atc', sql], pgTlsEnv(meshCa));
    expect(stdout.trim()).toBe('t');
    const dump = await libpq('pg_dumpall', ['--globals-only'], pgTlsEnv(meshCa));
    expect(dump.stdout).toContain('CREATE ROLE');
  });

  it('an impostor with a foreign CA certificate for the right host is refused before the password is sent', async () => {
    const foreign = await foreignCertificate(join(dir, 'foreign'), 'spiffe://prism/postgres', [
      '127.0.0.1',
      'localhost',
    ]);
    await present(foreign);
    try {
      await expect(client(verifyFull()).connect()).rejects.toThrow(
        /self[- ]signed certificate|unable to (get|verify)/i,
      );
      // The same attack against libpq's verify-full (backups, exporters).
      await expect(libpq('psql', ['-d', 'postgres', '-c', 'SELECT 1'], pgTlsEnv(meshCa))).rejects.toThrow(
        /certificate verify failed/,
      );
      // The server saw no login attempt: the handshake failed before the startup message.
      const log = await readFile(join(server.root, 'server.log'), 'utf8');
      expect(log).not.toMatch(/password authentication failed|authentication failed for user/);
    } finally {
      await present(rightFiles());
    }
  });

  it('a certificate from the mesh CA for another host is refused (verify-full checks the name)', async () => {
    const other = await issueFromLocalCa(pkiDir, join(dir, 'other'), {
      uri: 'spiffe://prism/elsewhere',
      hosts: ['db.elsewhere.test'],
    });
    await present(other);
    try {
      await expect(client(verifyFull()).connect()).rejects.toThrow(/does not match|not in the cert's altnames/i);
    } finally {
      await present(rightFiles());
    }
  });

  it('the client refuses a server without TLS instead of falling back to plaintext', async () => {
    await expect(async () => pgClientSsl('127.0.0.1', { PGSSLMODE: 'require', PGSSLROOTCERT: meshCa })).rejects.toThrow(
      /only verify-full/,
    );
    await expect(async () => pgClientSsl('127.0.0.1', { PGSSLMODE: 'verify-full' })).rejects.toThrow(/PGSSLROOTCERT/);
  });
});
