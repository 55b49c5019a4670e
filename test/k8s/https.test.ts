import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { AUTH_JWKS_PATH, MTLS_DIR, MTLS_FILES, PORTS, SERVICE_NAMES, SERVICES, gatewayConfigSchema } from '../../infra/contract/index.js';
import { ENVIRONMENTS, find, synth } from '../support/synth.js';

type Json = any;

/** HTTPS on every HTTP endpoint between components, in every environment, with the mesh certificates. */
describe.each(ENVIRONMENTS)('%s: HTTPS between components', (env) => {
  const { objects } = synth(env);
  const envOf = (name: string): Record<string, string | undefined> =>
    Object.fromEntries((find(objects, 'Deployment', name) as Json).spec.template.spec.containers[0].env.map((e: Json) => [e.name, e.value]));
  const ca = `${MTLS_DIR}/${MTLS_FILES.ca}`;

  it.each(SERVICE_NAMES)('%s: serves HTTPS on its http port with its mesh certificate, no client certificates; no TLS settings without an http port', (name) => {
    const vars = envOf(name);
    if (SERVICES[name].ports.http) {
      expect(vars).toMatchObject({ PRISM_TLS_ENABLED: 'true', PRISM_TLS_CERT_FILE: `${MTLS_DIR}/${MTLS_FILES.cert}`, PRISM_TLS_KEY_FILE: `${MTLS_DIR}/${MTLS_FILES.key}` });
      // The edge (ingress controller, Traefik) reaches this port without a client certificate.
      expect(vars.PRISM_TLS_CLIENT_AUTH).toBeUndefined();
    } else {
      expect(Object.keys(vars).filter((k) => k.startsWith('PRISM_TLS_'))).toEqual([]);
    }
    // No variable of any service points at another service over plain http.
    for (const [k, v] of Object.entries(vars)) expect(v ?? '', k).not.toMatch(new RegExp(`^http://(${SERVICE_NAMES.join('|')})[:/]`));
  });

  it("the gateway reaches auth's routes and JWKS over https, verified against the mesh CA", () => {
    expect(envOf('gateway').PRISM_AUTH_JWKS_URL).toBe(`https://auth:${PORTS.authHttp}${AUTH_JWKS_PATH}`);
    const cm = find(objects, 'ConfigMap', 'gateway-config') as Json;
    const g = gatewayConfigSchema.parse(parse(cm.data['gateway.yaml']));
    expect(g.auth).toMatchObject({ jwks_url: `https://auth:${PORTS.authHttp}${AUTH_JWKS_PATH}`, jwks_ca_file: ca });
    expect(g.routes.length).toBeGreaterThan(0);
    for (const r of g.routes) {
      expect(r.upstream, r.prefix).toMatch(/^https:\/\//);
      expect(r.ca_file, r.prefix).toBe(ca);
    }
  });

  it('the Ingress speaks HTTPS to its backends', () => {
    const ingress = find(objects, 'Ingress', 'prism-ingress') as Json;
    expect(ingress.metadata.annotations['nginx.ingress.kubernetes.io/backend-protocol']).toBe('HTTPS');
    // Every backend port is a port that serves TLS (never metrics).
    for (const p of ingress.spec.rules[0].http.paths) {
      const vars = envOf(p.backend.service.name);
      expect(vars.PRISM_TLS_ENABLED, p.path).toBe('true');
      expect(p.backend.service.port.number).not.toBe(PORTS.metrics);
    }
  });
});
