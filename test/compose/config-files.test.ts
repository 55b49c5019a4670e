import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { findJaeger } from '../../infra/local-platform/prerequisites.js';
import { ensureLocalPki } from '../../infra/local/mtls-pki.js';
import { PROMETHEUS_SECRETS_DIR } from '../../infra/model/components/observability.js';
import { NATS_TLS_DIR } from '../../infra/model/components/data.js';
import { unescape, allServices } from './support.js';

/** The config files under deploy/ checked by the programs that read them. */

const services = allServices();
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) c.kill('SIGTERM');
});

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

async function until<T>(what: string, fn: () => Promise<T>, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      if (Date.now() > end) throw new Error(`${what}: ${(e as Error).message}`, { cause: e });
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

const tcpOpen = (port: number) =>
  new Promise<void>((resolve, reject) => {
    const sock = connect(port, '127.0.0.1', () => {
      sock.end();
      resolve();
    });
    sock.once('error', reject);
  });

const run = (cmd: string, args: string[], env: NodeJS.ProcessEnv = {}) =>
  spawnSync(cmd, args, { encoding: 'utf8', env: { PATH: process.env.PATH, ...env } });

describe('deploy/nats/nats-server.conf', () => {
  const nats = services.get('nats')!;
  const serverName = nats.environment!.SERVER_NAME!;

  // The certificate Compose mounts (make local-certs writes it), from a local CA of the test's own.
  const tlsMount = nats.volumes!.find((v) => v.endsWith(`:${NATS_TLS_DIR}:ro`))!;
  const pkiDir = join(mkdtempSync(join(tmpdir(), 'prism-nats-pki-')), 'mtls');
  const localConf = async (conf: string) =>
    conf.replaceAll(
      `"${NATS_TLS_DIR}/`,
      `"${(await ensureLocalPki({ dir: pkiDir, workloads: ['nats'] })).workloads.nats!.dir}/`,
    );

  it('is valid for nats-server -t with the SERVER_NAME Compose sets (the service name) and the certificate it mounts', async () => {
    expect(serverName).toBe('nats');
    expect(tlsMount).toBe('../../.secrets/mtls/nats:/etc/nats-tls:ro');
    const file = join(mkdtempSync(join(tmpdir(), 'prism-nats-t-')), 'nats-server.conf');
    writeFileSync(file, await localConf(readFileSync('deploy/nats/nats-server.conf', 'utf8')));
    const r = run('nats-server', ['-t', '-c', file], { SERVER_NAME: serverName });
    expect(r.stderr + r.stdout).toContain('is valid');
    expect(r.status).toBe(0);
  });

  it('needs that variable: without it nats-server refuses the file', () => {
    const r = run('nats-server', ['-t', '-c', 'deploy/nats/nats-server.conf']);
    expect(r.status).not.toBe(0);
    expect(r.stderr + r.stdout).toContain('SERVER_NAME');
  });

  it('starts with JetStream and answers the health URL the compose healthcheck uses', async () => {
    const [client, monitor] = [await freePort(), await freePort()];
    const dir = mkdtempSync(join(tmpdir(), 'prism-nats-'));
    const conf = (await localConf(readFileSync('deploy/nats/nats-server.conf', 'utf8')))
      .replace(/^port: \d+$/m, `port: ${client}`)
      .replace(/^http_port: \d+$/m, `http_port: ${monitor}`)
      .replace(/store_dir: ".*"/, `store_dir: "${dir}/jetstream"`);
    writeFileSync(join(dir, 'nats.conf'), conf);
    const child = spawn('nats-server', ['-c', join(dir, 'nats.conf')], {
      env: { PATH: process.env.PATH, SERVER_NAME: serverName },
      stdio: 'ignore',
    });
    children.push(child);
    const healthUrl = new URL(nats.healthcheck!.test.at(-1)!);
    expect(healthUrl.port).toBe('8222');
    const res = await until('nats health', async () => {
      const r = await fetch(`http://127.0.0.1:${monitor}${healthUrl.pathname}${healthUrl.search}`);
      if (!r.ok) throw new Error(`status ${r.status}`);
      return r;
    });
    expect(res.status).toBe(200);
    const jsz = (await (await fetch(`http://127.0.0.1:${monitor}/jsz`)).json()) as { config?: { store_dir?: string } };
    expect(jsz.config?.store_dir).toContain(dir);
    child.kill('SIGTERM');
  });
});

describe('deploy/redis/redis.conf', () => {
  it('runs redis-server as Compose starts it: ACL users only, persistence on, dangerous commands off', async () => {
    const redis = services.get('redis')!;
    const password = 'parity-test-password';
    const exporterPassword = 'parity-test-exporter';
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'prism-redis-'));
    writeFileSync(
      join(dir, 'redis.conf'),
      readFileSync('deploy/redis/redis.conf', 'utf8').replace(/^dir .*$/m, `dir ${dir}`),
    );
    // The compose command with its .env interpolation resolved and the config at this copy.
    const args = redis.command!.map((a) =>
      unescape(a)
        .replace(/^>\$\{REDIS_EXPORTER_PASSWORD:\?[^}]*\}$/, `>${exporterPassword}`)
        .replace(/^>\$\{REDIS_[A-Z_]*PASSWORD:\?[^}]*\}$/, `>${password}`)
        .replace('/etc/redis/redis.conf', join(dir, 'redis.conf')),
    );
    expect(args).toContain(`>${password}`);
    const child = spawn(redis.entrypoint![0]!, [...args, '--port', String(port), '--bind', '127.0.0.1'], {
      stdio: 'ignore',
    });
    children.push(child);

    await until('redis up', () => tcpOpen(port));
    const anonymous = new Redis({ port, host: '127.0.0.1', enableReadyCheck: false, maxRetriesPerRequest: 0 });
    await expect(anonymous.ping()).rejects.toThrow(/NOAUTH/);
    anonymous.disconnect();

    const client = new Redis({ port, host: '127.0.0.1', username: 'prism-admin', password, maxRetriesPerRequest: 0 });
    expect(await client.ping()).toBe('PONG');
    expect(await client.config('GET', 'appendonly')).toEqual(['appendonly', 'yes']);
    expect(await client.config('GET', 'maxmemory-policy')).toEqual(['maxmemory-policy', 'volatile-lru']);
    await expect(client.call('FLUSHALL')).rejects.toThrow(/unknown command/);
    client.disconnect();

    // The compose healthcheck, run against this server (the container's default port replaced).
    const check = unescape(redis.healthcheck!.test.at(-1)!).replace('redis-cli', `redis-cli -p ${port}`);
    expect(run('sh', ['-c', check], { REDIS_EXPORTER_PASSWORD: exporterPassword }).status).toBe(0);
    expect(run('sh', ['-c', check], { REDIS_EXPORTER_PASSWORD: 'wrong' }).status).not.toBe(0);
    child.kill('SIGTERM');
  });
});

describe('deploy/prometheus', () => {
  it('prometheus.yml passes promtool check config, with its rule file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'prism-prom-'));
    const conf = parse(readFileSync('deploy/prometheus/prometheus.yml', 'utf8')) as {
      rule_files: string[];
      scrape_configs: { job_name: string }[];
    };
    expect(conf.rule_files).toEqual(['/etc/prometheus/rules/prism-alerts.yml']);
    // The mount path of the container, pointed at the committed rule file.
    writeFileSync(
      join(dir, 'prometheus.yml'),
      readFileSync('deploy/prometheus/prometheus.yml', 'utf8')
        .replace('/etc/prometheus/rules/', `${process.cwd()}/deploy/prometheus/rules/`)
        // promtool checks that each bearer token file exists: a token where the secret files are mounted.
        .replaceAll(`${PROMETHEUS_SECRETS_DIR}/`, `${dir}/`),
    );
    for (const f of ['minio-metrics-token', 'consul-metrics-token']) writeFileSync(join(dir, f), 'token');
    const r = run('promtool', ['check', 'config', join(dir, 'prometheus.yml')]);
    expect(r.stdout + r.stderr).toContain('SUCCESS');
    expect(r.status).toBe(0);
  });

  it('scrapes every service with a metrics port by its compose service name', () => {
    const conf = parse(readFileSync('deploy/prometheus/prometheus.yml', 'utf8')) as {
      scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[];
    };
    for (const job of conf.scrape_configs) {
      const [host, port] = job.static_configs[0]!.targets[0]!.split(':');
      const s = services.get(host!);
      expect(s, job.job_name).toBeDefined();
      expect([...(s!.expose ?? []), ...(s!.ports ?? []).map((p) => String(p.target))]).toContain(port);
      // Prometheus can reach it: they share a network.
      expect(
        s!.networks!.some((n) => services.get('prometheus')!.networks!.includes(n)),
        job.job_name,
      ).toBe(true);
    }
  });

  it('the alert rules pass promtool check rules', () => {
    const r = run('promtool', ['check', 'rules', 'deploy/prometheus/rules/prism-alerts.yml']);
    expect(r.stdout + r.stderr).toContain('SUCCESS');
    expect(r.status).toBe(0);
  });
});

describe('deploy/jaeger/config.yaml', () => {
  const jaeger = findJaeger();
  it('passes jaeger validate (Jaeger v2, the pinned release the local platform runs), which refuses a misspelt key', () => {
    expect(jaeger, 'jaeger: bash scripts/control-plane-tools.sh jaeger').toBeDefined();
    const ok = run(jaeger!, ['validate', '--config', 'deploy/jaeger/config.yaml']);
    expect(ok.status, ok.stderr).toBe(0);
    const dir = mkdtempSync(join(tmpdir(), 'prism-jaeger-'));
    writeFileSync(
      join(dir, 'bad.yaml'),
      readFileSync('deploy/jaeger/config.yaml', 'utf8')
        .replace('max_traces', 'max_trace')
        .replace('trace_storage:', 'trace_storge:'),
    );
    const bad = run(jaeger!, ['validate', '--config', join(dir, 'bad.yaml')]);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toContain('invalid keys: trace_storge');
  });
});

describe('other rendered files', () => {
  it('the MinIO set-up script parses with sh -n (dash) and bash -n', () => {
    for (const shell of ['sh', 'bash']) expect(run(shell, ['-n', 'deploy/minio-setup/setup.sh']).status, shell).toBe(0);
  });

  it('the Grafana dashboards are JSON with the uids the provisioning expects', () => {
    for (const name of ['prism-gateway', 'prism-auth', 'prism-datastores']) {
      expect((JSON.parse(readFileSync(`deploy/grafana/dashboards/${name}.json`, 'utf8')) as { uid: string }).uid).toBe(
        name,
      );
    }
  });
});
