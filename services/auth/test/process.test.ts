import { spawn, spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '#test/support/net';
import { authDatabase, authEnvVars, call, PASSWORD, type TestDatabase } from './support/harness.js';
import { makeKeyFiles } from './support/keys.js';

const MAIN = 'services/auth/src/main.ts';
let db: TestDatabase;
beforeAll(async () => {
  db = await authDatabase();
});
afterAll(async () => {
  await db?.drop();
});

function run(env: Record<string, string>) {
  return spawnSync(process.execPath, ['--import', 'tsx', MAIN], {
    env: { PATH: process.env.PATH!, ...env },
    encoding: 'utf8',
    timeout: 30_000,
  });
}

describe('the auth process (npm run start:auth)', () => {
  it('a missing variable stops it with exit 78 and one line', async () => {
    const { PRISM_JWT_PRIVATE_KEY_FILE: _, ...env } = await authEnvVars({ dbUrl: db.url, keys: makeKeyFiles() });
    const r = run(env);
    expect(r.status).toBe(78);
    expect(r.stderr.trim().split('\n')).toEqual([
      'auth: environment variable PRISM_JWT_PRIVATE_KEY_FILE is required but not set (RS256 private key (PEM))',
    ]);
  });

  it('a stream replica count JetStream cannot have stops it with exit 78 and one line', async () => {
    const env = await authEnvVars({ dbUrl: db.url, keys: makeKeyFiles() });
    const r = run({ ...env, PRISM_NATS_STREAM_REPLICAS: '6' });
    expect(r.status).toBe(78);
    expect(r.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(
        /^auth: environment variable PRISM_NATS_STREAM_REPLICAS is invalid: expected a whole number from 1 to 5 \(/,
      ),
    ]);
  });

  it('an unreadable key file stops it with exit 1 and a log line naming the file', async () => {
    const env = await authEnvVars({
      dbUrl: db.url,
      keys: makeKeyFiles(),
      env: { PRISM_JWT_PRIVATE_KEY_FILE: '/nonexistent/private.pem' },
    });
    const r = run(env);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/"level":"fatal".*\/nonexistent\/private\.pem/);
  });

  it('serves HTTP, health and metrics, then exits 0 on SIGTERM', async () => {
    const env = await authEnvVars({ dbUrl: db.url, keys: makeKeyFiles() });
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN], {
      env: { PATH: process.env.PATH!, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    try {
      const metrics = `http://127.0.0.1:${env.PRISM_METRICS_PORT}`;
      await waitFor(
        'ready',
        async () => (await fetch(`${metrics}/health/ready`).catch(() => undefined))?.status === 200 || undefined,
        20_000,
      );
      const base = `http://127.0.0.1:${env.PRISM_HTTP_PORT}`;
      const address = `proc-${Date.now()}@example.test`;
      expect(
        (await call(base, 'POST', '/auth/register', { body: { email: address, password: PASSWORD } })).status,
      ).toBe(202);
      expect((await call(base, 'POST', '/auth/login', { body: { email: address, password: PASSWORD } })).status).toBe(
        200,
      );
      const m = await (await fetch(`${metrics}/metrics`)).text();
      expect(m).toMatch(/prism_auth_logins_total\{[^}]*outcome="success"[^}]*\} 1/);
      expect(m).toMatch(/prism_http_requests_total\{[^}]*route="\/auth\/login"/);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    expect(stdout).toMatch(/"msg":"stopped"/);
    expect(stdout).not.toContain(PASSWORD);
  });
});
