import { readFileSync } from 'node:fs';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type grpc, grpcClientCredentials, loadProto } from '../../runtime/src/index.js';
import { makePki, type TestPki } from '../../runtime/test/support/certs.js';
import { type Harness, startHarness } from './support/harness.js';

let pki: TestPki;
let h: Harness;
beforeAll(async () => {
  pki = makePki();
  h = await startHarness({
    env: {
      PRISM_TLS_ENABLED: 'true',
      PRISM_TLS_CERT_FILE: pki.serverCert,
      PRISM_TLS_KEY_FILE: pki.serverKey,
      PRISM_TLS_MIN_VERSION: '1.2',
    },
  });
});
afterAll(async () => {
  await h?.close();
});

describe('TLS (PRISM_TLS_ENABLED)', () => {
  it('serves HTTPS on the HTTP port and refuses plain HTTP', async () => {
    const agent = new Agent({ connect: { ca: readFileSync(pki.caCert) } });
    const r = await request(`https://127.0.0.1:${h.httpPort}/auth/.well-known/jwks.json`, { dispatcher: agent });
    expect(r.statusCode).toBe(200);
    expect(((await r.body.json()) as { keys: unknown[] }).keys).toHaveLength(1);
    await agent.close();
    await expect(fetch(`http://127.0.0.1:${h.httpPort}/auth/.well-known/jwks.json`)).rejects.toThrow();
  });

  it('serves gRPC over TLS', async () => {
    const Auth = loadProto('prism/auth/v1/auth.proto').prism.auth.v1.AuthService;
    const client = new Auth(
      `127.0.0.1:${h.grpcPort}`,
      grpcClientCredentials({ enabled: true, caFile: pki.caCert }),
    ) as unknown as {
      ValidateToken(req: unknown, cb: (e: grpc.ServiceError | null, r: any) => void): void;
      close(): void;
    };
    try {
      const res = await new Promise<any>((resolve, reject) =>
        client.ValidateToken({ token: 'x' }, (e, r) => (e ? reject(e) : resolve(r))),
      );
      expect(res).toMatchObject({ valid: false, reason: 'malformed' });
    } finally {
      client.close();
    }
  });
});
