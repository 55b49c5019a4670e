import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, existsSync, chmodSync, readFileSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { connect, isIP } from 'node:net';
import { connect as tlsConnect, type PeerCertificate } from 'node:tls';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { Agent, type buildConnector, setGlobalDispatcher } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IDENTITY_HEADERS } from '../../infra/contract/index.js';
import { isAlive, type RunningProcess } from '../../infra/local-platform/processes.js';
import { down, serviceEnvironment, up, type Endpoints } from '../../infra/local-platform/platform.js';
import { findLogLines } from './loki.js';
import { WATCHDOG_ALERT } from '../../infra/model/files/alertmanager.js';
import {
  activeAlertmanagers,
  firingAlerts,
  ruleHealth,
  scrapeTargets,
  sumOf,
  type ScrapeTarget,
} from './prometheus.js';
import { findTraces, linkedTraceId, logLinesOf, parentOf, tag, type JaegerSpan } from './traces.js';

/**
 * The user journeys across the whole platform, started exactly as `npm run local:up -- --gateways 2`
 * does (the same function), in a directory of its own with free ports. One platform for the file;
 * the steps run in order and build on each other, as a user's would.
 */

const REPO = resolve(import.meta.dirname, '../..');
const run = promisify(execFile);
let dir: string;
let e: Endpoints;
let gw1: string;
let gw2: string;

interface Res {
  status: number;
  headers: Headers;
  text: string;
  json: any;
}

async function http(url: string, init: RequestInit & { json?: unknown } = {}): Promise<Res> {
  const headers = new Headers(init.headers);
  let body = init.body;
  if (init.json !== undefined) {
    headers.set('content-type', 'application/json');
    body = JSON.stringify(init.json);
  }
  const r = await fetch(url, { ...init, headers, body: body ?? null });
  const text = await r.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: r.status, headers: r.headers, text, json };
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** The gateway's own error body: exactly `{ error, request_id }`, the id also in x-request-id. */
function expectGatewayError(r: Res, status: number, error: string): void {
  expect({ status: r.status, body: r.json }).toEqual({
    status,
    body: { error, request_id: r.headers.get('x-request-id') },
  });
}

async function until<T>(
  what: string,
  fn: () => Promise<T | undefined>,
  timeoutMs = 10_000,
  intervalMs = 100,
): Promise<T> {
  const t = Date.now() + timeoutMs;
  while (Date.now() < t) {
    const v = await fn();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/**
 * A revoked credential as a gateway answers it within 100 ms of `since`, auth's answer (auth pushes the revocation
 * over NATS after its commit; the gateways no longer ask Redis on every request: services/gateway/README.md, bounds).
 */
async function refusedWithin100ms(
  gw: string,
  headers: Record<string, string>,
  path = '/api/echo/me',
  since = performance.now(),
): Promise<Res> {
  for (;;) {
    const r = await http(`${gw}${path}`, { headers });
    if (r.status === 401 || performance.now() - since > 100) return r;
    await new Promise((res) => setTimeout(res, 5));
  }
}

function portOpen(address: string): Promise<boolean> {
  const [host, port] = [
    address.slice(0, address.lastIndexOf(':')),
    Number(address.slice(address.lastIndexOf(':') + 1)),
  ];
  return new Promise((res) => {
    const s = connect(port, host);
    s.once('connect', () => (s.destroy(), res(true)));
    s.once('error', () => res(false));
  });
}

const configAs = (tls: string[], ...args: string[]) =>
  run(
    process.execPath,
    [
      '--import',
      'tsx',
      'services/config/src/cli.ts',
      ...args,
      '--address',
      e.config_grpc,
      '--environment',
      e.environment,
      '--by',
      'journey-test',
      ...tls,
    ],
    { cwd: REPO },
  );
// The operator's certificate from endpoints.json; `--by` is a claim the service must ignore under mTLS.
const operatorTls = () => [
  '--cert',
  e.operator_mtls.cert_file,
  '--key',
  e.operator_mtls.key_file,
  '--ca',
  e.operator_mtls.ca_file,
];
const config = (...args: string[]) => configAs(operatorTls(), ...args);
const backupScript = (script: string, ...args: string[]) =>
  run('bash', [`deploy/backup/${script}`, ...args], {
    cwd: REPO,
    env: {
      PATH: process.env.PATH!,
      HOME: process.env.HOME ?? '/tmp',
      PRISM_BACKUP_MODE: 'local',
      PRISM_LOCAL_DIR: dir,
    },
    maxBuffer: 16 << 20,
  });

const user = { email: `journey-${Date.now()}@example.com`, password: 'correct horse battery staple' };
let userId: string;
/** Request ids of journeys whose traces the last describe looks up in Jaeger. */
const traced: { login?: string; apiKey?: string } = {};

/**
 * PRISM_ENDPOINTS_FILE names the endpoints.json of a platform already running (scripts/compose-run.sh up writes
 * .prism-compose/endpoints.json): the journeys run against it, and neither start nor stop a platform.
 */
const EXISTING = process.env.PRISM_ENDPOINTS_FILE;
const existingEndpoints = EXISTING ? (JSON.parse(readFileSync(EXISTING, 'utf8')) as Endpoints) : undefined;
/** What only the local platform has (its processes, state.json, its backup mode, Jaeger): not run against another. */
const itLocal = it.skipIf(Boolean(EXISTING));

/**
 * The certificate an HTTPS address presents, read without trusting it. The Compose dev edge serves Traefik's own
 * self-signed certificate (traefik.dev.yml: no CA, by design), so the journeys pin exactly that certificate for it;
 * every other address is verified against the platform's CA as usual.
 */
function presentedCertificate(url: string): Promise<PeerCertificate> {
  const { hostname, port } = new URL(url);
  return new Promise((res, rej) => {
    const s = tlsConnect({ host: hostname, port: Number(port || 443), rejectUnauthorized: false }, () => {
      res(s.getPeerCertificate());
      s.end();
    });
    s.on('error', rej);
  });
}

beforeAll(async () => {
  if (EXISTING) {
    dir = dirname(resolve(EXISTING));
    e = existingEndpoints!;
    [gw1, gw2] = e.gateways as [string, string];
    const ca = readFileSync(e.operator_mtls.ca_file, 'utf8');
    const pinned = new Set<string>();
    for (const url of new Set([...e.gateways, e.auth])) {
      const cert = await presentedCertificate(url);
      const x = new X509Certificate(cert.raw);
      if (x.issuer === x.subject && x.verify(x.publicKey)) pinned.add(cert.fingerprint256); // self-signed
    }
    // Verified against the platform's CA (chain and host name), or exactly the pinned self-signed certificate
    // (Traefik's default names no host): OpenSSL takes no self-signed leaf as a trust anchor, so this checks it.
    const connector: buildConnector.connector = (opts, cb) => {
      const port = Number(opts.port || (opts.protocol === 'https:' ? 443 : 80));
      if (opts.protocol !== 'https:') {
        const s = connect(port, opts.hostname, () => cb(null, s));
        s.on('error', (err) => cb(err, null));
        return s;
      }
      const servername = isIP(opts.hostname) ? undefined : opts.hostname;
      const s = tlsConnect({ host: opts.hostname, port, ca, servername, rejectUnauthorized: false });
      s.on('secureConnect', () => {
        if (s.authorized || pinned.has(s.getPeerCertificate().fingerprint256)) return cb(null, s);
        s.destroy();
        cb(new Error(`${opts.hostname}:${port}: ${String(s.authorizationError)}`), null);
      });
      s.on('error', (err) => cb(err, null));
      return s;
    };
    setGlobalDispatcher(new Agent({ connect: connector }));
    return;
  }
  dir = mkdtempSync(join(tmpdir(), 'prism-journeys-'));
  chmodSync(dir, 0o711);
  const t0 = Date.now();
  e = await up({ repoRoot: REPO, dir, gateways: 2 });
  console.log(`local platform up in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  [gw1, gw2] = e.gateways as [string, string];
  // The gateways and auth serve HTTPS with certificates of the platform's local CA, as in the model.
  setGlobalDispatcher(new Agent({ connect: { ca: readFileSync(e.operator_mtls.ca_file) } }));
}, 300_000);

afterAll(async () => {
  if (dir && !EXISTING) {
    await down(dir).catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
}, 120_000);

/** Every process in the tree under `roots` (the platform's processes and their children). */
function descendants(roots: readonly number[]): Set<number> {
  const parent = new Map<number, number>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      parent.set(Number(d), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      /* gone meanwhile */
    }
  }
  const out = new Set(roots);
  for (let grew = true; grew;) {
    grew = false;
    for (const [pid, ppid] of parent) {
      if (!out.has(ppid) || out.has(pid)) continue;
      out.add(pid);
      grew = true;
    }
  }
  return out;
}

/** The TCP listening addresses (`127.0.0.1:5432`, `[::]:8080`, ...) held by the processes `pids`, from /proc. */
function listeningAddresses(pids: Set<number>): string[] {
  const inodes = new Set<string>();
  for (const pid of pids) {
    try {
      for (const fd of readdirSync(`/proc/${pid}/fd`)) {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m) inodes.add(m[1]!);
      }
    } catch {
      /* gone meanwhile */
    }
  }
  const out: string[] = [];
  for (const [file, v6] of [
    ['/proc/net/tcp', false],
    ['/proc/net/tcp6', true],
  ] as const) {
    for (const line of readFileSync(file, 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      // local_address st ... inode: state 0A is LISTEN.
      if (f.length < 10 || f[3] !== '0A' || !inodes.has(f[9]!)) continue;
      const [hex, port] = f[1]!.split(':') as [string, string];
      // /proc writes each 32-bit word of the address in host (little-endian) byte order.
      const bytes = hex.match(/.{8}/g)!.flatMap((w) =>
        w
          .match(/../g)!
          .reverse()
          .map((b) => parseInt(b, 16)),
      );
      const addr = v6
        ? `[${Array.from({ length: 8 }, (_, i) => ((bytes[2 * i]! << 8) | bytes[2 * i + 1]!).toString(16)).join(':')}]`
        : bytes.join('.');
      out.push(`${addr}:${parseInt(port, 16)}`);
    }
  }
  return out;
}

describe('the local platform', () => {
  itLocal(
    'listens on loopback only: every port of every process of the platform (services, data stores, the example upstream)',
    () => {
      const state = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as { processes: RunningProcess[] };
      const listening = listeningAddresses(descendants(state.processes.map((p) => p.pid)));
      // The gateways, auth, config, the DB manager (HTTP, gRPC, metrics) and the stores: well over a dozen ports.
      expect(listening.length).toBeGreaterThan(15);
      const loopback = /^(127\.\d+\.\d+\.\d+|\[0:0:0:0:0:0:0:1\]|\[0:0:0:0:0:ffff:7f00:1\]):\d+$/;
      expect(listening.filter((a) => !loopback.test(a))).toEqual([]);
    },
  );

  itLocal('writes endpoints.json with every address, the key files and the rate limit in force', () => {
    const written = JSON.parse(readFileSync(join(dir, 'endpoints.json'), 'utf8'));
    expect(written).toEqual(e);
    expect(e.environment).toBe('dev');
    expect(e.gateways).toHaveLength(2);
    for (const k of ['auth_grpc', 'config_grpc', 'dbmanager_grpc'] as const) expect(e[k]).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(Object.keys(e.metrics).sort()).toEqual(['auth', 'config', 'dbmanager', 'gateway-1', 'gateway-2']);
    expect(e.rate_limit).toEqual({ enabled: true, requests_per_second: 100, burst: 200, on_redis_failure: 'open' });
    expect(existsSync(e.jwt_private_key_file) && existsSync(e.jwt_public_key_file)).toBe(true);
    expect(e.operator_mtls.identity).toBe('spiffe://prism/operator/local');
    for (const f of [e.operator_mtls.cert_file, e.operator_mtls.key_file, e.operator_mtls.ca_file])
      expect(f.startsWith(join(dir, 'mtls') + '/') && existsSync(f), f).toBe(true);
    // The operator's key is the operator's alone.
    expect(statSync(e.operator_mtls.key_file).mode & 0o077).toBe(0);
    // No secret in what is meant to be read and shown.
    const secrets = Object.values(
      JSON.parse(readFileSync(join(dir, 'secrets.json'), 'utf8')) as Record<string, string>,
    );
    const shown = JSON.stringify(e);
    for (const s of secrets) expect(shown).not.toContain(s);
  });

  it('PostgreSQL admits TCP over TLS only, and every client of it verifies it against the mesh CA', async () => {
    const ca = readFileSync(e.operator_mtls.ca_file, 'utf8');
    // Compose publishes no database port (its endpoints leave them empty).
    for (const addr of Object.values(e.postgres).filter(Boolean)) {
      const [host, port] = addr.split(':');
      const login = async (ssl: pg.ClientConfig['ssl']) => {
        const c = new pg.Client({ host, port: Number(port), user: 'prism', password: 'not-the-password', ssl });
        c.on('error', () => {});
        try {
          await c.connect();
        } finally {
          await c.end().catch(() => {});
        }
      };
      await expect(login(false), addr).rejects.toThrow(/no pg_hba\.conf entry .*no encryption/);
      // Over TLS, the certificate checked against the mesh CA for the address dialled: on to the password.
      await expect(login({ ca, rejectUnauthorized: true }), addr).rejects.toThrow(/password authentication failed/);
    }
    if (EXISTING) return;
    for (const s of ['auth', 'config', 'dbmanager'] as const) {
      const env = serviceEnvironment({ repoRoot: REPO, dir }, s);
      expect(env.PGSSLMODE, s).toBe('verify-full');
      expect(readFileSync(env.PGSSLROOTCERT!, 'utf8'), s).toBe(ca);
    }
  });
});

describe('user journeys', () => {
  let tokens: { access_token: string; refresh_token: string; session_id: string };

  it('register, then log in through the gateway', async () => {
    const reg = await http(`${gw1}/api/auth/register`, { method: 'POST', json: user });
    expect(reg.status).toBe(202);
    expect(reg.json).toMatchObject({ status: 'accepted' });
    // The same answer for an e-mail that has an account (issue 22.11): nothing tells them apart.
    const again = await http(`${gw1}/api/auth/register`, { method: 'POST', json: user });
    expect(again.status).toBe(202);
    expect(again.json).toEqual(reg.json);

    const login = await http(`${gw1}/api/auth/login`, { method: 'POST', json: user });
    expect(login.status).toBe(200);
    expect(login.json).toMatchObject({ token_type: 'Bearer', expires_in: 900 });
    traced.login = login.headers.get('x-request-id')!;
    tokens = login.json;
    const me = await http(`${gw1}/api/auth/me`, { headers: bearer(tokens.access_token) });
    expect(me.status).toBe(200);
    expect(me.json).toMatchObject({ email: user.email, email_verified: false, status: 'active' });
    userId = me.json.id;
    const wrong = await http(`${gw1}/api/auth/login`, {
      method: 'POST',
      json: { ...user, password: 'not the password at all' },
    });
    expect(wrong.status).toBe(401);
  });

  it('a protected route gets the verified identity; copies sent by the client are stripped', async () => {
    const anonymous = await http(`${gw1}/api/echo/hello`);
    expectGatewayError(anonymous, 401, 'authentication required');

    const r = await http(`${gw1}/api/echo/hello/world?x=1&y=a&y=b`, {
      headers: {
        ...bearer(tokens.access_token),
        [IDENTITY_HEADERS.userId]: 'someone-else',
        [IDENTITY_HEADERS.roles]: 'admin',
        'x-prism-anything': 'forged',
      },
    });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ method: 'GET', path: '/hello/world', query: { x: '1', y: ['a', 'b'] } });
    const h = r.json.headers as Record<string, string>;
    expect(h[IDENTITY_HEADERS.userId]).toBe(userId);
    expect(h[IDENTITY_HEADERS.method]).toBe('jwt');
    expect(h[IDENTITY_HEADERS.roles]).not.toContain('admin');
    expect(h['x-prism-anything']).toBeUndefined();

    // The public route needs nothing, and still strips forged identity headers.
    const pub = await http(`${gw2}/api/echo-public/ping`, { headers: { [IDENTITY_HEADERS.userId]: 'someone-else' } });
    expect(pub.status).toBe(200);
    expect(pub.json.path).toBe('/ping');
    expect(pub.json.headers[IDENTITY_HEADERS.userId]).toBeUndefined();
  });

  it('refresh rotates the tokens; reusing the spent refresh token revokes the session at both gateways', async () => {
    const r = await http(`${gw1}/api/auth/refresh`, { method: 'POST', json: { refresh_token: tokens.refresh_token } });
    expect(r.status).toBe(200);
    expect(r.json.session_id).toBe(tokens.session_id);
    expect(r.json.refresh_token).not.toBe(tokens.refresh_token);
    const fresh = r.json as typeof tokens;
    for (const gw of [gw1, gw2])
      expect((await http(`${gw}/api/echo/me`, { headers: bearer(fresh.access_token) })).status).toBe(200);

    const reuse = await http(`${gw2}/api/auth/refresh`, {
      method: 'POST',
      json: { refresh_token: tokens.refresh_token },
    });
    expect(reuse.status).toBe(401);
    for (const gw of [gw1, gw2])
      expectGatewayError(await refusedWithin100ms(gw, bearer(fresh.access_token)), 401, 'token revoked');
    // The rotated refresh token belongs to the revoked session too.
    expect(
      (await http(`${gw1}/api/auth/refresh`, { method: 'POST', json: { refresh_token: fresh.refresh_token } })).status,
    ).toBe(401);
  });

  let revokedAccess: string;
  it('logout revokes the access token at the gateway', async () => {
    const login = await http(`${gw1}/api/auth/login`, { method: 'POST', json: user });
    expect(login.status).toBe(200);
    revokedAccess = login.json.access_token;
    expect((await http(`${gw1}/api/echo/me`, { headers: bearer(revokedAccess) })).status).toBe(200);
    const out = await http(`${gw1}/api/auth/logout`, { method: 'POST', headers: bearer(revokedAccess) });
    expect(out.status).toBe(204);
    expect(out.text).toBe('');
    for (const gw of [gw1, gw2])
      expectGatewayError(await refusedWithin100ms(gw, bearer(revokedAccess)), 401, 'token revoked');
  });

  it('a revoked token sent to a public route does not block logging in again', async () => {
    const login = await http(`${gw2}/api/auth/login`, { method: 'POST', json: user, headers: bearer(revokedAccess) });
    expect(login.status).toBe(200);
    expect(login.json.token_type).toBe('Bearer');
    const pub = await http(`${gw2}/api/echo-public/x`, { headers: bearer(revokedAccess) });
    expect(pub.status).toBe(200);
  });

  let apiKey: { id: string; key: string };
  it('API key: create, use through the gateway, revoke', async () => {
    const login = await http(`${gw1}/api/auth/login`, { method: 'POST', json: user });
    tokens = login.json;
    const created = await http(`${gw1}/api/auth/api-keys`, {
      method: 'POST',
      json: { name: 'journey', scopes: ['echo:read'] },
      headers: bearer(tokens.access_token),
    });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ name: 'journey', scopes: ['echo:read'], revoked_at: null });
    expect(created.json.key).toMatch(/^prism_/);
    apiKey = created.json;

    const used = await http(`${gw2}/api/echo/with-key`, { headers: { 'x-api-key': apiKey.key } });
    expect(used.status).toBe(200);
    traced.apiKey = used.headers.get('x-request-id')!;
    expect(used.json.headers).toMatchObject({
      [IDENTITY_HEADERS.method]: 'api_key',
      [IDENTITY_HEADERS.userId]: userId,
      [IDENTITY_HEADERS.apiKeyId]: apiKey.id,
      [IDENTITY_HEADERS.scopes]: 'echo:read',
    });
    expect(used.json.headers['x-api-key']).toBeUndefined();
    expectGatewayError(
      await http(`${gw2}/api/echo/with-key`, { headers: { 'x-api-key': `${apiKey.key.slice(0, -4)}AAAA` } }),
      401,
      'invalid API key',
    );

    const revoked = await http(`${gw1}/api/auth/api-keys/${apiKey.id}`, {
      method: 'DELETE',
      headers: bearer(tokens.access_token),
    });
    expect(revoked.status).toBe(204);
    const since = performance.now();
    // Refused by both gateways within the bound, though the key's validation is still cached (in Redis, for 30 s).
    for (const gw of [gw1, gw2])
      expectGatewayError(
        await refusedWithin100ms(gw, { 'x-api-key': apiKey.key }, '/api/echo/with-key', since),
        401,
        'API key revoked',
      );
    const list = await http(`${gw1}/api/auth/api-keys`, { headers: bearer(tokens.access_token) });
    expect(list.json.api_keys.find((k: { id: string }) => k.id === apiKey.id).revoked_at).not.toBeNull();
  });

  it('a rate-limit change through the config service (npm run config) applies live at both gateways', async () => {
    // The model's limit (100/s, burst 200) is more than a busy test machine can send; operators lower it.
    const set = await config('set', 'rate_limit.burst', '10', '--service', 'gateway', '--comment', 'journey');
    // Recorded as the certificate's identity (operator/local; operator/cluster-run in the real-pods lane), not the
    // --by the command line claims.
    const operator = e.operator_mtls.identity.replace('spiffe://prism/', '');
    expect(set.stdout).toMatch(new RegExp(`^gateway/rate_limit\\.burst = 10 {2}\\(version \\d+, ${operator}, `));
    await config('set', 'rate_limit.requests_per_second', '2', '--service', 'gateway');
    for (const gw of [gw1, gw2]) {
      await until(
        `${gw} applies burst 10`,
        async () =>
          (await http(`${gw}/api/echo-public/probe`)).headers.get('ratelimit-limit') === '10' ? true : undefined,
        20_000,
      );
    }
    const history = await config('history', 'rate_limit.burst', '--service', 'gateway');
    expect(history.stdout).toMatch(new RegExp(`v\\d+ {2}set 10 {2}\\(${operator}, .*, "journey"\\)`));
    expect(history.stdout).not.toContain('journey-test');
    // Bad values are refused by the service with a reason, and change nothing.
    const bad = await config('set', 'rate_limit.burst', '"lots"', '--service', 'gateway').catch(
      (x: { stderr: string; code: number }) => x,
    );
    expect(bad).toMatchObject({ code: 1 });
    expect((bad as { stderr: string }).stderr).toMatch(/^config service: INVALID_ARGUMENT: /);
  }, 180_000);

  it("the config service refuses a caller without a certificate, and a service's certificate may not change values", async () => {
    const plain = await configAs(['--plaintext'], 'set', 'maintenance.enabled', 'true').catch(
      (x: { stderr: string; code: number }) => x,
    );
    expect(plain).toMatchObject({ code: 1 });
    expect((plain as { stderr: string }).stderr).toMatch(/^config service: UNAVAILABLE: /);
    // The gateway's own certificate (readable by whoever runs the gateway) reads settings but never writes them.
    // The gateway's certificate beside the operator's (the local platform's run directory, or .secrets/mtls).
    const gw = join(dirname(dirname(e.operator_mtls.cert_file)), 'gateway');
    const asGateway = ['--cert', join(gw, 'tls.crt'), '--key', join(gw, 'tls.key'), '--ca', join(gw, 'ca.crt')];
    const denied = await configAs(asGateway, 'set', 'maintenance.enabled', 'true').catch(
      (x: { stderr: string; code: number }) => x,
    );
    expect(denied).toMatchObject({ code: 1 });
    expect((denied as { stderr: string }).stderr).toMatch(/^config service: PERMISSION_DENIED: /);
    expect((await configAs(asGateway, 'list')).stdout).not.toContain('maintenance.enabled = true');
  }, 60_000);

  it('a burst over the limit gets 429 with Retry-After and RateLimit-*; two gateways together admit no more than the limit', async () => {
    const login = await http(`${gw1}/api/auth/login`, { method: 'POST', json: user });
    const token = login.json.access_token as string;
    const rate = 2;
    const burst = 10;
    const n = 40;
    const t0 = Date.now();
    const results = await Promise.all(
      Array.from({ length: n }, (_, i) => http(`${i % 2 ? gw2 : gw1}/api/echo/burst`, { headers: bearer(token) })),
    );
    const seconds = (Date.now() - t0) / 1000;
    const ok = results.filter((r) => r.status === 200);
    const limited = results.filter((r) => r.status === 429);
    // Every answer is the gateway's, admitted or limited: anything else (a 502, 503) is named with its body.
    const other = results.filter((r) => r.status !== 200 && r.status !== 429);
    expect(other.map((r) => `${r.status} ${JSON.stringify(r.json ?? r.text)}`)).toEqual([]);
    // GCRA: at most `burst` at once plus `rate` per second of the burst's duration, across both gateways.
    expect(ok.length).toBeGreaterThanOrEqual(burst);
    expect(ok.length).toBeLessThanOrEqual(burst + Math.ceil(rate * seconds) + 1);
    const r = limited[0]!;
    expectGatewayError(r, 429, 'rate limit exceeded');
    expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    const a = ok[0]!;
    expect(a.headers.get('ratelimit-limit')).toBe(String(burst));
    expect(Number(a.headers.get('ratelimit-remaining'))).toBeGreaterThanOrEqual(0);
    expect(a.headers.get('ratelimit-reset')).toMatch(/^\d+$/);
    // Both gateways refused part of it: one shared limit, not one per instance.
    expect(
      results.some((x, i) => i % 2 === 1 && x.status === 429) &&
        results.some((x, i) => i % 2 === 0 && x.status === 429),
    ).toBe(true);
  });

  it("deleting the change restores the model's limit, and maintenance mode applies live at both gateways", async () => {
    await config('delete', 'rate_limit.burst', '--service', 'gateway');
    await config('delete', 'rate_limit.requests_per_second', '--service', 'gateway');
    for (const gw of [gw1, gw2]) {
      await until(
        `${gw} is back to the model's limit`,
        async () =>
          (await http(`${gw}/api/echo-public/probe`)).headers.get('ratelimit-limit') === String(e.rate_limit.burst)
            ? true
            : undefined,
        20_000,
      );
    }

    await config('set', 'maintenance.message', 'Back at noon');
    await config('set', 'maintenance.enabled', 'true');
    for (const gw of [gw1, gw2]) {
      const r = await until(
        `${gw} in maintenance`,
        async () => {
          const x = await http(`${gw}/api/echo-public/m`);
          return x.status === 503 ? x : undefined;
        },
        20_000,
      );
      expectGatewayError(r, 503, 'Back at noon');
    }
    const list = await config('list');
    expect(list.stdout).toContain('global/maintenance.enabled = true');
    await config('set', 'maintenance.enabled', 'false');
    for (const gw of [gw1, gw2])
      await until(
        `${gw} out of maintenance`,
        async () => ((await http(`${gw}/api/echo-public/m`)).status === 200 ? true : undefined),
        20_000,
      );
  }, 180_000);

  // Against another platform the scripts pick their mode as an operator's shell would (compose when a Docker
  // engine answers at DOCKER_HOST); the real restore writes into the DB manager's own file system there.
  it.skipIf(!EXISTING)(
    'full backup, list and restore --dry-run (deploy/backup scripts, the mode they detect)',
    async () => {
      const script = (name: string, ...args: string[]) =>
        run('bash', [`deploy/backup/${name}`, ...args], { cwd: REPO, maxBuffer: 16 << 20 });
      const b = await script('backup.sh', 'auth', 'full');
      const name = /backup (\S+)/.exec(b.stdout)?.[1];
      expect(name, b.stdout).toBeDefined();
      expect((await script('backup.sh', 'list', 'auth')).stdout).toContain(name!);
      const dry = await script('restore.sh', 'auth', name!, '--dry-run');
      expect(dry.stdout).toContain(`dry run of ${name}: OK, nothing was written`);
    },
    240_000,
  );

  itLocal(
    'full backup, list, restore --dry-run and a real restore (deploy/backup scripts, local mode)',
    async () => {
      const b = await backupScript('backup.sh', 'auth', 'full');
      const name = /backup (\S+)/.exec(b.stdout)?.[1];
      expect(name, b.stdout).toBeDefined();
      const list = await backupScript('backup.sh', 'list', 'auth');
      expect(list.stdout).toContain(name!);
      const dry = await backupScript('restore.sh', 'auth', name!, '--dry-run');
      expect(dry.stdout).toContain(`dry run of ${name}: OK, nothing was written`);
      const target = join(dir, 'restored-auth');
      const real = await backupScript('restore.sh', 'auth', name!, '--target-dir', target);
      expect(real.stdout).toContain(`restore of ${name}: verified`);
      expect(real.stdout).toContain('prism_auth');
      expect(existsSync(join(target, 'PG_VERSION'))).toBe(true);
    },
    240_000,
  );

  it("the revoked API key is refused once the gateway's cache of it expires (auth.api_key_cache_seconds)", async () => {
    // Refused all along (or rate limited: the limit an earlier journey set may still hold); once the cached
    // validation expires, auth's own answer.
    const r = await until(
      "auth's answer for the revoked key",
      async () => {
        const x = await http(`${gw1}/api/echo/with-key`, { headers: { 'x-api-key': apiKey.key } });
        expect([401, 429]).toContain(x.status);
        return x.json?.error === 'invalid API key' ? x : undefined;
      },
      45_000,
    );
    expectGatewayError(r, 401, 'invalid API key');
  }, 60_000);

  itLocal(
    'SIGTERM to a gateway under load fails no request in flight; the supervisor starts it again',
    async () => {
      const state = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as { processes: RunningProcess[] };
      const target = state.processes.find((p) => p.name === 'gateway-2')!;
      // Slow requests in flight when the signal arrives, and fresh connections arriving during the drain.
      const slow = Array.from({ length: 20 }, () => http(`${gw2}/api/echo-public/slow?delay_ms=1500`));
      await new Promise((r) => setTimeout(r, 300));
      process.kill(target.pid, 'SIGTERM');
      const during: Promise<Res | Error>[] = [];
      for (let i = 0; i < 20; i++) {
        during.push(http(`${gw2}/api/echo-public/during`, { headers: { connection: 'close' } }).catch((x: Error) => x));
        await new Promise((r) => setTimeout(r, 50));
      }
      const slowResults = await Promise.all(slow);
      expect(slowResults.map((r) => r.status)).toEqual(Array(20).fill(200));
      for (const r of await Promise.all(during)) {
        // Answered in full, or refused at connect once the listener is closed: never cut off mid-request.
        if (r instanceof Error) expect((r.cause as { code?: string })?.code).toBe('ECONNREFUSED');
        else expect(r.status).toBe(200);
      }
      await until('gateway-2 to exit', async () => (isAlive(target) ? undefined : true), 30_000);
      expect((await http(`${gw1}/api/echo-public/still-here`)).status).toBe(200);
      // The supervisor starts it again, on its port.
      const now = () =>
        JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as {
          processes: RunningProcess[];
          restarts?: Record<string, number>;
        };
      await until(
        'gateway-2 to be started again',
        async () =>
          now().processes.some((p) => p.name === 'gateway-2' && p.pid !== target.pid && isAlive(p)) ? true : undefined,
        60_000,
      );
      await until(
        'gateway-2 to serve again',
        async () =>
          (await http(`${gw2}/api/echo-public/back`).catch(() => undefined))?.status === 200 ? true : undefined,
        60_000,
      );
      expect(now().restarts).toEqual({ 'gateway-2': 1 });
    },
    180_000,
  );
});

/**
 * The local platform, the real-pods lane (logs `kubernetes:<namespace>`, Jaeger in the cluster) and the Compose lane
 * (logs `docker:<project>`, the observability file's Jaeger): wherever the endpoints name where the logs are.
 */
const READS_TRACES = !existingEndpoints || existingEndpoints.logs !== '';
/** The lanes ship the log lines to a Loki with Alloy, as the model deploys it: a DaemonSet, or the Compose service. */
const SHIPS_LOGS = Boolean(existingEndpoints?.log_query);
describe.skipIf(!READS_TRACES)('traces in Jaeger v2 (tracing_query), and the log lines that link to them', () => {
  /** The one trace whose gateway span carries `requestId`, once every expected span has arrived. */
  const traceOf = async (requestId: string, complete: (spans: JaegerSpan[]) => boolean) => {
    let seen: JaegerSpan[][] = [];
    return until(
      `the trace of request ${requestId}`,
      async () => {
        seen = await findTraces(e.tracing_query, 'gateway', { 'prism.request_id': requestId });
        return seen.length === 1 && complete(seen[0]!) ? seen[0] : undefined;
      },
      20_000,
    ).catch((err: Error) => {
      throw new Error(
        `${err.message}; found ${JSON.stringify(seen.map((t) => t.map((s) => `${s.service} ${s.operationName}`)))}`,
      );
    });
  };

  itLocal('endpoints.json names the query API', () => {
    expect(e.tracing_query).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/api$/);
  });

  it("the login is one trace: the gateway's server and client spans, auth's HTTP span under them and its PostgreSQL queries; both services' log lines for it carry its trace id", async () => {
    const spans = await traceOf(traced.login!, (t) =>
      t.some((s) => s.service === 'auth' && s.operationName === 'POST /auth/login'),
    );
    const server = spans.find((s) => s.service === 'gateway' && s.operationName === 'POST /api/auth')!;
    const client = spans.find((s) => s.service === 'gateway' && tag(s, 'span.kind') === 'client')!;
    const authHttp = spans.find((s) => s.service === 'auth' && s.operationName === 'POST /auth/login')!;
    expect(parentOf(client)).toBe(server.spanID);
    expect(parentOf(authHttp)).toBe(client.spanID);
    expect(
      spans.some((s) => s.service === 'auth' && tag(s, 'db.system.name') === 'postgresql' && parentOf(s) !== undefined),
    ).toBe(true);
    const traceId = server.traceID;
    for (const process of ['gateway-1', 'auth']) {
      const lines = await logLinesOf(e.logs, process, traced.login!);
      expect(lines.length, `${process}: log lines of the login`).toBeGreaterThan(0);
      for (const line of lines) expect(linkedTraceId(line), `${process}: ${line}`).toBe(traceId);
    }
  });

  it.skipIf(!SHIPS_LOGS)(
    "the login's log lines reach Loki through the log shipper (Alloy: the node's pod logs, or the engine's container logs), labelled with their namespace, app, pod, container, node (Kubernetes) and level, and link to the login's trace",
    async () => {
      // The namespace, or the Compose project, as the shipper labels it.
      const [, kind, namespace] = /^(kubernetes|docker):(.+)$/.exec(e.logs)!;
      const spans = await traceOf(traced.login!, (t) => t.some((s) => s.service === 'auth'));
      for (const app of ['gateway', 'auth']) {
        const query = `{namespace=${JSON.stringify(namespace)}, app=${JSON.stringify(app)}} |= ${JSON.stringify(traced.login)}`;
        // Alloy tails the logs and pushes in batches: seconds, not at once.
        const lines = await until(
          `${app}'s log lines of the login in Loki (${query})`,
          async () => {
            const found = await findLogLines(e.log_query, query);
            return found.length > 0 ? found : undefined;
          },
          60_000,
        );
        for (const { labels, line } of lines) {
          const parsed = JSON.parse(line) as { reqId?: string; level?: string };
          expect(labels, line).toMatchObject({ namespace, app, container: app, level: parsed.level });
          // A pod's name (app-<hash>), or the container's (the service's container_name).
          expect(labels.pod, line).toMatch(new RegExp(`^${app}(-|$)`));
          if (kind === 'kubernetes') expect(labels.node, line).toBeTruthy();
          expect(parsed.reqId).toBe(traced.login);
          expect(linkedTraceId(line), line).toBe(spans[0]!.traceID);
        }
      }
    },
    90_000,
  );

  it("an API key's use is one trace across the gRPC hop: the gateway's ValidateApiKey client span, auth's server span with the request id from the metadata", async () => {
    const spans = await traceOf(traced.apiKey!, (t) => t.some((s) => s.service === 'auth'));
    const method = 'prism.auth.v1.AuthService/ValidateApiKey';
    const client = spans.find((s) => s.service === 'gateway' && s.operationName === method)!;
    const server = spans.find((s) => s.service === 'auth' && s.operationName === method)!;
    expect(client && server, JSON.stringify(spans.map((s) => `${s.service} ${s.operationName}`))).toBeTruthy();
    expect(parentOf(server)).toBe(client.spanID);
    expect(tag(server, 'prism.request_id')).toBe(traced.apiKey);
    expect(
      spans.some(
        (s) => s.service === 'auth' && tag(s, 'db.system.name') === 'postgresql' && parentOf(s) === server.spanID,
      ),
    ).toBe(true);
  });

  it('the config change (npm run config set) is a trace through the config service, down to its queries', async () => {
    const traces = await until(
      'a traced config Set',
      async () => {
        const found = await findTraces(e.tracing_query, 'config', undefined, 'prism.config.v1.ConfigService/Set');
        return found.find((t) => t.some((s) => tag(s, 'db.system.name') === 'postgresql')) ? found : undefined;
      },
      20_000,
    );
    expect(traces.length).toBeGreaterThan(0);
  });

  it('the backup (deploy/backup/backup.sh) is a trace of the DB manager, with its queries', async () => {
    const traces = await until(
      'a traced backup',
      async () => {
        const found = await findTraces(e.tracing_query, 'dbmanager', undefined, 'dbmanager backup auth full');
        return found.find((t) => t.some((s) => tag(s, 'db.system.name') === 'postgresql')) ? found : undefined;
      },
      20_000,
    );
    expect(traces.length).toBeGreaterThan(0);
  });
});

/** The lanes run the stack's Prometheus (the local platform has none). */
const SCRAPES = Boolean(existingEndpoints?.metrics_query);
describe.skipIf(!SCRAPES)('metrics in Prometheus (metrics_query)', () => {
  it('every scrape target Prometheus is configured with answers its scrape (the four services, the stores through their exporters, the observability components)', async () => {
    let last: ScrapeTarget[] = [];
    // A target's first scrape comes within one scrape interval (15 s) of its discovery.
    await until(
      'every scrape target up',
      async () => {
        last = await scrapeTargets(e.metrics_query);
        return last.length > 0 && last.every((t) => t.health === 'up') ? last : undefined;
      },
      90_000,
      1000,
    ).catch((err: Error) => {
      const bad = last
        .filter((t) => t.health !== 'up')
        .map((t) => `${t.job} ${t.scrapeUrl}: ${t.health} ${t.lastError}`);
      throw new Error(`${err.message}; not up: ${bad.join('; ')}`);
    });
    const jobs = new Set(last.map((t) => t.job));
    for (const job of ['gateway', 'auth', 'config', 'dbmanager', 'postgres-auth-exporter', 'redis-exporter', 'loki'])
      expect([...jobs], job).toContain(job);
  }, 120_000);

  it('has discovered its Alertmanager, and every alert rule evaluates without error', async () => {
    expect((await activeAlertmanagers(e.metrics_query)).length).toBeGreaterThan(0);
    const rules = await until(
      'every rule evaluated once',
      async () => {
        const found = await ruleHealth(e.metrics_query);
        return found.length > 0 && found.every((r) => r.health !== 'unknown') ? found : undefined;
      },
      60_000,
      1000,
    );
    for (const r of rules) expect(`${r.group}/${r.name}: ${r.health} ${r.lastError ?? ''}`).toMatch(/: ok $/);
  }, 90_000);

  it('fires the always-firing watchdog, and Alertmanager counts the firing alerts Prometheus sends it', async () => {
    await until(
      `${WATCHDOG_ALERT} firing`,
      async () => (await firingAlerts(e.metrics_query)).find((a) => a.alertname === WATCHDOG_ALERT),
      60_000,
      1000,
    );
    // Alertmanager's own count of the firing alerts it took in (Prometheus is its only sender), from its metrics as
    // Prometheus scrapes them every 15 s. Prometheus's count of what it sent is not there: it does not scrape itself.
    await until(
      'firing alerts received by Alertmanager',
      async () => {
        const n = await sumOf(e.metrics_query, 'alertmanager_alerts_received_total{status="firing"}');
        return n !== undefined && n > 0 ? n : undefined;
      },
      90_000,
      1000,
    );
  }, 180_000);
});

/** Deliveries the lane's webhook receiver got from Alertmanager (the real-pods lane runs one; alert_sink). */
interface AlertDelivery {
  readonly path: string;
  readonly body: { receiver: string; status: string; alerts: { labels: Record<string, string> }[] };
}
const NOTIFIES = Boolean(existingEndpoints?.alert_sink);
describe.skipIf(!NOTIFIES)("Alertmanager's notifications (alert_sink)", () => {
  const received = async () => (await (await fetch(`${e.alert_sink}/received`)).json()) as AlertDelivery[];
  const names = (d: AlertDelivery) => d.body.alerts.map((a) => a.labels.alertname);

  it('delivers the watchdog to the heartbeat receiver outside the cluster, through its egress policy, and to no other receiver', async () => {
    const beat = await until(
      'the watchdog at the heartbeat receiver',
      async () => (await received()).find((d) => d.body.receiver === 'heartbeat' && d.body.status === 'firing'),
      120_000,
      1000,
    );
    expect(beat.path).toBe('/heartbeat');
    expect(names(beat)).toEqual([WATCHDOG_ALERT]);
    // The default receiver gets what fires in the lane, never the watchdog.
    const elsewhere = (await received()).filter((d) => d.body.receiver !== 'heartbeat');
    expect(elsewhere.flatMap(names)).not.toContain(WATCHDOG_ALERT);
  }, 150_000);
});

describe('local:down', () => {
  itLocal(
    'stops every process it started and leaves no listening port',
    async () => {
      const state = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as {
        processes: RunningProcess[];
        ports: Record<string, number>;
        supervisor: RunningProcess;
      };
      const results = await down(dir);
      // The supervisor too (it started gateway-2 again after its SIGTERM above, so that one runs as well).
      expect(results.map((r) => r.name).sort()).toEqual([...state.processes.map((p) => p.name), 'supervisor'].sort());
      for (const r of results) expect([r.name, r.outcome]).toEqual([r.name, 'stopped']);
      for (const p of [...state.processes, state.supervisor]) expect(isAlive(p), p.name).toBe(false);
      for (const [k, port] of Object.entries(state.ports)) expect(await portOpen(`127.0.0.1:${port}`), k).toBe(false);
      expect(existsSync(join(dir, 'state.json'))).toBe(false);
      // The environment of a stopped platform is not available to the backup scripts.
      expect(() => serviceEnvironment({ repoRoot: REPO, dir }, 'dbmanager')).toThrow(/no local platform/);
    },
    120_000,
  );
});
