import { describe, expect, it } from 'vitest';
import { loadStack } from '../../infra/config/index.js';
import { ModelError, buildPlatform, checkPlatform, type Component, type Platform } from '../../infra/model/index.js';

/** The prod platform as the stack file builds it: consistent, so each case plants exactly one fault. */
const prod = (): Platform => buildPlatform('prod', loadStack('stacks', 'prod').config);

/** The platform with one component changed. */
function withComponent(platform: Platform, name: string, change: (c: Component) => Component): Platform {
  if (!platform.components.some((c) => c.name === name)) throw new Error(`no component ${name}`);
  return { ...platform, components: platform.components.map((c) => (c.name === name ? change(c) : c)) };
}

const envWith = (c: Component, name: string, value: Component['env'][string]): Component => ({
  ...c,
  env: { ...c.env, [name]: value },
});
const envWithout = (c: Component, name: string): Component => ({
  ...c,
  env: Object.fromEntries(Object.entries(c.env).filter(([k]) => k !== name)),
});

/** One case per error checkPlatform raises: the fault planted, and the problem line it must report. */
const CASES: readonly {
  readonly fault: string;
  readonly plant: (p: Platform) => Platform;
  readonly problem: string;
}[] = [
  {
    fault: 'a flow to a component that does not exist',
    plant: (p) =>
      withComponent(p, 'gateway', (c) => ({
        ...c,
        flows: [...c.flows, { to: 'memcached' as Component['name'], port: 'client' }],
      })),
    problem: 'gateway: flow to unknown component memcached',
  },
  {
    fault: 'a flow to a port the component does not have',
    plant: (p) => withComponent(p, 'gateway', (c) => ({ ...c, flows: [...c.flows, { to: 'nats', port: 'gossip' }] })),
    problem: 'gateway: flow to nats names unknown port gossip',
  },
  {
    fault: "a task's flow to a port the component does not have",
    plant: (p) =>
      withComponent(p, 'dbmanager', (c) => ({
        ...c,
        tasks: c.tasks.map((t, i) => (i === 0 ? { ...t, flows: [...t.flows, { to: 'minio', port: 'ftp' }] } : t)),
      })),
    problem: `dbmanager/${prod().components.find((c) => c.name === 'dbmanager')!.tasks[0]!.name}: flow to minio names unknown port ftp`,
  },
  {
    fault: 'a reference to a port that does not exist',
    plant: (p) =>
      withComponent(p, 'gateway', (c) =>
        envWith(c, 'PRISM_CONSUL_ADDRESS', { ref: { component: 'consul', port: 'dns' } }),
      ),
    problem: 'gateway: PRISM_CONSUL_ADDRESS refers to unknown port consul/dns',
  },
  {
    fault: 'a reference no flow allows (the network policies would drop it)',
    plant: (p) => withComponent(p, 'gateway', (c) => ({ ...c, flows: c.flows.filter((f) => f.to !== 'consul') })),
    problem: 'gateway: PRISM_CONSUL_ADDRESS refers to consul/http but no flow allows it',
  },
  {
    fault: "a config file's reference no flow allows (the gateway's auth origin without its flow)",
    // Its JWKS variable dropped too, so the config file is the only user of the flow.
    plant: (p) =>
      withComponent(p, 'gateway', (c) => ({
        ...envWithout(c, 'PRISM_AUTH_JWKS_URL'),
        flows: c.flows.filter((f) => !(f.to === 'auth' && f.port === 'http')),
      })),
    problem: 'gateway: gateway.yaml refers to auth/http but no flow allows it',
  },
  {
    fault: 'a config file that does not contain the address of its reference (an origin written by hand)',
    plant: (p) =>
      withComponent(p, 'gateway', (c) => ({
        ...c,
        configFiles: c.configFiles.map((f) =>
          f.name === 'gateway.yaml'
            ? { ...f, content: f.content.replaceAll('https://auth:', 'https://auth.prism.svc:') }
            : f,
        ),
      })),
    problem: 'gateway: gateway.yaml does not contain https://auth:8081, its reference to auth/http',
  },
  {
    fault: 'a log shipper pushing to a port Loki does not have',
    plant: (p) => ({ ...p, logShipper: { ...p.logShipper!, loki: { ...p.logShipper!.loki, port: 'grpc' } } }),
    problem: 'log shipper: pushes to unknown port loki/grpc',
  },
  {
    fault: 'a probe on a port the component does not have',
    plant: (p) =>
      withComponent(p, 'gateway', (c) => ({
        ...c,
        liveness: { ...c.liveness, action: { http: { path: '/health/live', port: 'admin' } } },
      })),
    problem: 'gateway: probe uses unknown port admin',
  },
  {
    fault: 'a metrics port that is not one of its ports',
    plant: (p) => withComponent(p, 'gateway', (c) => ({ ...c, metricsPort: 'stats' })),
    problem: 'gateway: metrics port stats is not a port',
  },
  {
    fault: 'API access without the API server addresses',
    plant: (p) => {
      const { apiServer: _dropped, ...rest } = p;
      return rest;
    },
    problem: 'prometheus: reads the Kubernetes API but the stack sets no cluster.apiServer',
  },
  {
    fault: "a variable the service's contract requires is missing",
    plant: (p) => withComponent(p, 'gateway', (c) => envWithout(c, 'PRISM_NATS_URL')),
    problem: 'gateway: required variable PRISM_NATS_URL is not supplied',
  },
  {
    fault: "a variable outside the service's contract",
    plant: (p) => withComponent(p, 'gateway', (c) => envWith(c, 'PRISM_DEBUG_EVERYTHING', { value: 'true' })),
    problem: "gateway: PRISM_DEBUG_EVERYTHING is not in the service's contract",
  },
  {
    fault: 'a secret variable given as a plain value',
    plant: (p) => withComponent(p, 'gateway', (c) => envWith(c, 'PRISM_REDIS_PASSWORD', { value: 'hunter2' })),
    problem: 'gateway: PRISM_REDIS_PASSWORD is secret and must be a secret reference',
  },
  {
    fault: "cert-manager's namespace is the application namespace (the mesh CA key back beside the workloads)",
    plant: (p) => ({ ...p, mtls: { ...p.mtls, certManagerNamespace: p.namespace } }),
    problem: 'certManager.namespace is the application namespace prism: the mesh CA key must live outside it',
  },
];

describe('checkPlatform', () => {
  it('accepts the platform of every stack as built', () => {
    for (const env of ['dev', 'staging', 'prod'])
      expect(() => checkPlatform(buildPlatform(env, loadStack('stacks', env).config)), env).not.toThrow();
  });

  it.each(CASES)('refuses $fault', ({ plant, problem }) => {
    const check = () => checkPlatform(plant(prod()));
    expect(check).toThrow(ModelError);
    expect(check).toThrow(`platform model of prod is inconsistent:\n  - ${problem}`);
  });

  it('reports every problem at once, not only the first', () => {
    const broken = withComponent(prod(), 'gateway', (c) => ({
      ...envWith(c, 'PRISM_DEBUG_EVERYTHING', { value: 'true' }),
      metricsPort: 'stats',
    }));
    expect(() => checkPlatform(broken)).toThrow(
      /metrics port stats is not a port\n {2}- gateway: PRISM_DEBUG_EVERYTHING is not in the service's contract/,
    );
  });
});
