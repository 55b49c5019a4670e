import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createServer } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  AUTH_JWKS_PATH,
  EDGE_SPIFFE_ID,
  MTLS_DIR,
  MTLS_FILES,
  PORTS,
  SERVICE_NAMES,
  SERVICES,
  callerFromUris,
  gatewayConfigSchema,
} from '../../infra/contract/index.js';
import { type PkiFiles, ensureLocalPki, foreignCertificate, issueFromLocalCa } from '../../infra/local/mtls-pki.js';
import { ENVIRONMENTS, find, synth } from '../support/synth.js';

type Json = any;

/** HTTPS on every HTTP endpoint between components, in every environment, with the mesh certificates. */
describe.each(ENVIRONMENTS)('%s: HTTPS between components', (env) => {
  const { objects } = synth(env);
  const envOf = (name: string): Record<string, string | undefined> =>
    Object.fromEntries(
      (find(objects, 'Deployment', name) as Json).spec.template.spec.containers[0].env.map((e: Json) => [
        e.name,
        e.value,
      ]),
    );
  const ca = `${MTLS_DIR}/${MTLS_FILES.ca}`;

  it.each(SERVICE_NAMES)(
    '%s: serves HTTPS on its http port with its mesh certificate, no client certificates; no TLS settings without an http port',
    (name) => {
      const vars = envOf(name);
      if (SERVICES[name].ports.http) {
        expect(vars).toMatchObject({
          PRISM_TLS_ENABLED: 'true',
          PRISM_TLS_CERT_FILE: `${MTLS_DIR}/${MTLS_FILES.cert}`,
          PRISM_TLS_KEY_FILE: `${MTLS_DIR}/${MTLS_FILES.key}`,
        });
        // The edge (ingress controller, Traefik) reaches this port without a client certificate.
        expect(vars.PRISM_TLS_CLIENT_AUTH).toBeUndefined();
      } else {
        expect(Object.keys(vars).filter((k) => k.startsWith('PRISM_TLS_'))).toEqual([]);
      }
      // No variable of any service points at another service over plain http.
      for (const [k, v] of Object.entries(vars))
        expect(v ?? '', k).not.toMatch(new RegExp(`^http://(${SERVICE_NAMES.join('|')})[:/]`));
    },
  );

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

  it('each Ingress speaks HTTPS to its one backend and verifies it against the mesh CA, by a name its certificate carries', () => {
    const ingresses = objects.filter((o: Json) => o.kind === 'Ingress') as Json[];
    expect(ingresses.map((i: Json) => i.metadata.name)).toEqual(['prism-ingress-gateway', 'prism-ingress-auth']);
    const issuerOf = (secretName: string) =>
      (objects.find((o: Json) => o.kind === 'Certificate' && o.spec.secretName === secretName) as Json)?.spec;
    for (const ingress of ingresses) {
      const a = ingress.metadata.annotations;
      expect(a['nginx.ingress.kubernetes.io/backend-protocol']).toBe('HTTPS');
      expect(a['nginx.ingress.kubernetes.io/proxy-ssl-verify']).toBe('on');
      const backends = new Set<string>(ingress.spec.rules[0].http.paths.map((p: Json) => p.backend.service.name));
      expect(backends.size, ingress.metadata.name).toBe(1);
      const [backend] = [...backends] as [string];
      // Every backend port is a port that serves TLS (never metrics).
      for (const p of ingress.spec.rules[0].http.paths) {
        expect(envOf(backend).PRISM_TLS_ENABLED, p.path).toBe('true');
        expect(p.backend.service.port.number).not.toBe(PORTS.metrics);
      }
      // The CA comes from the edge's own certificate, issued by the same CA Issuer as the backend's; its
      // identity names no role, so it opens no gRPC method.
      const [ns, secret] = a['nginx.ingress.kubernetes.io/proxy-ssl-secret'].split('/');
      expect(ns).toBe('prism');
      const edge = issuerOf(secret);
      expect(edge.issuerRef).toEqual(issuerOf(`${backend}-mtls`).issuerRef);
      expect(edge.uris).toEqual([EDGE_SPIFFE_ID]);
      expect(callerFromUris(edge.uris)).toBeUndefined();
      expect(edge.dnsNames).toBeUndefined();
      expect(issuerOf(`${backend}-mtls`).dnsNames).toContain(a['nginx.ingress.kubernetes.io/proxy-ssl-name']);
    }
  });

  it('a TLS client with the mesh CA and the name an Ingress checks accepts its backend, and refuses the other backend or another CA', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'prism-edge-tls-'));
    try {
      await ensureLocalPki({ dir, workloads: [] });
      const ingresses = objects.filter((o: Json) => o.kind === 'Ingress') as Json[];
      const names = ingresses.map(
        (i: Json) => i.metadata.annotations['nginx.ingress.kubernetes.io/proxy-ssl-name'] as string,
      );
      for (const [n, ingress] of ingresses.entries()) {
        const backend = ingress.spec.rules[0].http.paths[0].backend.service.name as string;
        // The backend's certificate as cert-manager issues it from its rendered Certificate.
        const spec = (
          objects.find((o: Json) => o.kind === 'Certificate' && o.metadata.name === `${backend}-mtls`) as Json
        ).spec;
        const own = await issueFromLocalCa(dir, join(dir, backend), { uri: spec.uris[0], hosts: spec.dnsNames });
        const foreign = await foreignCertificate(join(dir, `${backend}-foreign`), spec.uris[0], spec.dnsNames);
        expect(await handshake(own, join(dir, 'ca', 'ca.crt'), names[n]!), ingress.metadata.name).toBe('ok');
        expect(await handshake(own, join(dir, 'ca', 'ca.crt'), names[1 - n]!)).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
        expect(await handshake(foreign, join(dir, 'ca', 'ca.crt'), names[n]!)).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** Serves `server`'s certificate and connects as the ingress controller would: the CA, SNI and the name checked. */
async function handshake(server: PkiFiles, ca: string, name: string): Promise<string> {
  const srv = createServer({ cert: readFileSync(server.cert), key: readFileSync(server.key) }, (s) => s.end());
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = srv.address() as AddressInfo;
    return await new Promise<string>((resolve) => {
      const c = connect({ host: '127.0.0.1', port, servername: name, ca: readFileSync(ca) }, () => {
        c.end();
        resolve('ok');
      });
      c.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    });
  } finally {
    srv.close();
  }
}
