import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { exportJWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { workloadSpiffeId } from '#contract';
import { issueServerCert, makePki, type TestPki } from '../../runtime/test/support/certs.js';
import { makeKeys, route, startTestGateway, token, tmpDir, writeGatewayYaml, type Keys } from './support/harness.js';
import { readGatewayConfig } from '../src/settings.js';

/**
 * The gateway's upstreams and JWKS over HTTPS verified against a CA file (the mesh CA in the
 * platform): real TLS servers on 127.0.0.1, certificates from a throw-away CA and from another CA.
 */
let keys: Keys;
let mesh: TestPki;
/** A second CA with its own certificate for localhost: what an impostor on the upstream's address would present. */
let foreign: TestPki;
const servers: Server[] = [];

async function httpsServer(pki: TestPki, handler: Parameters<typeof createServer>[1]): Promise<string> {
  const s = createServer({ cert: readFileSync(pki.serverCert), key: readFileSync(pki.serverKey) }, handler);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  servers.push(s);
  // The certificates name localhost: the gateway checks the name as well as the chain.
  return `https://localhost:${(s.address() as { port: number }).port}`;
}

const echo = (pki: string) =>
  httpsServer(pki === 'mesh' ? mesh : foreign, (req, res) =>
    res.writeHead(200, { 'content-type': 'text/plain' }).end(`${pki} ${req.url}`),
  );

beforeAll(async () => {
  keys = await makeKeys();
  mesh = makePki();
  foreign = makePki();
});
afterAll(() => {
  for (const s of servers) s.close();
});

describe('gateway upstream TLS', () => {
  it('proxies to an https upstream whose certificate chains to ca_file; an upstream with a certificate of another CA gets 502', async () => {
    const good = await echo('mesh');
    const impostor = await echo('foreign');
    const gw = await startTestGateway({
      keys,
      routes: [
        route('good', good, { ca_file: mesh.caCert, auth_required: false }),
        route('impostor', impostor, { ca_file: mesh.caCert, auth_required: false }),
      ],
    });
    try {
      const ok = await fetch(`${gw.url}/api/good/x`);
      expect(ok.status).toBe(200);
      expect(await ok.text()).toBe('mesh /good/x');
      const refused = await fetch(`${gw.url}/api/impostor/x`);
      expect(refused.status).toBe(502);
      expect(refused.headers.get('x-prism-gateway-error')).toBe('upstream');
      expect(await refused.text()).not.toContain('foreign');
    } finally {
      await gw.close();
    }
  });

  it('without ca_file an upstream from the private CA is not trusted either (system CAs only)', async () => {
    const good = await echo('mesh');
    const gw = await startTestGateway({ keys, routes: [route('good', good, { auth_required: false })] });
    try {
      expect((await fetch(`${gw.url}/api/good/x`)).status).toBe(502);
    } finally {
      await gw.close();
    }
  });

  it('fetches the JWKS over https from a server of the CA in auth.jwks_ca_file, and refuses one of another CA', async () => {
    const upstream = await echo('mesh');
    const jwks = JSON.stringify({
      keys: [{ ...(await exportJWK(keys.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' }],
    });
    const serve = (pki: TestPki) =>
      httpsServer(pki, (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(jwks));
    const bearer = { authorization: `Bearer ${await token(keys, 'jwks-user', {}, { kid: 'k1' })}` };
    for (const [pki, expected] of [
      [mesh, 200],
      [foreign, 503],
    ] as const) {
      const gw = await startTestGateway({
        keys,
        routes: [route('s', upstream, { ca_file: mesh.caCert })],
        auth: { jwks_ca_file: mesh.caCert },
        env: { PRISM_AUTH_JWKS_URL: `${await serve(pki)}/jwks.json`, PRISM_JWT_PUBLIC_KEY_FILE: '' },
      });
      try {
        expect(
          (await fetch(`${gw.url}/api/s/x`, { headers: bearer })).status,
          pki === mesh ? 'mesh JWKS' : 'foreign JWKS',
        ).toBe(expected);
      } finally {
        await gw.close();
      }
    }
  });

  it("checks auth's workload identity: a certificate of the same CA issued to another workload is refused, for the route and for the JWKS", async () => {
    const serveAs = async (identity: string, handler: Parameters<typeof createServer>[1]) => {
      const { cert, key } = issueServerCert(mesh, `server-${identity.replace(/\W/g, '-')}-${servers.length}`, identity);
      const s = createServer({ cert: readFileSync(cert), key: readFileSync(key) }, handler);
      await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
      servers.push(s);
      return `https://localhost:${(s.address() as { port: number }).port}`;
    };
    const auth = workloadSpiffeId('auth');
    const echoAs = (identity: string) =>
      serveAs(identity, (req, res) => res.writeHead(200).end(`${identity} ${req.url}`));
    const jwks = JSON.stringify({
      keys: [{ ...(await exportJWK(keys.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' }],
    });
    const jwksAs = (identity: string) =>
      serveAs(identity, (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(jwks));
    const bearer = { authorization: `Bearer ${await token(keys, 'identity-user', {}, { kid: 'k1' })}` };
    // A compromised config pod (same CA, valid name) standing in for auth, and for auth's JWKS.
    for (const [identity, route502, jwksStatus] of [
      [auth, 200, 200],
      [workloadSpiffeId('config'), 502, 503],
    ] as const) {
      const gw = await startTestGateway({
        keys,
        routes: [
          route('auth', await echoAs(identity), { ca_file: mesh.caCert, server_identity: auth, auth_required: false }),
          route('s', await echoAs(auth), { ca_file: mesh.caCert, server_identity: auth }),
        ],
        auth: { jwks_ca_file: mesh.caCert, jwks_server_identity: auth },
        env: { PRISM_AUTH_JWKS_URL: `${await jwksAs(identity)}/jwks.json`, PRISM_JWT_PUBLIC_KEY_FILE: '' },
      });
      try {
        const r = await fetch(`${gw.url}/api/auth/login`);
        expect(r.status, identity).toBe(route502);
        if (route502 === 200) expect(await r.text()).toBe(`${auth} /auth/login`);
        else expect(r.headers.get('x-prism-gateway-error')).toBe('upstream');
        expect((await fetch(`${gw.url}/api/s/x`, { headers: bearer })).status, `JWKS from ${identity}`).toBe(
          jwksStatus,
        );
      } finally {
        await gw.close();
      }
    }
  });

  it('a ca_file on a plaintext upstream is a configuration error naming the route', () => {
    const file = writeGatewayYaml(
      { keys, routes: [route('s', 'http://127.0.0.1:1', { ca_file: '/etc/prism/mtls/ca.crt' })] },
      tmpDir(),
    );
    expect(() => readGatewayConfig(file)).toThrow(
      /routes: \/api\/s: ca_file is set but upstream http:\/\/127\.0\.0\.1:1 is not https/,
    );
  });

  it('an unreadable ca_file stops the gateway at startup, naming the route and the file', async () => {
    await expect(
      startTestGateway({ keys, routes: [route('s', 'https://localhost:1', { ca_file: '/nonexistent/ca.crt' })] }),
    ).rejects.toThrow(/route \/api\/s: cannot read ca_file \/nonexistent\/ca\.crt \(ENOENT\)/);
  });
});
