// The service images' real work, run by scripts/image-test.sh: the local platform (npm run local:up's own
// function: PostgreSQL, Redis, NATS JetStream, MinIO, the local CA's certificates, the services from source)
// gives each image the environment the model gives its service, with ports of its own; the image runs beside
// the platform (uid 10001, read-only root, every capability dropped, host network: the stores listen on
// 127.0.0.1) and must answer /health/ready and one real request:
//   auth     register and log in over HTTPS (the local CA's certificate), against the platform's PostgreSQL
//   config   set and get a value over gRPC with the operator's mTLS certificate
//   gateway  log the user in through the gateway image, which talks to the auth image (gRPC, JWKS, the proxied
//            route; the auth image's request counter must count the login), then a protected route with the token
// Files the environment names (certificates, keys, gateway.yaml) are copied for uid 10001 and mounted read-only
// at the same paths. Usage: node --import tsx scripts/image-test-services.ts <engine words> -- <service...>
import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { Agent, fetch as undiciFetch } from 'undici';
import { HEALTH_PATHS, METRICS, PG_TLS_ENV } from '#contract';
import { attachContext, type PlatformState } from '#infra/local-platform/context';
import { readState } from '#infra/local-platform/launcher';
import { layout } from '#infra/local-platform/layout';
import { down, up } from '#infra/local-platform/platform';
import { serviceEnv, type ServiceName } from '#infra/local-platform/services';

const REPO = resolve(import.meta.dirname, '..');
const run = promisify(execFile);
const argv = process.argv.slice(2);
const sep = argv.indexOf('--');
const engine = argv.slice(0, sep);
const services = argv.slice(sep + 1) as Exclude<ServiceName, 'dbmanager'>[];
const TAG = process.env.PRISM_IMAGE_TAG ?? 'image-test';
const OPTS = (process.env.PRISM_IMAGE_RUN_OPTS ?? '').split(/\s+/).filter(Boolean);
const work = mkdtempSync(join(process.env.TMPDIR ?? '/var/tmp', 'prism-image-services-'));
chmodSync(work, 0o711); // PostgreSQL's own user reaches its data directory below
const dir = join(work, 'platform');
const containers: string[] = [];
let failed = 0;
const say = (l: string) => process.stdout.write(`${l}\n`);
const bad = (l: string) => (failed++, say(`FAIL ${l}`));

function freePort(): Promise<number> {
  return new Promise((res) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => res(port));
    });
  });
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/**
 * Starts the image of `name` with the platform's environment for `instance`, on ports of its own; returns
 * them. Files named by the environment are copied for uid 10001 (the platform's keys are its own, 0600).
 */
async function startImage(name: ServiceName, instance: string, rewrite: Readonly<Record<string, string>> = {}) {
  const state = readState<PlatformState>(layout(dir).state)!;
  const pc = attachContext(REPO, layout(dir), state);
  // `rewrite` swaps addresses (the platform's auth for the auth image's) in the values and in the files they name.
  const swap = (text: string) => Object.entries(rewrite).reduce((t, [from, to]) => t.replaceAll(from, to), text);
  const env = Object.fromEntries(
    Object.entries(serviceEnv(pc, name, instance))
      // The service's own variables, and libpq's TLS ones (PostgreSQL takes TLS only, verified against the mesh CA).
      .filter(([k]) => k.startsWith('PRISM_') || (Object.values(PG_TLS_ENV) as string[]).includes(k))
      .map(([k, v]) => [k, swap(v)]),
  );
  const ports = { http: await freePort(), grpc: await freePort(), metrics: await freePort() };
  for (const [k, v] of [
    ['PRISM_HTTP_PORT', ports.http],
    ['PRISM_GRPC_PORT', ports.grpc],
    ['PRISM_METRICS_PORT', ports.metrics],
  ] as const)
    if (env[k] !== undefined) env[k] = String(v);
  const mounts: string[] = [];
  const stage = join(work, `files-${name}`);
  for (const v of new Set(Object.values(env).flatMap((x) => x.split(',')))) {
    if (!v.startsWith('/') || !existsSync(v)) continue;
    cpSync(v, join(stage, v), { recursive: true });
    if (v.endsWith('.yaml')) writeFileSync(join(stage, v), swap(readFileSync(v, 'utf8')));
    execFileSync('chown', ['-R', '10001:10001', join(stage, v)]);
    mounts.push('-v', `${join(stage, v)}:${v}:ro`);
  }
  const c = `prism-image-work-${name}`;
  const envFile = join(work, `${name}.env`);
  writeFileSync(
    envFile,
    Object.entries(env)
      .map(([k, v]) => `${k}=${v}\n`)
      .join(''),
    { mode: 0o600 },
  );
  containers.push(c);
  await run(engine[0]!, [
    ...engine.slice(1),
    'run',
    '-d',
    '--name',
    c,
    ...OPTS,
    '--network',
    'host',
    '--tmpfs',
    '/tmp:size=16m',
    ...mounts,
    // From a file: no secret on a command line (nor in an error that prints it).
    '--env-file',
    envFile,
    `localhost/prism-${name}:${TAG}`,
  ]);
  const t = Date.now();
  try {
    await until(`${name}: ${HEALTH_PATHS.ready}`, async () =>
      (await fetch(`http://127.0.0.1:${ports.metrics}${HEALTH_PATHS.ready}`)).ok ? true : undefined,
    );
  } catch (e) {
    const logs = await run(engine[0]!, [...engine.slice(1), 'logs', '--tail', '15', c]).catch(() => undefined);
    say(`${logs?.stdout ?? ''}${logs?.stderr ?? ''}`);
    throw e;
  }
  say(`${name}: the image answered ${HEALTH_PATHS.ready} after ${((Date.now() - t) / 1000).toFixed(1)} s`);
  return { ports, env };
}

async function main() {
  let t = Date.now();
  const e = await up({ repoRoot: REPO, dir, fresh: true });
  say(
    `image-test: local platform up in ${((Date.now() - t) / 1000).toFixed(0)} s (the stores and the CA the images use)`,
  );
  const tls = new Agent({ connect: { ca: readFileSync(e.operator_mtls.ca_file) } });
  const post = async (url: string, json: unknown) => {
    const r = await undiciFetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(json),
      dispatcher: tls,
    });
    return { status: r.status, json: (await r.json().catch(() => undefined)) as Record<string, unknown> | undefined };
  };
  const user = { email: `image-test-${Date.now()}@example.com`, password: 'correct horse battery staple' };
  let authImage: { http: number; grpc: number; metrics: number } | undefined;
  /** The logins a service has answered, by its request counter (the contract's metric, route label). */
  const loginsAt = async (metricsPort: number) =>
    (await (await fetch(`http://127.0.0.1:${metricsPort}${HEALTH_PATHS.metrics}`)).text())
      .split('\n')
      .filter((l) => l.startsWith(`${METRICS.httpRequests}{`) && /route="[^"]*\/login"/.test(l))
      .reduce((n, l) => n + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
  for (const name of services) {
    t = Date.now();
    try {
      if (name === 'auth') {
        const { ports } = await startImage('auth', 'auth');
        authImage = ports;
        const base = `${new URL(e.auth).protocol}//127.0.0.1:${ports.http}/auth`;
        const reg = await post(`${base}/register`, user);
        const login = await post(`${base}/login`, user);
        if (reg.status === 202 && login.status === 200 && login.json?.token_type === 'Bearer')
          say(
            `auth: register ${reg.status} and login ${login.status} at the image over ${base.split(':')[0]} (a Bearer token)`,
          );
        else bad(`auth: register ${reg.status} ${JSON.stringify(reg.json)}, login ${login.status}`);
      } else if (name === 'config') {
        const { ports } = await startImage('config', 'config');
        const cli = (...args: string[]) =>
          run(
            process.execPath,
            [
              '--import',
              'tsx',
              'services/config/src/cli.ts',
              ...args,
              '--service',
              'gateway',
              '--address',
              `127.0.0.1:${ports.grpc}`,
              '--environment',
              e.environment,
              '--cert',
              e.operator_mtls.cert_file,
              '--key',
              e.operator_mtls.key_file,
              '--ca',
              e.operator_mtls.ca_file,
            ],
            { cwd: REPO },
          );
        await cli('set', 'rate_limit.burst', '17');
        const got = (await cli('get', 'rate_limit.burst')).stdout;
        // The service records who set it: the identity of the operator's certificate (operator/<name>).
        if (/= 17 /.test(got) && got.includes(e.operator_mtls.identity.replace(/^spiffe:\/\/[^/]+\//, '')))
          say(`config: set and get over gRPC with the operator's mTLS certificate: ${got.trim().split('\n')[0]}`);
        else bad(`config: get answered ${got}`);
      } else if (name === 'gateway') {
        if (!authImage) await post(`${e.auth}/auth/register`, user);
        // With the auth image running, the gateway image talks to it (gRPC, JWKS, the proxied routes), not to
        // the platform's auth: the auth image's own request counter must count the login.
        const rewrite = authImage
          ? {
              [new URL(e.auth).host]: `127.0.0.1:${authImage.http}`,
              [e.auth_grpc]: `127.0.0.1:${authImage.grpc}`,
            }
          : {};
        const before = authImage ? await loginsAt(authImage.metrics) : 0;
        const { ports } = await startImage('gateway', 'gateway-1', rewrite);
        const gw = `${new URL(e.gateways[0]!).protocol}//127.0.0.1:${ports.http}`;
        const login = await post(`${gw}/api/auth/login`, user);
        // The token on a protected route: the image verifies it (auth's keys) and proxies to the upstream.
        const me = await undiciFetch(`${gw}${e.routes.echo}/me`, {
          headers: { authorization: `Bearer ${String(login.json?.access_token)}` },
          dispatcher: tls,
        });
        const counted = authImage ? (await loginsAt(authImage.metrics)) - before : 1;
        if (authImage && counted !== 1)
          bad(`gateway: the auth image counted ${counted} logins, not the one through the gateway image`);
        else if (authImage) say('gateway: the login reached the auth image (its prism_http_requests_total counted it)');
        if (login.status === 200 && login.json?.token_type === 'Bearer' && me.status === 200)
          say(
            `gateway: POST /api/auth/login through the image, proxied to auth: ${login.status}; ${e.routes.echo}/me with its token: ${me.status}`,
          );
        else
          bad(
            `gateway: login through the image ${login.status} ${JSON.stringify(login.json)}, ${e.routes.echo}/me ${me.status}`,
          );
      }
      say(`${name}: real work in ${((Date.now() - t) / 1000).toFixed(0)} s`);
    } catch (err) {
      bad(`${name}: ${(err as Error).message}`);
    }
  }
}

try {
  await main();
} catch (err) {
  bad(`image-test-services: ${(err as Error).message}`);
} finally {
  for (const c of containers) await run(engine[0]!, [...engine.slice(1), 'rm', '-f', c]).catch(() => {});
  if (existsSync(dir)) await down(dir).catch(() => {});
  if (statSync(work, { throwIfNoEntry: false })) rmSync(work, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
