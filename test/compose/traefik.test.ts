import { readFileSync } from 'node:fs';
import { posix } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { component } from '../../infra/model/index.js';
import { allServices, devPlatform, platformOf } from './support.js';

const read = (f: string): any => parse(readFileSync(`deploy/traefik/${f}`, 'utf8'));
const platform = devPlatform();
const edge = component(platform, 'edge');

describe('Traefik configuration', () => {
  const dynamic = {
    ...read('dynamic/routers.yml').http,
    middlewares: read('dynamic/middlewares.yml').http.middlewares,
  };

  it.each(['traefik.yml', 'traefik.dev.yml'])(
    '%s: entry points on the edge ports, ping for the health check, file provider only',
    (file) => {
      const c = read(file);
      for (const name of ['web', 'websecure', 'ping'])
        expect(c.entryPoints[name].address).toBe(`:${edge.ports.find((p) => p.name === name)!.port}`);
      expect(c.ping.entryPoint).toBe('ping');
      expect(Object.keys(c.providers)).toEqual(['file']);
      expect(c.providers.file.directory).toBe('/etc/traefik/dynamic');
      expect(c.entryPoints.web.http.redirections.entryPoint.to).toBe('websecure');
      expect(c.api.dashboard).toBe(false);
    },
  );

  it("stores the production ACME certificate on a named volume the edge's user owns (its root is read-only)", () => {
    const storage: string = read('traefik.yml').certificatesResolvers.letsencrypt.acme.storage;
    const dir = posix.dirname(storage);
    const svc = allServices().get('edge')!;
    expect(svc.read_only).toBe(true);
    expect(svc.user).toBe(`${edge.user}:${edge.user}`);
    const mount = (svc.volumes as string[]).find((v) => v.endsWith(`:${dir}`));
    expect(mount, `no volume at ${dir}`).toBeDefined();
    const volume = mount!.split(':')[0]!;
    expect(volume).toMatch(/^[a-z][a-z0-9-]*$/); // a named volume, not a bind mount of a host path
    // Handed to the edge's user before Traefik starts (which then creates acme.json with mode 0600 itself).
    const init = allServices().get('edge-volume-init')!;
    expect((init.command as string[]).join(' ')).toContain(`chown ${edge.user}:${edge.user} /init/${volume}`);
    expect(svc.depends_on).toMatchObject({ 'edge-volume-init': { condition: 'service_completed_successfully' } });
  });

  it("terminates TLS with Let's Encrypt for the production domain, and with the default certificate in development", () => {
    const prod = read('traefik.yml');
    expect(prod.entryPoints.websecure.http.tls).toEqual({
      certResolver: 'letsencrypt',
      domains: [{ main: platformOf('prod').edge.domain }],
    });
    expect(prod.certificatesResolvers.letsencrypt.acme.httpChallenge.entryPoint).toBe('web');
    expect(read('traefik.dev.yml').entryPoints.websecure.http.tls).toEqual({});
    expect(read('traefik.dev.yml').certificatesResolvers).toBeUndefined();
    expect(read('dynamic/tls.yml').tls.options.default.minVersion).toBe('VersionTLS12');
  });

  it('routes every model edge route through rate limit, circuit breaker and headers that exist', () => {
    expect(Object.keys(dynamic.routers)).toHaveLength(platform.edge.routes.length);
    for (const [name, r] of Object.entries<any>(dynamic.routers)) {
      expect(r.entryPoints, name).toEqual(['websecure']);
      expect(dynamic.services[r.service], name).toBeDefined();
      for (const m of r.middlewares) expect(dynamic.middlewares[m], m).toBeDefined();
      expect(r.middlewares.map((m: string) => Object.keys(dynamic.middlewares[m])[0])).toEqual([
        'rateLimit',
        'circuitBreaker',
        'headers',
      ]);
    }
    expect(dynamic.middlewares['edge-rate-limit'].rateLimit.average).toBe(platform.edge.rateLimitRps);
  });

  it("the circuit breaker counts network errors and 5xx, but not the gateway's deliberate 503 (maintenance mode)", () => {
    const expression: string = dynamic.middlewares['edge-circuit-breaker'].circuitBreaker.expression;
    // ResponseCodeRatio(from, to, dividedByFrom, dividedByTo): the codes in [from, to) over those in the other range.
    const counted = [...expression.matchAll(/ResponseCodeRatio\((\d+), (\d+), 0, 600\) > 0\.25/g)].map((m) => [
      Number(m[1]),
      Number(m[2]),
    ]);
    const counts = (code: number) => counted.some(([from, to]) => code >= from! && code < to!);
    for (const code of [500, 502, 504, 599]) expect(counts(code), String(code)).toBe(true);
    expect(counts(503)).toBe(false);
    expect(expression).toContain('NetworkErrorRatio() > 0.30');
  });

  it("health-checks each upstream on its readiness endpoint, reachable from Traefik's networks", () => {
    const services = allServices();
    for (const [name, s] of Object.entries<any>(dynamic.services)) {
      const url = new URL(s.loadBalancer.servers[0].url);
      const target = component(platform, url.hostname as never);
      const ready = (target.readiness.action as { http: { path: string; port: string } }).http;
      expect(s.loadBalancer.healthCheck.path, name).toBe(ready.path);
      expect(s.loadBalancer.healthCheck.port).toBe(target.ports.find((p) => p.name === ready.port)!.port);
      const shared = services.get('edge')!.networks!.some((n) => services.get(url.hostname)!.networks!.includes(n));
      expect(shared, `edge reaches ${url.hostname}`).toBe(true);
    }
  });
});
