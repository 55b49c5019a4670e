import { execFile } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { pgHbaConf } from '#infra/model/files/postgres';
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

  async function serverWith(hba: string): Promise<PrivatePostgres> {
    const dir = await mkdtemp(join(tmpdir(), 'prism-hba-'));
    dirs.push(dir);
    await chmod(dir, 0o755);
    await writeFile(join(dir, 'pg_hba.conf'), hba, { mode: 0o644 });
    const s = await privatePostgres(`-c hba_file=${join(dir, 'pg_hba.conf')}`);
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
        env: { ...process.env, PGPASSWORD: password },
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
        .filter((l) => !l.startsWith('host    replication'))
        .join('\n'),
    );
    await expect(basebackup(s, s.password)).rejects.toThrow(/no pg_hba\.conf entry for replication connection/);
  }, 60_000);
});
