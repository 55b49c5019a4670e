import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServiceRuntime } from '../../runtime/src/index.js';
import { migrateDatabase } from '../../dbmanager/src/migrations/index.js';
import { freshDatabase } from '../../dbmanager/test/pg-support.js';
import { makeMesh, type TestMesh } from '../../runtime/test/support/mtls.js';
import { startTestConfigService } from './support/config-server.js';

/**
 * The operators' CLI (`npm run config -- ...`) as a newcomer meets it: help, mistakes on the command line, a
 * mistyped key, a negative value, and a platform that is down, against a real config service with mutual TLS.
 */
describe('npm run config: the command line', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let runtime: ServiceRuntime;
  let port: number;
  let mesh: TestMesh;
  let tls: string[];
  const dirs: string[] = [];

  // Asynchronous: the config service runs in this process, and must answer while the CLI waits.
  const cli = (...args: string[]) =>
    new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const c = spawn(process.execPath, ['--import', 'tsx', 'services/config/src/cli.ts', ...args], {
        env: { ...process.env, NODE_NO_WARNINGS: '1' },
      });
      let stdout = '';
      let stderr = '';
      c.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      c.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      c.on('error', reject).on('close', (status) => resolve({ status, stdout, stderr }));
    });
  const remote = (...args: string[]) =>
    cli(...args, '--address', `localhost:${port}`, '--environment', 'clitest', ...tls);

  beforeAll(async () => {
    mesh = await makeMesh();
    tls = ['--cert', mesh.pki.operator.cert, '--key', mesh.pki.operator.key, '--ca', mesh.pki.caCert];
    db = await freshDatabase('config_cli');
    await migrateDatabase('ops', db.url);
    ({ runtime, port } = await startTestConfigService(db.url, 0, { env: mesh.env('config') }));
  });

  afterAll(async () => {
    await runtime?.shutdown();
    await db?.drop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('--help prints the usage and exits 0', async () => {
    const r = await cli('--help');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^usage: npm run config -- /);
    expect(r.stderr).toBe('');
  });

  it('refuses extra arguments, naming them', async () => {
    const r = await remote('get', 'rate_limit.burst', 'oops');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('get takes <key>; extra: oops');
    const keys = await remote('keys', 'now');
    expect(keys.status).toBe(2);
    expect(keys.stderr).toContain('keys takes no arguments; extra: now');
  });

  it('a mistyped key is named with its likely spelling, not the gRPC method', async () => {
    const r = await remote('set', 'rate_limit.requests_per_secnd', '50', '--service', 'gateway');
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toBe(
      'unknown key "rate_limit.requests_per_secnd"; did you mean rate_limit.requests_per_second? (every key: npm run config -- keys; feature flags are feature.<name>)',
    );
    expect(r.stderr).not.toContain('ListKeys');
  });

  it('a negative value needs no --: it reaches the service, which judges it', async () => {
    const r = await remote('set', 'rate_limit.burst', '-5', '--service', 'gateway');
    expect(r.stderr).not.toContain('Unknown option');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^config service: INVALID_ARGUMENT: value -5 for rate_limit.burst is invalid: /m);
    // And a valid value is set, for comparison.
    const ok = await remote('set', 'rate_limit.burst', '40', '--service', 'gateway');
    expect(ok.stderr).toBe('');
    expect(ok.stdout).toMatch(/^gateway\/rate_limit.burst = 40 {2}\(version 1, operator\/local, /);
  });

  it('a local platform that is down gets a clear message, not gRPC UNAVAILABLE', async () => {
    // endpoints.json of a platform whose config service no longer listens (a port just freed).
    const dead = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const dir = mkdtempSync(join(tmpdir(), 'prism-config-cli-'));
    dirs.push(dir);
    writeFileSync(
      join(dir, 'endpoints.json'),
      JSON.stringify({
        config_grpc: `127.0.0.1:${dead}`,
        environment: 'dev',
        operator_mtls: { cert_file: mesh.pki.operator.cert, key_file: mesh.pki.operator.key, ca_file: mesh.pki.caCert },
      }),
    );
    const r = await cli('get', 'maintenance.enabled', '--dir', dir);
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toBe(
      `cannot reach the config service at 127.0.0.1:${dead}: is the local platform running? npm run local:status (start it with npm run local:up)`,
    );
    const far = await cli('get', 'maintenance.enabled', '--address', `127.0.0.1:${dead}`, ...tls);
    expect(far.stderr.trim()).toBe(
      `cannot reach the config service at 127.0.0.1:${dead}: check --address and that the service runs there`,
    );
  });
});
