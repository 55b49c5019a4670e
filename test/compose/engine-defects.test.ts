import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DBMANAGER_CLI } from '../../infra/contract/index.js';
import { component } from '../../infra/model/index.js';
import { LAYERS, allServices, committedCompose, composeSchema, devPlatform } from './support.js';

/** What starting the Compose files on a real engine showed; each case failed there before its fix. */
const services = allServices();
const { validate } = composeSchema();

describe('Consul on several Compose networks', () => {
  const consul = services.get('consul')!;
  const hcl = readFileSync('deploy/consul/server.hcl', 'utf8');

  it('binds to its address on the data network, which has the subnet the template names', () => {
    // The reason: one private address per network, and Consul refuses to choose ("Multiple private IPv4 addresses found").
    expect(consul.networks!.length).toBeGreaterThan(1);
    expect(consul.networks).toContain('prism-data');
    const m = hcl.match(
      /^bind_addr = "\{\{ GetPrivateInterfaces \| include \\"network\\" \\"([0-9./]+)\\" \| attr \\"address\\" \}\}"$/m,
    );
    expect(m, hcl).not.toBeNull();
    // Every file that declares the data network declares it the same, with that subnet (one merged project).
    const declared = LAYERS.map((l) => committedCompose(l).networks?.['prism-data']).filter(Boolean);
    expect(declared.length).toBeGreaterThan(0);
    for (const n of declared)
      expect(n).toEqual({
        name: 'prism-data',
        driver: 'bridge',
        internal: true,
        ipam: { config: [{ subnet: m![1] }] },
      });
    for (const l of LAYERS) expect(validate(committedCompose(l))).toBe(true);
  });

  it('keeps the Kubernetes configuration without it (a pod has one address)', () => {
    const file = component(devPlatform(), 'consul').configFiles.find((f) => f.name === 'server.hcl')!;
    expect(file.content).not.toContain('bind_addr');
    expect(file.composeContent).toBe(hcl);
  });
});

describe('health checks of the long-running services', () => {
  it('every long-running service has one but the FROM-scratch NATS exporter (the README says so)', () => {
    const longRunning = [...services].filter(([, s]) => s.restart === 'unless-stopped').map(([n]) => n);
    expect(longRunning).toContain('backup-scheduler');
    expect(longRunning.filter((n) => !services.get(n)!.healthcheck)).toEqual(['nats-exporter']);
  });

  it("backup-scheduler's runs the DB manager's schedule-health on the status file its schedule writes", () => {
    const s = services.get('backup-scheduler')!;
    const command = s.command as string[];
    const file = command[command.indexOf('--status-file') + 1];
    expect(file).toMatch(/^\/tmp\//); // its writable tmpfs
    expect(s.tmpfs?.some((t) => t.startsWith('/tmp:'))).toBe(true);
    expect(s.healthcheck!.test).toEqual(['CMD', ...DBMANAGER_CLI.entry, 'schedule-health', '--status-file', file]);
  });
});

describe('start periods', () => {
  it('a component gets the time Kubernetes gives it to start (liveness delay and tolerated failures); the scheduler, its own process, its readiness delay', () => {
    // The reason: dbmanager unhealthy after 5 s + three 5 s checks on a loaded machine, and `depends_on` gave up.
    const platform = devPlatform();
    for (const name of ['dbmanager', 'auth', 'postgres-auth'] as const) {
      const { liveness: l, readiness: r } = component(platform, name);
      const budget = Math.max(
        r.initialDelaySeconds,
        l.initialDelaySeconds + l.periodSeconds * (l.failureThreshold ?? 3),
      );
      expect(services.get(name)!.healthcheck!.start_period, name).toBe(`${budget}s`);
      expect(budget, name).toBeGreaterThanOrEqual(30);
    }
    // The log shipper too, by the same rule (it had a fixed 10 s of its own until 2026-12-07).
    const { liveness: l, readiness: r } = platform.logShipper!;
    expect(services.get('alloy')!.healthcheck!.start_period).toBe(
      `${Math.max(r.initialDelaySeconds, l.initialDelaySeconds + l.periodSeconds * (l.failureThreshold ?? 3))}s`,
    );
    const scheduler = component(platform, 'dbmanager').localScheduler!;
    expect(services.get('backup-scheduler')!.healthcheck!.start_period).toBe(
      `${scheduler.readiness.initialDelaySeconds}s`,
    );
  });
});

describe('mount points', () => {
  it('none is missing inside a read-only bind mount of the same container (the engine cannot create it there)', () => {
    for (const [name, s] of services) {
      const mounts = ((s.volumes ?? []) as string[]).map((v) => v.split(':'));
      const readOnlyBinds = mounts.filter((m) => m[0]!.startsWith('.') && m[2] === 'ro');
      for (const m of mounts)
        for (const [source, dir] of readOnlyBinds) {
          if (!m[1]!.startsWith(`${dir}/`)) continue;
          // Only a mount point the bound host directory already has can be mounted on.
          const onHost = join('deploy/docker-compose', source!, m[1]!.slice(dir!.length));
          expect(existsSync(onHost), `${name}: ${m[1]} inside ${dir}, and ${onHost} does not exist`).toBe(true);
        }
    }
  });
});
