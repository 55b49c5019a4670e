import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { pgTlsEnv } from '#contract';
import { pgHbaConf } from '#infra/model/files/postgres';
import { pgServerTls } from '#test/support/pg-tls';
import { type PrivatePostgres, pgBin, privatePostgres } from '#test/support/private-servers';

const exec = promisify(execFile);

/** The model's pg_hba.conf, on a real server: the DB manager's replication connections get in. */
describe('rendered pg_hba.conf of the PostgreSQL servers', () => {
  const servers: PrivatePostgres[] = [];
  const dirs: string[] = [];
  afterAll(async () => {
    for (const s of servers) await s.dispose();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  let meshCa = '';
  /** A server with the model's TLS settings (the certificate of a local mesh CA for 127.0.0.1) and `hba`. */
  async function serverWith(hba: string): Promise<PrivatePostgres> {
    const dir = await mkdtemp(join(tmpdir(), 'prism-hba-'));
    dirs.push(dir);
    const tls = await pgServerTls(dir);
    meshCa = tls.ca;
    await writeFile(join(dir, 'pg_hba.conf'), hba, { mode: 0o644 });
    const s = await privatePostgres(`-c hba_file=${join(dir, 'pg_hba.conf')} ${tls.options}`);
    servers.push(s);
    return s;
  }

  const basebackup = async (s: PrivatePostgres, password: string) => {
    const out = await mkdtemp(join(tmpdir(), 'prism-hba-bb-'));
    dirs.push(out);
    return exec(
      join(pgBin(), 'pg_basebackup'),
      ['-h', '127.0.0.1', '-p', String(s.port), '-U', 'prism', '-D', join(out, 'b'), '-X', 'none', '--no-password'],
      {
        // As the DB manager connects: verify-full against the mesh CA.
        env: { ...process.env, PGPASSWORD: password, ...pgTlsEnv(meshCa) },
      },
    );
  };

  it('admits pg_basebackup from another host for the replication user, with its password only', async () => {
    const s = await serverWith(pgHbaConf('prism'));
    await expect(basebackup(s, s.password)).resolves.toBeDefined();
    await expect(basebackup(s, 'wrong-password')).rejects.toThrow(/password authentication failed for user "prism"/);
  }, 60_000);

  it("without its replication line the connection is refused (the image's own file admits replication from inside the container only)", async () => {
    const s = await serverWith(
      pgHbaConf('prism')
        .split('\n')
        .filter((l) => !/^hostssl\s+replication/.test(l))
        .join('\n'),
    );
    await expect(basebackup(s, s.password)).rejects.toThrow(/no pg_hba\.conf entry for replication connection/);
  }, 60_000);
});
