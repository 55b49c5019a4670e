import { execFile, spawn } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OBJECT_STORAGE_ENV, PG_LOGIN_ROLES, PG_ROLES, pgPasswordVar } from '#contract';
import { ServiceRuntime, grpc, loadProto, parseEnv } from '../../runtime/src/index.js';
import { DBMANAGER_SERVICE, startDbManager } from '../src/server.js';
import { freePort, waitFor } from '#test/support/net';
import { type PrivatePostgres, privatePostgres } from '#test/support/private-servers';
import { provisionBucket } from './s3-support.js';
import { makeMesh } from '../../runtime/test/support/mtls.js';

const exec = promisify(execFile);
const ROOT = new URL('../../../', import.meta.url).pathname;

/**
 * The DB manager as operators use it: deploy/backup/*.sh in local mode (the CLI from this
 * checkout), then the gRPC API and the backup metrics of `serve`. One private PostgreSQL holds
 * both prism_auth and prism_ops here.
 */
describe('DB manager CLI, backup scripts and gRPC API', () => {
  let pgs: PrivatePostgres;
  let s3: Awaited<ReturnType<typeof provisionBucket>>;
  let scratch: string;
  let env: Record<string, string>;

  const script = async (name: string, args: string[], extra: Record<string, string> = {}) => {
    try {
      const r = await exec('bash', [join(ROOT, 'deploy/backup', name), ...args], {
        env: { ...process.env, ...env, ...extra },
        maxBuffer: 16 * 1024 * 1024,
      });
      return { code: 0, stdout: r.stdout, stderr: r.stderr };
    } catch (e) {
      const err = e as { code: number; stdout: string; stderr: string };
      return { code: err.code, stdout: err.stdout, stderr: err.stderr };
    }
  };

  beforeAll(async () => {
    [pgs, s3] = await Promise.all([privatePostgres(), provisionBucket()]);
    const c = new pg.Client({
      host: '127.0.0.1',
      port: pgs.port,
      user: 'prism',
      password: pgs.password,
      database: 'postgres',
    });
    await c.connect();
    await c.query('CREATE DATABASE prism_auth');
    await c.query('CREATE DATABASE prism_ops');
    await c.end();
    scratch = await mkdtemp(join(tmpdir(), 'prism-cli-'));
    await chmod(scratch, 0o755); // as root, restores are verified by a server running as postgres
    const db = (p: string, name: string) => ({
      [`PRISM_${p}_DB_HOST`]: '127.0.0.1',
      [`PRISM_${p}_DB_PORT`]: String(pgs.port),
      [`PRISM_${p}_DB_NAME`]: name,
    });
    // The roles of the contract, as the migration sets them up: the superusers are the server's own.
    const rolePasswords = Object.fromEntries(
      PG_LOGIN_ROLES.map((id) => [pgPasswordVar(id), id.endsWith('_admin') ? pgs.password : `pw-${id}`]),
    );
    env = {
      PRISM_BACKUP_MODE: 'local',
      PRISM_ENVIRONMENT: 'test',
      PRISM_NATS_URL: process.env.PRISM_TEST_NATS_URL!,
      ...db('AUTH', 'prism_auth'),
      ...db('OPS', 'prism_ops'),
      PRISM_OPS_DB_USER: PG_ROLES.ops_catalog.name,
      PRISM_OPS_DB_PASSWORD: rolePasswords[pgPasswordVar('ops_catalog')]!,
      ...rolePasswords,
      PRISM_S3_ENDPOINT: s3.config.endpoint,
      PRISM_S3_BUCKET: s3.config.bucket,
      PRISM_S3_ACCESS_KEY: s3.config.accessKeyId,
      PRISM_S3_SECRET_KEY: s3.config.secretAccessKey,
      // Debian's /usr/bin wrappers (pg_basebackup without pg_verifybackup or postgres) come first, as on a
      // stock install: the DB manager finds the bin directory of the server's version itself.
      PATH: `/usr/bin:${process.env.PATH}`,
      TMPDIR: scratch,
      // Its own spool and scratch: the default (/var/lib/prism/scratch when writable) is shared by every run on the machine.
      PRISM_DBMANAGER_SCRATCH_DIR: join(scratch, 'dbmanager'),
    };
  }, 120_000);

  afterAll(async () => {
    await pgs?.dispose();
    await s3?.cleanup();
    s3?.root.destroy();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it('migrates both databases with the CronJob command and reports the state, without the object storage variables', async () => {
    const noS3 = Object.fromEntries(OBJECT_STORAGE_ENV.map((k) => [k, '']));
    const r = await exec('node_modules/.bin/tsx', ['services/dbmanager/src/cli.ts', 'migrate', '--all'], {
      cwd: ROOT,
      env: { ...process.env, ...env, ...noS3 },
    });
    expect(r.stdout).toMatch(/== migrations of prism_auth\n {2}applied: 001_initial_schema\.sql/);
    expect(r.stdout).toMatch(/== migrations of prism_ops\n {2}applied: 001_initial_schema\.sql/);
    const s = await exec('node_modules/.bin/tsx', ['services/dbmanager/src/cli.ts', 'status'], {
      cwd: ROOT,
      env: { ...process.env, ...env, ...noS3 },
    });
    expect(s.stdout).toMatch(/== prism_ops\n {2}001_initial_schema\.sql {2}applied/);
    // With a trace backend that does not resolve (Compose's core file without its observability file), the
    // command still succeeds: the spans are lost, not the migration (exit 0 is what Compose's depends_on needs).
    const noTraces = await exec('node_modules/.bin/tsx', ['services/dbmanager/src/cli.ts', 'status'], {
      cwd: ROOT,
      env: { ...process.env, ...env, ...noS3, PRISM_OTLP_ENDPOINT: 'http://jaeger.invalid:4318/v1/traces' },
    });
    expect(noTraces.stdout).toMatch(/== prism_ops\n {2}001_initial_schema\.sql {2}applied/);
    expect(noTraces.stderr).toMatch(/tracing: spans not exported: .*ENOTFOUND/);
  }, 60_000);

  it('migrate started before PostgreSQL waits for it, as the Job and the Compose task start beside the databases', async () => {
    await pgs.stop();
    let stdout = '';
    let stderr = '';
    const child = spawn('node_modules/.bin/tsx', ['services/dbmanager/src/cli.ts', 'migrate', '--all'], {
      cwd: ROOT,
      env: { ...process.env, ...env },
    });
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const exit = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      await waitFor(
        'the waiting line',
        async () => /does not accept connections yet \(ECONNREFUSED\)/.test(stderr),
        30_000,
      );
      expect(child.exitCode).toBeNull();
    } finally {
      await pgs.start();
    }
    expect(await exit, stderr).toBe(0);
    expect(stderr).toMatch(new RegExp(`PostgreSQL at 127\\.0\\.0\\.1:${pgs.port} does not accept connections yet`));
    expect(stdout).toMatch(/== migrations of prism_auth\n {2}applied: none/);
    expect(stdout).toMatch(/== migrations of prism_ops\n {2}applied: none/);
  }, 60_000);

  it('migrate does not wait on what waiting cannot mend: a wrong superuser password fails at once', async () => {
    const wrong = Object.fromEntries(
      PG_LOGIN_ROLES.filter((id) => id.endsWith('_admin')).map((id) => [pgPasswordVar(id), 'not-the-password']),
    );
    const started = Date.now();
    const r = await exec('node_modules/.bin/tsx', ['services/dbmanager/src/cli.ts', 'migrate', '--all'], {
      cwd: ROOT,
      env: { ...process.env, ...env, ...wrong },
    }).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => e,
    );
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/password authentication failed/);
    expect(r.stderr).not.toMatch(/does not accept connections yet/);
    expect(r.stderr).not.toContain('not-the-password');
    expect(Date.now() - started).toBeLessThan(30_000); // not the 180 s wait
  }, 60_000);

  it('backup.sh takes a full backup and a WAL run, and lists them with size, time and WAL range', async () => {
    const full = await script('backup.sh', ['auth', 'full']);
    expect(full.code, full.stderr).toBe(0);
    expect(full.stdout).toMatch(
      /== backup auth-full-\d{8}T\d{9}Z\n {2}kind: full\n {2}stored: [\d.]+ [kM]B \(\d+ of \d+ files\)/,
    );
    expect(full.stderr).toMatch(/pg_basebackup: .*\(100%\)/); // progress goes to stderr
    const wal = await script('backup.sh', ['auth', 'wal']);
    expect(wal.code, wal.stderr).toBe(0);
    expect(wal.stdout).toMatch(/== WAL archive run auth-wal-\S+\n {2}segments: [1-9]/);
    const list = await script('backup.sh', ['list']);
    expect(list.stdout.split('\n')[0]).toMatch(/^NAME +DB +KIND +STATUS +STARTED \(UTC\) +DURATION +SIZE +WAL RANGE$/);
    expect(list.stdout).toMatch(
      /auth-full-\S+ +auth +full +completed +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d +[\d.]+ s +[\d.]+ [kM]B +[0-9A-F]{24} \.\. [0-9A-F]{24}/,
    );
    expect(list.stdout).toMatch(/auth-wal-\S+ +auth +wal +completed/);
    // The tasks of prism_ops run without auth's roles (the manifests give them none of its passwords).
    const opsOnly = await script('backup.sh', ['list', 'ops'], {
      PRISM_PG_AUTH_BACKUP_PASSWORD: '',
      PRISM_PG_AUTH_ADMIN_PASSWORD: '',
    });
    expect(opsOnly.code, opsOnly.stderr).toBe(0);
  }, 120_000);

  it('restore.sh: a dry run, then the scheduled verification of the latest backup', async () => {
    const name = /auth-full-\S+/.exec((await script('backup.sh', ['list', 'auth'])).stdout)![0];
    const dry = await script('restore.sh', ['auth', name, '--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(
      new RegExp(
        `== dry run of ${name}: OK, nothing was written\\n {2}chain: ${name}\\n {2}cluster: system identifier \\d+\\n {2}files: \\d+ verified against the manifest`,
      ),
    );
    const verify = await exec('node_modules/.bin/tsx', ['services/dbmanager/src/cli.ts', 'verify-latest', 'auth'], {
      cwd: ROOT,
      env: { ...process.env, ...env },
    });
    expect(verify.stdout).toMatch(new RegExp(`== verification of ${name}: passed`));
    const c = new pg.Client({
      host: '127.0.0.1',
      port: pgs.port,
      user: 'prism',
      password: pgs.password,
      database: 'prism_ops',
    });
    await c.connect();
    const rows = (await c.query(`SELECT mode, ok FROM backup_verifications ORDER BY id`)).rows;
    await c.end();
    expect(rows).toEqual([
      { mode: 'dry-run', ok: true },
      { mode: 'scheduled', ok: true },
    ]);
  }, 120_000);

  it('bad input: a clear message and a usage exit code; a missing variable names itself', async () => {
    const kind = await script('backup.sh', ['auth', 'weekly']);
    expect(kind.code).toBe(2);
    expect(kind.stderr).toMatch(/backup kind must be full, delta or wal, got "weekly"/);
    const db = await script('restore.sh', ['users', 'x']);
    expect(db.code).toBe(2);
    expect(db.stderr).toMatch(/database must be auth or ops, got "users"/);
    const missing = await script('restore.sh', ['auth', 'auth-full-20990101T000000000Z', '--dry-run']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/backup auth-full-20990101T000000000Z of auth was not found in bucket/);
    const noEnv = await script('backup.sh', ['list'], { PRISM_S3_BUCKET: '' });
    expect(noEnv.code).toBe(78);
    expect(noEnv.stderr).toMatch(/environment variable PRISM_S3_BUCKET is required but not set/);
    const several = await script('backup.sh', ['list'], {
      PRISM_S3_BUCKET: '',
      PRISM_S3_ENDPOINT: '',
      PRISM_OPS_DB_HOST: '',
    });
    expect(several.code).toBe(78);
    expect(several.stderr.trim().split('\n')).toEqual([
      'dbmanager: environment variables PRISM_OPS_DB_HOST (Ops PostgreSQL host), PRISM_S3_ENDPOINT (S3-compatible endpoint (MinIO)), PRISM_S3_BUCKET (Backup bucket) are required but not set',
    ]);
    const noPgBin = await script('backup.sh', ['list'], { PRISM_PG_BIN_DIR: '/usr/bin' });
    expect(noPgBin.code).toBe(1);
    expect(noPgBin.stderr).toMatch(/PRISM_PG_BIN_DIR=\/usr\/bin lacks .*pg_verifybackup.*postgres/);
  }, 60_000);

  it('serve: gRPC Migrate, Status and ListBackups with grpc.health.v1, and the backup gauges', async () => {
    const metricsPort = await freePort();
    const runtime = new ServiceRuntime({
      service: 'dbmanager',
      handleSignals: false,
      drainDelayMs: 0,
      logDestination: new Writable({ write: (_c, _e, cb) => cb() }),
      env: parseEnv('dbmanager', { ...env, PRISM_METRICS_PORT: String(metricsPort) }),
    });
    const { port } = await startDbManager(runtime, {
      grpcPort: 0,
      scratchDir: scratch,
      pgBin: process.env.PRISM_TEST_PG_BIN!,
      archive: false,
    });
    await runtime.start(port);
    try {
      const Api = loadProto('prism/dbmanager/v1/dbmanager.proto').prism.dbmanager.v1.DbManager;
      const client = new Api(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
      const call = (m: string, req: object) =>
        new Promise<Record<string, unknown>>((resolve, reject) =>
          Reflect.get(client, m).call(client, req, (e: Error | null, r: Record<string, unknown>) =>
            e ? reject(e) : resolve(r),
          ),
        );
      expect(await call('Migrate', {})).toMatchObject({
        databases: [
          { database: 'auth', applied: [] },
          { database: 'ops', applied: [] },
        ],
      });
      const status = await call('Status', { database: 'ops' });
      expect(status).toMatchObject({
        databases: [{ database: 'ops', migrations: [{ name: '001_initial_schema.sql', state: 'applied' }] }],
      });
      await expect(call('Status', { database: 'users' })).rejects.toMatchObject({
        code: grpc.status.INVALID_ARGUMENT,
        details: 'database "users" is unknown: auth, ops, or empty for both',
      });
      const backups = (await call('ListBackups', { database: 'auth' })).backups as Array<Record<string, unknown>>;
      expect(backups.map((b) => b.kind)).toEqual(['full', 'wal']);
      expect(backups[0]).toMatchObject({ status: 'completed', walStart: expect.stringMatching(/^[0-9A-F]{24}$/) });
      expect(Number(backups[0]!.sizeBytes)).toBeGreaterThan(0);
      client.close();

      const Health = loadProto('grpc/health/v1/health.proto').grpc.health.v1.Health;
      const h = new Health(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
      const hs = await new Promise((resolve, reject) =>
        h.Check({ service: DBMANAGER_SERVICE }, (e: Error | null, r: unknown) => (e ? reject(e) : resolve(r))),
      );
      expect(hs).toEqual({ status: 'SERVING' });
      h.close();

      const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      expect(metrics).toMatch(
        /prism_backup_last_success_timestamp_seconds\{database="auth",kind="full",service="dbmanager"\} \d+/,
      );
      expect(metrics).toMatch(/prism_backup_verification_ok\{database="auth",service="dbmanager"\} 1/);
    } finally {
      await runtime.shutdown();
    }
  }, 60_000);

  it('serve with mutual TLS: Migrate, Status and ListBackups for operators only; no platform certificate, no call', async () => {
    const mesh = await makeMesh();
    const runtime = new ServiceRuntime({
      service: 'dbmanager',
      handleSignals: false,
      drainDelayMs: 0,
      logDestination: new Writable({ write: (_c, _e, cb) => cb() }),
      env: parseEnv('dbmanager', {
        ...env,
        ...mesh.env('dbmanager'),
        PRISM_METRICS_PORT: String(await freePort()),
        PRISM_MIGRATE_ON_START: 'false',
      }),
    });
    const { port } = await startDbManager(runtime, {
      grpcPort: 0,
      scratchDir: scratch,
      pgBin: process.env.PRISM_TEST_PG_BIN!,
      archive: false,
    });
    const Api = loadProto('prism/dbmanager/v1/dbmanager.proto').prism.dbmanager.v1.DbManager;
    const clients: grpc.Client[] = [];
    const call = (creds: grpc.ChannelCredentials, m: string, req: object) => {
      const client = new Api(`localhost:${port}`, creds);
      clients.push(client);
      return new Promise<Record<string, unknown>>((resolve, reject) =>
        Reflect.get(client, m).call(client, req, (e: Error | null, r: Record<string, unknown>) =>
          e ? reject(e) : resolve(r),
        ),
      );
    };
    try {
      const operator = mesh.creds(mesh.pki.operator);
      expect(await call(operator, 'Migrate', {})).toMatchObject({
        databases: [
          { database: 'auth', applied: [] },
          { database: 'ops', applied: [] },
        ],
      });
      expect(await call(operator, 'Status', { database: 'ops' })).toMatchObject({ databases: [{ database: 'ops' }] });
      for (const who of [mesh.pki.workloads.gateway, mesh.pki.workloads.auth, mesh.pki.workloads.config]) {
        for (const m of ['Migrate', 'Status', 'ListBackups'])
          await expect(call(mesh.creds(who), m, {})).rejects.toMatchObject({ code: grpc.status.PERMISSION_DENIED });
      }
      for (const creds of [mesh.creds(), mesh.creds(mesh.foreign)])
        await expect(call(creds, 'Migrate', {})).rejects.toMatchObject({ code: grpc.status.UNAUTHENTICATED });
    } finally {
      for (const c of clients) c.close();
      await runtime.shutdown();
    }
  }, 60_000);
});
