import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { loadStack } from '../../infra/config/index.js';
import { gatewayConfigSchema, PG_ROLES, type PgRole, requiredEnv, SERVICE_NAMES } from '../../infra/contract/index.js';
import { layout } from '../../infra/local-platform/layout.js';
import { checkPrerequisites, findPostgresBin, INSTALL_SCRIPT } from '../../infra/local-platform/prerequisites.js';
import {
  componentEnv,
  ECHO_ROUTES,
  localGatewayYaml,
  localMinioSetup,
  portKeys,
  type RenderContext,
} from '../../infra/local-platform/render.js';
import { buildPlatform, component } from '../../infra/model/index.js';

const stack = loadStack('stacks', 'dev');
const platform = buildPlatform(stack.name, stack.config);
const keys = portKeys(platform, 2);
const ports = Object.fromEntries(keys.map((k, i) => [k, 40_000 + i]));
const secrets = {
  ...Object.fromEntries(
    Object.values(PG_ROLES as Record<string, PgRole>)
      .filter((r) => r.password)
      .map((r) => [r.password!, `pw-${r.name}`]),
  ),
  'redis-password': 'pw-redis-3',
  'redis-gateway-password': 'pw-redis-gateway',
  'redis-auth-password': 'pw-redis-auth',
  'redis-exporter-password': 'pw-redis-exporter',
  'gateway-cache-key': 'gateway-cache-key-6',
  'minio-root-password': 'pw-root-4',
  'minio-backup-secret-key': 'pw-backup-5',
} as const;
const ctx: RenderContext = { platform, ports, layout: layout('/state'), secrets, gateways: 2 };
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('the local renderer', () => {
  it('allocates a port per model port of every local component and gateway instance, Jaeger included, and nothing for Consul or the rest of observability', () => {
    expect(keys).toContain('gateway-1/http');
    expect(keys).toContain('gateway-2/metrics');
    expect(keys).toContain('nats/monitor');
    expect(keys).not.toContain('nats/cluster');
    expect(keys).toEqual(expect.arrayContaining(['jaeger/ui', 'jaeger/otlp-http', 'jaeger/health']));
    expect(keys.some((k) => /^(consul|prometheus|loki|grafana)\//.test(k))).toBe(false);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('puts every writable directory of the model (the DB manager scratch and WAL spool) under the platform directory, so two platforms share none', () => {
    const [a, b] = [
      { ...ctx, layout: layout('/platform-a') },
      { ...ctx, layout: layout('/platform-b') },
    ];
    const dbmanager = component(platform, 'dbmanager');
    expect(dbmanager.writablePaths.some((w) => w.path === '/var/lib/prism/scratch')).toBe(true);
    expect(componentEnv(a, dbmanager).PRISM_DBMANAGER_SCRATCH_DIR).toBe('/platform-a/run/dbmanager/scratch');
    expect(componentEnv(b, dbmanager).PRISM_DBMANAGER_SCRATCH_DIR).toBe('/platform-b/run/dbmanager/scratch');
    // No variable of any local component names a writable path of the model (machine-wide on this host).
    for (const name of [...SERVICE_NAMES, 'redis', 'nats', 'minio', 'postgres-auth', 'postgres-ops'] as const) {
      const c = component(platform, name);
      const writable = c.writablePaths.map((w) => w.path).filter((p) => p !== '/tmp');
      for (const [k, v] of Object.entries(componentEnv(a, c)))
        for (const w of writable) expect(v === w || v.startsWith(`${w}/`), `${name}: ${k}=${v}`).toBe(false);
    }
  });

  it('gives each service every required variable of its contract, with local addresses only and secrets from the local store', () => {
    for (const name of SERVICE_NAMES) {
      const env = componentEnv(ctx, component(platform, name));
      for (const v of requiredEnv(name)) expect(env[v], `${name}: ${v}`).toBeDefined();
      for (const [k, v] of Object.entries(env)) {
        // No container host name survives (auth:8081, redis:6379, minio:9000, ...).
        expect(v, `${name}: ${k}`).not.toMatch(/\b(auth|config|redis|nats|minio|jaeger|consul):\d/);
      }
      expect(env.PRISM_CONSUL_ADDRESS).toBeUndefined();
      // Tracing is on locally: the model's endpoint, on the local Jaeger's OTLP/HTTP port.
      expect(env.PRISM_OTLP_ENDPOINT).toBe(`http://127.0.0.1:${ports['jaeger/otlp-http']}/v1/traces`);
    }
    const gw = componentEnv(ctx, component(platform, 'gateway'));
    expect(gw.PRISM_REDIS_ADDRESS).toBe(`127.0.0.1:${ports['redis/redis']}`);
    // Its own Redis user, never the operator's password; the HMAC key of its cache.
    expect([gw.PRISM_REDIS_USERNAME, gw.PRISM_REDIS_PASSWORD]).toEqual(['gateway', 'pw-redis-gateway']);
    expect(gw.PRISM_GATEWAY_CACHE_KEY).toBe('gateway-cache-key-6');
    expect(gw.PRISM_GATEWAY_CONFIG_FILE).toBe('/state/config/gateway/gateway.yaml');
    expect(gw.PRISM_JWT_PUBLIC_KEY_FILE).toBe('/state/keys/public.pem');
    // TLS with the service's own certificate (the NATS user it maps to).
    expect(gw.PRISM_NATS_URL).toBe(`tls://127.0.0.1:${ports['nats/client']}`);
    const auth = componentEnv(ctx, component(platform, 'auth'));
    expect(auth.PRISM_JWT_PRIVATE_KEY_FILE).toBe('/state/keys/private.pem');
    // OAuth credentials only a person can give: left out, so the feature is off.
    expect(auth.PRISM_GOOGLE_CLIENT_ID).toBeUndefined();
  });

  it("points every variable naming a file of the model's mTLS mount at the service's own local certificate", () => {
    for (const name of SERVICE_NAMES) {
      const c = component(platform, name);
      const env = componentEnv(ctx, c);
      expect(env.PRISM_MTLS_ENABLED, name).toBe('true');
      expect([env.PRISM_MTLS_CERT_FILE, env.PRISM_MTLS_KEY_FILE, env.PRISM_MTLS_CA_FILE], name).toEqual([
        `/state/mtls/${name}/tls.crt`,
        `/state/mtls/${name}/tls.key`,
        `/state/mtls/${name}/ca.crt`,
      ]);
      // Generic: whatever variable the model points into the mount (PRISM_TLS_* too) follows; none keeps a container path.
      for (const [k, v] of Object.entries(env)) expect(v, `${name}: ${k}`).not.toContain(c.identity!.mountPath);
    }
    // A variable the model adds later into the same mount is mapped the same way.
    const gw = component(platform, 'gateway');
    const extended = { ...gw, env: { ...gw.env, PRISM_TLS_CERT_FILE: { value: `${gw.identity!.mountPath}/tls.crt` } } };
    expect(componentEnv(ctx, extended).PRISM_TLS_CERT_FILE).toBe('/state/mtls/gateway/tls.crt');
  });

  it('keeps the scheme of the auth upstream (TLS or not) and changes only its address', () => {
    const gw = component(platform, 'gateway');
    const authPort = component(platform, 'auth').ports.find((p) => p.name === 'http')!.port;
    const file = gw.configFiles.find((f) => f.name === 'gateway.yaml')!;
    const https = {
      ...gw,
      configFiles: gw.configFiles.map((f) =>
        f === file ? { ...f, content: f.content.replaceAll(`http://auth:${authPort}`, `https://auth:${authPort}`) } : f,
      ),
    };
    const tlsPlatform = { ...platform, components: platform.components.map((c) => (c.name === 'gateway' ? https : c)) };
    const doc = gatewayConfigSchema.parse(parseYaml(localGatewayYaml({ ...ctx, platform: tlsPlatform })));
    expect(doc.routes.find((r) => r.prefix === '/api/auth')!.upstream).toBe(`https://127.0.0.1:${ports['auth/http']}`);
  });

  it("renders a gateway.yaml the gateway accepts: the model's routes on the local auth, plus the echo routes", () => {
    const doc = gatewayConfigSchema.parse(parseYaml(localGatewayYaml(ctx)));
    const byPrefix = Object.fromEntries(doc.routes.map((r) => [r.prefix, r]));
    // The model's scheme: auth serves HTTPS with its mesh certificate, verified against the mesh CA.
    expect(byPrefix['/api/auth']!.upstream).toBe(`https://127.0.0.1:${ports['auth/http']}`);
    expect(byPrefix['/api/auth']!.ca_file).toMatch(/\/mtls\/gateway\/ca\.crt$/);
    expect(doc.auth.jwks_url).toBe(`https://127.0.0.1:${ports['auth/http']}/auth/.well-known/jwks.json`);
    expect(byPrefix[ECHO_ROUTES.protected]!.ca_file).toBeUndefined();
    expect(byPrefix[ECHO_ROUTES.protected]).toMatchObject({
      upstream: `http://127.0.0.1:${ports['echo/http']}`,
      auth_required: true,
      rewrite: '/',
    });
    expect(byPrefix[ECHO_ROUTES.public]).toMatchObject({
      upstream: `http://127.0.0.1:${ports['echo/http']}`,
      auth_required: false,
      rewrite: '/',
    });
    expect(doc.rate_limit).toEqual({ enabled: true, requests_per_second: 100, burst: 200, on_redis_failure: 'open' });
  });

  it("reuses the model's MinIO set-up script with the local endpoint; the secrets go in its environment only", () => {
    const { script, env } = localMinioSetup(ctx);
    expect(script).toContain(`mc alias set prism "http://127.0.0.1:${ports['minio/api']}"`);
    expect(script).toContain('mc mb --ignore-existing --with-lock "prism/prism-backups"');
    expect(script).not.toContain('pw-');
    expect(env).toEqual({
      MINIO_ROOT_USER: 'prism-admin',
      MINIO_ROOT_PASSWORD: 'pw-root-4',
      MINIO_BACKUP_SECRET_KEY: 'pw-backup-5',
      BACKUP_RETENTION_DAYS: '14',
    });
  });
});

describe('prerequisites', () => {
  it('a missing program stops with one line naming it and the command that installs it', () => {
    const bin = mkdtempSync(join(tmpdir(), 'prism-prereq-'));
    dirs.push(bin);
    const pgBin = findPostgresBin()!;
    expect(() => checkPrerequisites({ PATH: bin, PRISM_PG_BIN: pgBin })).toThrow(
      /^missing prerequisite: redis-server; install it with `sudo apt-get install redis-server` \(or everything: sudo bash scripts\/install-prerequisites\.sh\)$/,
    );
    expect(() => checkPrerequisites({ PATH: bin, PRISM_PG_BIN: bin })).toThrow(
      /^missing prerequisite: PostgreSQL server programs .*`sudo apt-get install postgresql`/,
    );
    for (const p of ['redis-server', 'nats-server']) symlinkSync('/bin/true', join(bin, p));
    expect(() => checkPrerequisites({ PATH: bin, PRISM_PG_BIN: pgBin })).toThrow(
      `missing prerequisite: minio; install it with \`sudo bash ${INSTALL_SCRIPT}\``,
    );
  });
});
