import { mkdtemp, readFile, rm, writeFile, copyFile } from 'node:fs/promises';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  HISTORY_TABLE,
  databaseMigrationStatus,
  loadMigrations,
  migrate,
  migrateDatabase,
  migrationStatus,
  migrationsDir,
} from '../src/migrations/index.js';
import { freshDatabase } from './pg-support.js';
import { freePort } from '#test/support/net';

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

const tables = (url: string) =>
  withClient(url, async (c) =>
    (
      await c.query<{ t: string }>(`SELECT tablename AS t FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`)
    ).rows.map((r) => r.t),
  );

describe('migrations of prism_auth and prism_ops', () => {
  const dbs: Array<{ drop: () => Promise<void> }> = [];
  afterAll(async () => {
    for (const d of dbs) await d.drop();
  });

  it('apply from scratch on both databases, and a second run changes nothing', async () => {
    for (const id of ['auth', 'ops'] as const) {
      const db = await freshDatabase(`mig_${id}`);
      dbs.push(db);
      const files = (await loadMigrations(migrationsDir(id))).map((m) => m.name);
      expect(files[0]).toBe('001_initial_schema.sql');
      const first = await migrateDatabase(id, db.url);
      expect(first.applied).toEqual(files);
      const after = await tables(db.url);
      const expected =
        id === 'auth'
          ? [
              'api_keys',
              'login_throttle',
              'oauth_accounts',
              'oauth_states',
              'outbox',
              'refresh_tokens',
              'sessions',
              'users',
            ]
          : [
              'audit_logs',
              'backup_verifications',
              'backups',
              'config_history',
              'config_values',
              'events',
              'metrics',
              'wal_segments',
            ];
      for (const t of expected) expect(after).toContain(t);
      const second = await migrateDatabase(id, db.url);
      expect(second).toEqual({ applied: [], retried: [], alreadyApplied: files.length });
      expect(await tables(db.url)).toEqual(after);
      expect((await databaseMigrationStatus(id, db.url)).map((s) => s.state)).toEqual(files.map(() => 'applied'));
    }
  });

  describe('with a migration folder of its own', () => {
    let dir: string;
    let db: Awaited<ReturnType<typeof freshDatabase>>;
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'prism-mig-'));
      await copyFile(join(migrationsDir('ops'), '001_initial_schema.sql'), join(dir, '001_initial_schema.sql'));
      await writeFile(join(dir, '002_add_notes.sql'), 'CREATE TABLE notes (id int PRIMARY KEY, body text NOT NULL);\n');
      db = await freshDatabase('mig_own');
      dbs.push(db);
    });
    afterAll(async () => rm(dir, { recursive: true, force: true }));

    it('refuses to run when an applied file was edited, naming the file and both checksums', async () => {
      await withClient(db.url, async (c) => migrate(c, await loadMigrations(dir)));
      const file = join(dir, '002_add_notes.sql');
      const original = await readFile(file, 'utf8');
      await writeFile(file, `${original}ALTER TABLE notes ADD COLUMN author text;\n`);
      await writeFile(join(dir, '003_more.sql'), 'CREATE TABLE more_notes (id int);\n');
      const err = await withClient(db.url, async (c) => migrate(c, await loadMigrations(dir)).catch((e: Error) => e));
      expect(err).toBeInstanceOf(Error);
      expect((err as Error).message).toMatch(
        /migration 002_add_notes\.sql was applied on .* with checksum [0-9a-f]{12}, but the file now has checksum [0-9a-f]{12}/,
      );
      // Nothing of the run happened: 003 was not applied, the column was not added.
      expect(await tables(db.url)).not.toContain('more_notes');
      const status = await withClient(db.url, async (c) => migrationStatus(c, await loadMigrations(dir)));
      expect(status.map((s) => `${s.name}:${s.state}`)).toEqual([
        '001_initial_schema.sql:applied',
        '002_add_notes.sql:changed',
        '003_more.sql:pending',
      ]);
      await writeFile(file, original);
      await rm(join(dir, '003_more.sql'));
    });

    it('a failing file is rolled back whole, recorded as failed, reported and retried by the next run', async () => {
      // The first statement would succeed on its own: the transaction must take it back.
      await writeFile(
        join(dir, '003_broken.sql'),
        'CREATE TABLE half_done (id int);\nINSERT INTO no_such_table VALUES (1);\n',
      );
      await writeFile(join(dir, '004_after.sql'), 'CREATE TABLE after_broken (id int);\n');
      const err = await withClient(db.url, async (c) => migrate(c, await loadMigrations(dir)).catch((e: Error) => e));
      expect((err as Error).message).toMatch(
        /migration 003_broken\.sql failed and was rolled back: relation "no_such_table" does not exist/,
      );
      const t = await tables(db.url);
      expect(t).not.toContain('half_done');
      expect(t).not.toContain('after_broken');
      const status = await withClient(db.url, async (c) => migrationStatus(c, await loadMigrations(dir)));
      expect(status.find((s) => s.version === 3)).toMatchObject({
        state: 'failed',
        error: expect.stringContaining('no_such_table'),
      });
      expect(status.find((s) => s.version === 4)?.state).toBe('pending');

      // Fixed (a failed file was never applied, so it may change); the next run says so and retries.
      await writeFile(join(dir, '003_broken.sql'), 'CREATE TABLE half_done (id int);\n');
      const lines: string[] = [];
      const result = await withClient(db.url, async (c) =>
        migrate(c, await loadMigrations(dir), { log: (l) => lines.push(l) }),
      );
      expect(lines.join('\n')).toMatch(
        /migration 003_broken\.sql failed in an earlier run \(relation "no_such_table" does not exist.*\); retrying it/,
      );
      expect(result.applied).toEqual(['003_broken.sql', '004_after.sql']);
      expect(result.retried).toEqual(['003_broken.sql']);
      const row = await withClient(
        db.url,
        async (c) => (await c.query(`SELECT status, attempts, error FROM ${HISTORY_TABLE} WHERE version = 3`)).rows[0],
      );
      expect(row).toEqual({ status: 'applied', attempts: 2, error: null });
    });

    it('two concurrent runners: the second waits for the first, then finds nothing to do', async () => {
      // A slow migration keeps the first runner inside the lock.
      await writeFile(join(dir, '005_slow.sql'), 'SELECT pg_sleep(1.5);\nCREATE TABLE slow_done (id int);\n');
      const migrations = await loadMigrations(dir);
      const a = new pg.Client({ connectionString: db.url });
      const b = new pg.Client({ connectionString: db.url });
      await a.connect();
      await b.connect();
      const waits: string[] = [];
      try {
        const first = migrate(a, migrations);
        await new Promise((r) => setTimeout(r, 300));
        const second = migrate(b, migrations, { log: (l) => waits.push(l) });
        const [ra, rb] = await Promise.all([first, second]);
        expect(ra.applied).toEqual(['005_slow.sql']);
        expect(rb.applied).toEqual([]);
        expect(waits.join('\n')).toMatch(/another migration runner \(backend pid \d+\) holds the lock; waiting/);
      } finally {
        await a.end();
        await b.end();
      }
      const count = await withClient(
        db.url,
        async (c) => (await c.query(`SELECT count(*)::int AS n FROM ${HISTORY_TABLE} WHERE version = 5`)).rows[0].n,
      );
      expect(count).toBe(1);
    });

    it('a runner that cannot get the lock in time fails clearly and applies nothing', async () => {
      await writeFile(join(dir, '006_blocked.sql'), 'CREATE TABLE blocked (id int);\n');
      const holder = new pg.Client({ connectionString: db.url });
      await holder.connect();
      const other = new pg.Client({ connectionString: db.url });
      await other.connect();
      try {
        // Hold the same lock from a plain session, as a stuck runner would.
        const first = migrate(holder, [
          ...(await loadMigrations(dir)).slice(0, 5),
          {
            version: 6,
            name: '006_blocked.sql',
            sql: 'SELECT pg_sleep(2); CREATE TABLE blocked (id int);',
            checksum: 'x',
          },
        ]);
        await new Promise((r) => setTimeout(r, 300));
        const err = await migrate(other, await loadMigrations(dir), { lockTimeoutMs: 500 }).catch((e: Error) => e);
        expect((err as Error).message).toMatch(
          /another migration runner \(backend pid \d+\) has held the migration lock for more than 1 s; nothing was applied/,
        );
        await first;
      } finally {
        await holder.end();
        await other.end();
      }
    });

    it('rejects badly named files and duplicate versions', async () => {
      const bad = await mkdtemp(join(tmpdir(), 'prism-mig-bad-'));
      await writeFile(join(bad, '1-init.sql'), 'SELECT 1;');
      await expect(loadMigrations(bad)).rejects.toThrow(
        /a migration file is named NNN_description\.sql .*got "1-init\.sql"/,
      );
      await rm(join(bad, '1-init.sql'));
      await writeFile(join(bad, '001_a.sql'), 'SELECT 1;');
      await writeFile(join(bad, '001_b.sql'), 'SELECT 1;');
      await expect(loadMigrations(bad)).rejects.toThrow(/001_a\.sql and 001_b\.sql share the version number 1/);
      await rm(bad, { recursive: true });
    });
  });
});

describe('waiting for the database to accept connections', () => {
  it('retries a refused connection, then gives up at its bound naming the server and the last error', async () => {
    const port = await freePort();
    const lines: string[] = [];
    const started = Date.now();
    const err = await migrateDatabase('auth', `postgres://prism:x@127.0.0.1:${port}/prism_auth`, {
      waitMs: 1500,
      log: (l) => lines.push(l),
    }).catch((e: Error) => e);
    expect((err as Error).message).toBe(
      `PostgreSQL at 127.0.0.1:${port} did not accept connections within 1.5 s: connect ECONNREFUSED 127.0.0.1:${port}`,
    );
    expect(lines.length).toBeGreaterThan(1);
    expect(lines[0]).toMatch(
      new RegExp(`^PostgreSQL at 127\\.0\\.0\\.1:${port} does not accept connections yet \\(ECONNREFUSED\\)`),
    );
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('retries a server that accepts and never answers (the connect timeout), within the same bound', async () => {
    const silent = createServer(() => {});
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const { port } = silent.address() as AddressInfo;
    const lines: string[] = [];
    try {
      const err = await migrateDatabase(
        'auth',
        { host: '127.0.0.1', port, user: 'prism', database: 'prism_auth', ssl: false, connectionTimeoutMillis: 300 },
        { waitMs: 1500, log: (l) => lines.push(l) },
      ).catch((e: Error) => e);
      expect((err as Error).message).toBe(
        `PostgreSQL at 127.0.0.1:${port} did not accept connections within 1.5 s: timeout expired`,
      );
      expect(lines.length).toBeGreaterThan(1);
      expect(lines[0]).toContain('does not accept connections yet (timeout expired)');
    } finally {
      silent.close();
    }
  });
});
