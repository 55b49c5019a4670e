import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makePki, type TestPki } from '../../runtime/test/support/certs.js';
import { waitFor } from '#test/support/net';
import { freePort, makeKeys, route, startTestGateway, TestUpstream, token, type Keys } from './support/harness.js';

let keys: Keys;
let upstream: TestUpstream;
let pki: TestPki;
beforeAll(async () => {
  keys = await makeKeys();
  upstream = await new TestUpstream().start();
  pki = makePki();
});
afterAll(() => upstream.stop());

function tlsGet(url: string, connect: Record<string, unknown>, headers: Record<string, string> = {}) {
  const dispatcher = new Agent({ connect });
  return request(url, { dispatcher, headers }).then(
    async (r) => {
      await r.body.text();
      await dispatcher.close();
      return r.statusCode;
    },
    async (e: Error) => {
      await dispatcher.close();
      throw e;
    },
  );
}

describe('gateway TLS', () => {
  it('serves HTTPS with the minimum version; with client_auth only clients with a certificate from the CA get through', async () => {
    const gw = await startTestGateway({
      keys,
      routes: [route('s', upstream.origin)],
      env: {
        PRISM_TLS_ENABLED: 'true',
        PRISM_TLS_CERT_FILE: pki.serverCert,
        PRISM_TLS_KEY_FILE: pki.serverKey,
        PRISM_TLS_CLIENT_AUTH: 'true',
        PRISM_TLS_CLIENT_CA_FILE: pki.caCert,
      },
    });
    const url = `https://localhost:${gw.port}/api/s/x`;
    const ca = readFileSync(pki.caCert);
    const auth = { authorization: `Bearer ${await token(keys, 'tls-user')}` };
    try {
      expect(
        await tlsGet(url, { ca, cert: readFileSync(pki.clientCert), key: readFileSync(pki.clientKey) }, auth),
      ).toBe(200);
      await expect(tlsGet(url, { ca })).rejects.toThrow();
      await expect(
        tlsGet(url, { ca, cert: readFileSync(pki.rogueCert), key: readFileSync(pki.rogueKey) }),
      ).rejects.toThrow();
      await expect(
        tlsGet(url, {
          ca,
          cert: readFileSync(pki.clientCert),
          key: readFileSync(pki.clientKey),
          maxVersion: 'TLSv1.1',
          minVersion: 'TLSv1',
        }),
      ).rejects.toThrow();
      await expect(fetch(`http://127.0.0.1:${gw.port}/health`)).rejects.toThrow();
      const routed = upstream.requests.at(-1)!;
      expect(routed.headers['x-forwarded-proto']).toBe('https');
    } finally {
      await gw.close();
    }
  });
});

/** An OTLP/HTTP endpoint on a free port that keeps each export's body. */
async function otlpCollector() {
  const exported: string[] = [];
  const collector = createServer((req, res) => {
    let b = '';
    req
      .on('data', (c: Buffer) => (b += c.toString()))
      .on('end', () => (exported.push(b), res.writeHead(200, { 'content-type': 'application/json' }).end('{}')));
  });
  const port = await freePort();
  await new Promise<void>((r) => collector.listen(port, '127.0.0.1', () => r()));
  return { exported, collector, port };
}

describe('gateway tracing', () => {
  it('continues the client trace, sends its own span as the upstream parent, and exports spans over OTLP', async () => {
    const { exported, collector, port } = await otlpCollector();
    const gw = await startTestGateway({
      keys,
      routes: [route('t', upstream.origin)],
      env: { PRISM_OTLP_ENDPOINT: `http://127.0.0.1:${port}/v1/traces` },
    });
    try {
      const traceId = '0af7651916cd43dd8448eb211c80319c';
      const r = await fetch(`${gw.url}/api/t/x`, {
        headers: {
          authorization: `Bearer ${await token(keys, 'trace-user')}`,
          traceparent: `00-${traceId}-b7ad6b7169203331-01`,
        },
      });
      expect(r.status).toBe(200);
      const tp = String(upstream.requests.at(-1)!.headers.traceparent);
      expect(tp).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
      expect(tp).not.toContain('b7ad6b7169203331');
      await gw.close();
      await waitFor('exported spans', () => exported.find((b) => b.includes('GET /api/t')));
    } finally {
      await gw.close();
      collector.close();
    }
  });

  it('with PRISM_TRACE_SAMPLE_RATIO 0 starts no trace, tells the upstream so, and still continues a sampled client trace', async () => {
    const { exported, collector, port } = await otlpCollector();
    const gw = await startTestGateway({
      keys,
      routes: [route('t', upstream.origin)],
      env: { PRISM_OTLP_ENDPOINT: `http://127.0.0.1:${port}/v1/traces`, PRISM_TRACE_SAMPLE_RATIO: '0' },
    });
    try {
      const auth = { authorization: `Bearer ${await token(keys, 'trace-user')}` };
      for (let i = 0; i < 20; i++) {
        expect((await fetch(`${gw.url}/api/t/untraced-${i}`, { headers: auth })).status).toBe(200);
        // The upstream gets a traceparent (ids for its logs) flagged not sampled: it records nothing either.
        expect(String(upstream.requests.at(-1)!.headers.traceparent)).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
      }
      const traceId = '1af7651916cd43dd8448eb211c80319d';
      const r = await fetch(`${gw.url}/api/t/traced`, {
        headers: { ...auth, traceparent: `00-${traceId}-b7ad6b7169203331-01` },
      });
      expect(r.status).toBe(200);
      expect(String(upstream.requests.at(-1)!.headers.traceparent)).toMatch(
        new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`),
      );
      await gw.close();
      await waitFor('the client trace exported', () => exported.find((b) => b.includes('GET /api/t')));
      const all = exported.join('');
      expect(all).toContain(traceId);
      expect(all.match(/GET \/api\/t/g)).toHaveLength(1); // the client's request only
    } finally {
      await gw.close();
      collector.close();
    }
  });
});

describe('JWKS unreachable', () => {
  it('a token whose key cannot be fetched gets 503, not 401, and readiness reports the key source', async () => {
    const dead = await freePort();
    const gw = await startTestGateway({
      keys,
      routes: [route('j', upstream.origin)],
      env: { PRISM_AUTH_JWKS_URL: `http://127.0.0.1:${dead}/jwks.json`, PRISM_JWT_PUBLIC_KEY_FILE: '' },
    });
    try {
      const r = await fetch(`${gw.url}/api/j/x`, {
        headers: { authorization: `Bearer ${await token(keys, 'u', {}, { kid: 'k1' })}` },
      });
      expect(r.status).toBe(503);
      expect((await fetch(`${gw.url}/ready`)).status).toBe(503);
    } finally {
      await gw.close();
    }
  });
});
