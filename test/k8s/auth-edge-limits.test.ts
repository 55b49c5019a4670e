import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { gatewayConfigSchema } from '../../infra/contract/index.js';
import { ENVIRONMENTS, find, synth } from '../support/synth.js';

type Json = any;

/**
 * Issue 22 item 21: the edge sends `/auth` straight to auth (the OAuth redirect URI is there), so auth
 * must hold the same limits as the gateway: the edge's per-address limit on both Ingresses, and the
 * gateway's Redis-backed rate in auth itself (the service behaviour: services/auth/test/rate-limit.test.ts).
 */
describe.each(ENVIRONMENTS)('%s: /auth is limited like /api', (env) => {
  const { objects } = synth(env);

  it("auth applies the gateway's rate and burst (PRISM_AUTH_RATE_LIMIT_*), and both Ingresses the same edge limit", () => {
    const gw = gatewayConfigSchema.parse(
      parse((find(objects, 'ConfigMap', 'gateway-config') as Json).data['gateway.yaml']),
    );
    expect(gw.rate_limit.enabled).toBe(true);
    const vars = Object.fromEntries(
      (find(objects, 'Deployment', 'auth') as Json).spec.template.spec.containers[0].env.map((e: Json) => [
        e.name,
        e.value,
      ]),
    );
    expect({ rps: vars.PRISM_AUTH_RATE_LIMIT_RPS, burst: vars.PRISM_AUTH_RATE_LIMIT_BURST }).toEqual({
      rps: String(gw.rate_limit.requests_per_second),
      burst: String(gw.rate_limit.burst),
    });
    const ingresses = objects.filter((o) => o.kind === 'Ingress') as Json[];
    const paths = ingresses.flatMap((i) =>
      i.spec.rules.flatMap((r: Json) =>
        r.http.paths.map((p: Json) => [p.path, i.metadata.annotations['nginx.ingress.kubernetes.io/limit-rps']]),
      ),
    );
    expect(paths.map(([p]: string[]) => p)).toEqual(expect.arrayContaining(['/auth', '/api']));
    const limits = new Set(paths.map(([, rps]: string[]) => rps));
    expect(limits.size).toBe(1);
    expect(Number([...limits][0])).toBeGreaterThan(0);
  });
});

describe('Compose: /auth is limited like /api', () => {
  it("Traefik's auth router has the same rate-limit middleware as the gateway's, and auth the gateway's rate", () => {
    const routers = parse(readFileSync('deploy/traefik/dynamic/routers.yml', 'utf8')).http.routers as Record<
      string,
      Json
    >;
    const auth = Object.values(routers).find((r) => /PathPrefix\(`\/auth`\)/.test(r.rule));
    const api = Object.values(routers).find((r) => /PathPrefix\(`\/api`\)/.test(r.rule));
    expect(auth && api).toBeTruthy();
    const limiter = (r: Json) => (r.middlewares as string[]).filter((m) => /rate/i.test(m));
    expect(limiter(auth)).toEqual(limiter(api));
    expect(limiter(auth).length).toBe(1);
    const compose = readFileSync('deploy/docker-compose/docker-compose.yml', 'utf8');
    expect(compose).toMatch(/PRISM_AUTH_RATE_LIMIT_RPS/);
  });
});
