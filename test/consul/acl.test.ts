import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONSUL_MANAGEMENT_TOKEN, CONSUL_SERVICE_TOKENS, HEALTH_PATHS, SERVICE_NAMES, secretSpec } from '#contract';
import { createLogger, registerWithConsul } from '#runtime';
import { loadStack } from '#infra/config/index';
import { buildPlatform, component, THIRD_PARTY_IMAGES } from '#infra/model/index';
import { consulStartScript } from '#infra/model/files/consul';
import { freePort, waitFor } from '#test/support/net';

/**
 * Consul's ACLs (issue 22): the real Consul server runs the model's configuration (default deny) with a management
 * token, the model's set-up script creates the policies and tokens, and the services' own registration code runs
 * with its token. Before, Consul had no ACLs: anyone reaching port 8500 registered any name (a gateway's upstream
 * hijacked), read and wrote the KV store, and read the metrics.
 */

const run = promisify(execFile);
const platform = buildPlatform('prod', loadStack('stacks', 'prod').config);
const consulComponent = component(platform, 'consul');
const setupTask = consulComponent.tasks.find((t) => t.name === 'consul-setup')!;

/**
 * The Consul binary (scripts/control-plane-tools.sh consul caches it): on PATH, else the release the images pin
 * (download mode), else the newest the module proxy builds (source mode).
 */
function findConsul(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter))
    if (dir && existsSync(join(dir, 'consul'))) return join(dir, 'consul');
  const built = /^CONSUL=(\S+)/m.exec(readFileSync('scripts/control-plane-tools.sh', 'utf8'))![1]!;
  const cache = process.env.PRISM_TOOLS_CACHE ?? '/var/cache/prism-tools';
  return [`v${THIRD_PARTY_IMAGES.consul.tag}`, built]
    .map((v) => join(cache, `consul-${v}`, 'bin', 'consul'))
    .find((p) => existsSync(p));
}

const consulBin = findConsul();
const dir = mkdtempSync(join(tmpdir(), 'prism-consul-'));
const tokens = {
  management: randomUUID(),
  ...Object.fromEntries(SERVICE_NAMES.map((s) => [s, randomUUID()])),
  metrics: randomUUID(),
} as Record<'management' | 'metrics' | (typeof SERVICE_NAMES)[number], string>;
let http = 0;
let consul: ChildProcess | undefined;
let health: Server | undefined;
let healthPort = 0;

const api = (path: string, token?: string, init: RequestInit = {}) =>
  fetch(`http://127.0.0.1:${http}${path}`, {
    ...init,
    headers: { ...(token ? { 'x-consul-token': token } : {}), ...(init.headers as Record<string, string>) },
  });
const registration = (name: string) =>
  JSON.stringify({ ID: `${name}-attack`, Name: name, Address: '127.0.0.1', Port: healthPort });
const register = (name: string, token?: string) =>
  api('/v1/agent/service/register', token, { method: 'PUT', body: registration(name) });

/** The set-up task's files, where the test put them, and its environment with this test's tokens. */
async function runSetup(): Promise<string> {
  const setupDir = join(dir, 'setup');
  const files = setupTask.configFiles!;
  const mount = files[0]!.mountPath;
  rmSync(setupDir, { recursive: true, force: true });
  await run('mkdir', ['-p', setupDir]);
  for (const f of files) writeFileSync(join(setupDir, f.name), f.content.replaceAll(mount, setupDir));
  const env: NodeJS.ProcessEnv = {
    PATH: `${join(consulBin!, '..')}${delimiter}${process.env.PATH}`,
    CONSUL_HTTP_ADDR: `127.0.0.1:${http}`,
  };
  for (const [name, v] of Object.entries(setupTask.env!)) {
    if (!('secret' in v)) continue;
    const key = v.secret;
    env[name] =
      key === CONSUL_MANAGEMENT_TOKEN
        ? tokens.management
        : key === 'consul-metrics-token'
          ? tokens.metrics
          : tokens[SERVICE_NAMES.find((s) => CONSUL_SERVICE_TOKENS[s] === key)!];
  }
  const { stdout } = await run('/bin/sh', [join(setupDir, 'setup.sh')], { env, timeout: 60_000 });
  return stdout;
}

beforeAll(async () => {
  expect(consulBin, 'consul: bash scripts/control-plane-tools.sh consul (or scripts/install-tools.sh)').toBeDefined();
  health = createServer((req, res) => res.writeHead(req.url === HEALTH_PATHS.ready ? 200 : 404).end());
  healthPort = await new Promise<number>((r) =>
    health!.listen(0, '127.0.0.1', () => r((health!.address() as { port: number }).port)),
  );
  http = await freePort();
  const [serfLan, server] = [await freePort(), await freePort()];
  // The model's server.hcl, then this machine's ports and addresses (later files win).
  const configDir = join(dir, 'config');
  await run('mkdir', ['-p', configDir, join(dir, 'data')]);
  writeFileSync(join(configDir, 'server.hcl'), consulComponent.configFiles[0]!.content);
  writeFileSync(
    join(configDir, 'zz-test.hcl'),
    [
      `data_dir = "${join(dir, 'data')}"`,
      'bind_addr = "127.0.0.1"',
      'client_addr = "127.0.0.1"',
      `ports { http = ${http}\n dns = -1\n grpc = -1\n serf_lan = ${serfLan}\n serf_wan = -1\n server = ${server} }`,
      '',
    ].join('\n'),
  );
  // The model's start script (its paths here): the management token from the environment, as from the Secret.
  const start = consulStartScript({
    configDir,
    tokenVar: Object.keys(consulComponent.env)[0]!,
    tokenFile: join(dir, 'acl-tokens.hcl'),
  });
  consul = spawn('/bin/sh', ['-c', start], {
    stdio: 'ignore',
    env: {
      PATH: `${join(consulBin!, '..')}${delimiter}${process.env.PATH}`,
      [Object.keys(consulComponent.env)[0]!]: tokens.management,
    },
  });
  await waitFor(
    'a Consul leader',
    async () => ((await (await api('/v1/status/leader')).json()) as string) || undefined,
    30_000,
  );
  await runSetup();
}, 120_000);

afterAll(async () => {
  consul?.kill('SIGTERM');
  if (consul && consul.exitCode === null) await new Promise((r) => consul!.once('exit', r));
  health?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('Consul ACLs (real Consul, the model configuration and set-up)', () => {
  it('the model: default deny with ACLs on; the management token held by Consul and its set-up only', () => {
    for (const env of ['dev', 'staging', 'prod']) {
      const p = buildPlatform(env, loadStack('stacks', env).config);
      expect(component(p, 'consul').configFiles[0]!.content).toMatch(
        /acl \{\n {2}enabled = true\n {2}default_policy = "deny"\n {2}enable_token_persistence = true\n\}/,
      );
      const holders = p.components.flatMap((c) =>
        [{ name: c.name, env: c.env }, ...c.tasks.map((t) => ({ name: t.name, env: t.env ?? c.env }))]
          .filter((w) => Object.values(w.env).some((v) => 'secret' in v && v.secret === CONSUL_MANAGEMENT_TOKEN))
          .map((w) => w.name),
      );
      expect(holders.sort(), env).toEqual(['consul', 'consul-setup']);
      // Each service holds its own token, and no other Consul token.
      for (const s of SERVICE_NAMES) {
        const c = component(p, s);
        const consulKeys = Object.values(c.env).flatMap((v) =>
          'secret' in v && v.secret.startsWith('consul-') ? [v.secret] : [],
        );
        expect(consulKeys, `${env} ${s}`).toEqual([CONSUL_SERVICE_TOKENS[s]]);
        expect(c.env.PRISM_CONSUL_TOKEN, `${env} ${s}`).toEqual({ secret: CONSUL_SERVICE_TOKENS[s] });
      }
      expect(component(p, 'consul').metricsToken).toBe('consul-metrics-token');
      expect(secretSpec('consul-metrics-token').source).toBe('consul-token');
    }
  });

  it('refuses an anonymous registration, KV read and metrics', async () => {
    expect((await register('gateway')).status).toBe(403);
    expect((await api('/v1/kv/prism/anything')).status).toBe(403);
    expect((await api('/v1/agent/metrics?format=prometheus')).status).toBe(403);
    expect((await api('/v1/catalog/services')).status).toBe(200);
    expect(await (await api('/v1/catalog/services')).json()).not.toHaveProperty('gateway');
  });

  it("a service's token registers its own name (the runtime's code), Consul's health check passes, and deregisters", async () => {
    const log = createLogger({ service: 'gateway', level: 'silent' });
    const deregister = registerWithConsul(
      {
        address: `127.0.0.1:${http}`,
        token: tokens.gateway,
        service: 'gateway',
        host: '127.0.0.1',
        port: healthPort,
        metricsPort: healthPort,
      },
      log,
    );
    const passing = await waitFor(
      'a passing gateway',
      async () => {
        const list = (await (await api('/v1/health/service/gateway?passing=1', tokens.management)).json()) as unknown[];
        return list.length === 1 ? list : undefined;
      },
      30_000,
    );
    expect(passing).toHaveLength(1);
    await deregister();
    const after = (await (await api('/v1/health/service/gateway', tokens.management)).json()) as unknown[];
    expect(after).toHaveLength(0);
  });

  // A Compose container sits on several networks; the runtime registered its first interface's address, which was
  // the observability network's, one Consul is not on. Here the host has other interfaces than loopback (the
  // engines' bridges), and Consul and the health server are on 127.0.0.1 only: only the route's address passes.
  it('without a given host, registers the address on the route to Consul, where its health check passes', async () => {
    const log = createLogger({ service: 'gateway', level: 'silent' });
    const deregister = registerWithConsul(
      {
        address: `127.0.0.1:${http}`,
        token: tokens.gateway,
        service: 'gateway',
        port: healthPort,
        metricsPort: healthPort,
      },
      log,
    );
    const passing = await waitFor(
      'a passing gateway',
      async () => {
        const list = (await (await api('/v1/health/service/gateway?passing=1', tokens.management)).json()) as {
          Service: { Address: string };
        }[];
        return list.length === 1 ? list : undefined;
      },
      30_000,
    );
    expect(passing[0]!.Service.Address).toBe('127.0.0.1');
    await deregister();
  }, 45_000);

  it("a service's token cannot register another name, nor read KV, tokens or policies", async () => {
    await api('/v1/kv/prism/secret', tokens.management, { method: 'PUT', body: 'value' });
    for (const s of SERVICE_NAMES) {
      const t = tokens[s];
      for (const other of [...SERVICE_NAMES.filter((o) => o !== s), 'consul', 'anything'])
        expect((await register(other, t)).status, `${s} registers ${other}`).toBe(403);
      expect((await api('/v1/kv/prism/secret', t)).status, `${s} reads KV`).toBe(403);
      expect((await api('/v1/kv/prism/x', t, { method: 'PUT', body: 'x' })).status, `${s} writes KV`).toBe(403);
      expect((await api('/v1/acl/tokens', t)).status, `${s} lists tokens`).toBe(403);
      expect((await api('/v1/acl/policies', t)).status, `${s} lists policies`).toBe(403);
      expect((await api('/v1/agent/metrics', t)).status, `${s} reads metrics`).toBe(403);
      expect((await register(s, t)).status, `${s} registers itself`).toBe(200);
      expect((await api(`/v1/agent/service/deregister/${s}-attack`, t, { method: 'PUT' })).status).toBe(200);
    }
  });

  it("Prometheus's token reads the metrics (as a Bearer token, as Prometheus sends it) and nothing else", async () => {
    const metrics = await fetch(`http://127.0.0.1:${http}/v1/agent/metrics?format=prometheus`, {
      headers: { authorization: `Bearer ${tokens.metrics}` },
    });
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toMatch(/^consul_/m);
    expect((await register('prometheus', tokens.metrics)).status).toBe(403);
    expect((await register('gateway', tokens.metrics)).status).toBe(403);
    expect((await api('/v1/kv/prism/secret', tokens.metrics)).status).toBe(403);
    expect((await api('/v1/acl/tokens', tokens.metrics)).status).toBe(403);
  });

  it('the set-up runs again without change (every deploy runs it)', async () => {
    const out = await runSetup();
    expect(out).not.toMatch(/token created/);
    expect(out).toMatch(/ACL policies and tokens in place/);
    expect((await register('auth', tokens.auth)).status).toBe(200);
  });
  it('a rotated token ends the old one; tokens of other descriptions stay', async () => {
    const operator = randomUUID();
    const created = await api('/v1/acl/token', tokens.management, {
      method: 'PUT',
      body: JSON.stringify({ SecretID: operator, Description: 'an operator', Policies: [{ Name: 'prism-metrics' }] }),
    });
    expect(created.status).toBe(200);
    const old = tokens.gateway;
    tokens.gateway = randomUUID();
    const out = await runSetup();
    expect(out).toMatch(/token created: prism gateway/);
    expect(out).toMatch(/token replaced: prism gateway/);
    expect(out).not.toMatch(/token (created|replaced): prism (auth|config|dbmanager|prometheus)/);
    expect((await register('gateway', old)).status, 'the rotated-out token').toBe(403);
    expect((await register('gateway', tokens.gateway)).status, 'the new token').toBe(200);
    const self = await api('/v1/acl/token/self', operator);
    expect(self.status, "the operator's token").toBe(200);
  });
});
