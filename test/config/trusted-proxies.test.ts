import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { gatewayConfigSchema, serviceEnvSchema } from '../../infra/contract/index.js';
import { DEFAULT_TRUSTED_PROXIES, parseStackFile, StackConfigError } from '../../infra/config/index.js';
import { renderAll } from '../compose/support.js';
import { ENVIRONMENTS, find, synth } from '../support/synth.js';

/** The stack's trusted proxies (issue 13 item 6) reach the gateway's gateway.yaml and auth's environment in every renderer. */

const envOf = (o: unknown, container: string): Record<string, string> => {
  const spec = (
    o as { spec: { template: { spec: { containers: { name: string; env?: { name: string; value?: string }[] }[] } } } }
  ).spec.template.spec;
  const c = spec.containers.find((x) => x.name === container)!;
  return Object.fromEntries((c.env ?? []).filter((e) => e.value !== undefined).map((e) => [e.name, e.value!]));
};

describe.each(ENVIRONMENTS)('%s: trusted proxies from the stack configuration', (env) => {
  const { objects, stack } = synth(env);

  it('gateway.yaml (ConfigMap gateway-config) lists them, and the gateway parses it', () => {
    const data = (find(objects, 'ConfigMap', 'gateway-config') as unknown as { data: Record<string, string> }).data;
    const config = gatewayConfigSchema.parse(parse(data['gateway.yaml']!));
    expect(config.server.trusted_proxies).toEqual(stack.config.ingress.trustedProxies);
    expect(config.server.trusted_proxies!.length).toBeGreaterThan(0);
  });

  it("auth's PRISM_TRUSTED_PROXIES lists the same, and auth's contract parses it", () => {
    const value = envOf(find(objects, 'Deployment', 'auth'), 'auth').PRISM_TRUSTED_PROXIES!;
    expect(serviceEnvSchema('auth').shape.PRISM_TRUSTED_PROXIES!.parse(value)).toEqual(
      stack.config.ingress.trustedProxies,
    );
  });
});

describe('Compose: the same for Traefik in front', () => {
  it('deploy/gateway/gateway.yaml and the auth container get the dev stack’s list', () => {
    const files = renderAll();
    const gatewayYaml = [...files].find(([path]) => path.endsWith('gateway/gateway.yaml'))![1];
    expect(parse(gatewayYaml).server.trusted_proxies).toEqual(synth('dev').stack.config.ingress.trustedProxies);
    const compose = parse([...files].find(([path]) => path.endsWith('docker-compose.yml'))![1]);
    expect(compose.services.auth.environment.PRISM_TRUSTED_PROXIES).toBe(
      synth('dev').stack.config.ingress.trustedProxies.join(','),
    );
  });
});

describe('stack configuration', () => {
  const base = {
    'prism:domain': 'api.test.example.com',
    'prism:images': { tag: '1.2.3' },
    'prism:cluster': { apiServer: { cidrs: ['10.0.0.1/32'], port: 6443 } },
  };
  it('defaults to the private ranges, documented in the schema', () => {
    const config = parseStackFile({ config: base }, 'stacks/Pulumi.test.yaml');
    expect(config.ingress.trustedProxies).toEqual([...DEFAULT_TRUSTED_PROXIES]);
  });

  it('a malformed address or CIDR is refused, naming the key', () => {
    for (const bad of ['10.0.0.0/33', 'ingress-nginx', '10.0.0/8', '::1/129']) {
      let err: unknown;
      try {
        parseStackFile(
          { config: { ...base, 'prism:ingress': { trustedProxies: ['10.0.0.0/8', bad] } } },
          'stacks/Pulumi.test.yaml',
        );
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(StackConfigError);
      expect((err as StackConfigError).problems[0]).toMatch(
        /^prism:ingress\.trustedProxies\.1: expected an IP address or a CIDR block/,
      );
    }
  });
});
