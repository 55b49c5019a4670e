import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** The shared test PostgreSQL (infra/local-platform/test-servers.ts), as set by vitest's global set-up. */
export function testPgUrl(): string {
  const url = process.env.PRISM_TEST_PG_URL;
  if (!url)
    throw new Error('PRISM_TEST_PG_URL is not set: run the tests through vitest (its global set-up starts PostgreSQL)');
  return url;
}

/** Creates a database with a unique name on the shared server; `drop()` removes it. */
export async function freshDatabase(prefix: string): Promise<{ url: string; name: string; drop: () => Promise<void> }> {
  const name = `${prefix}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: testPgUrl() });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(testPgUrl());
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    drop: async () => {
      const c = new pg.Client({ connectionString: testPgUrl() });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}
