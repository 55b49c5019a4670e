import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { grpc, loadProto } from '../../runtime/src/index.js';
import { makeMesh, type TestMesh } from '../../runtime/test/support/mtls.js';
import { type Harness, signUp, startHarness } from './support/harness.js';

const Auth = loadProto('prism/auth/v1/auth.proto').prism.auth.v1.AuthService;

/** Auth's gRPC API with mutual TLS on: only the gateway may validate credentials and read users. */
describe('auth gRPC: mutual TLS and per-method authorization', () => {
  let mesh: TestMesh;
  let h: Harness;
  let userId: string;
  const clients: grpc.Client[] = [];
  const rpc = (creds: grpc.ChannelCredentials, method: string, req: object) => {
    const c = new Auth(`localhost:${h.grpcPort}`, creds);
    clients.push(c);
    return new Promise<Record<string, unknown>>((resolve, reject) =>
      Reflect.get(c, method).call(
        c,
        req,
        { deadline: Date.now() + 5000 },
        (e: Error | null, r: Record<string, unknown>) => (e ? reject(e) : resolve(r)),
      ),
    );
  };

  beforeAll(async () => {
    mesh = await makeMesh();
    h = await startHarness({ env: mesh.env('auth') });
    userId = (await signUp(h.base, `mtls-${randomUUID()}@example.com`)).userId;
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await h?.close();
  });

  it('answers the gateway', async () => {
    const gw = mesh.creds(mesh.pki.workloads.gateway);
    expect(await rpc(gw, 'GetUser', { userId })).toMatchObject({ id: userId, email: expect.stringMatching(/^mtls-/) });
    expect(await rpc(gw, 'ValidateToken', { token: 'x' })).toMatchObject({ valid: false, reason: 'malformed' });
  });

  it('refuses user data and credential checks to every other identity (PERMISSION_DENIED) and to callers without a platform certificate (UNAUTHENTICATED)', async () => {
    for (const who of [mesh.pki.workloads.config, mesh.pki.workloads.dbmanager, mesh.pki.operator]) {
      for (const [method, req] of [
        ['GetUser', { userId }],
        ['ValidateApiKey', { apiKey: 'prism_x' }],
        ['ValidateToken', { token: 'x' }],
      ] as const) {
        await expect(rpc(mesh.creds(who), method, req)).rejects.toMatchObject({ code: grpc.status.PERMISSION_DENIED });
      }
    }
    for (const creds of [mesh.creds(), mesh.creds(mesh.foreign)]) {
      await expect(rpc(creds, 'GetUser', { userId })).rejects.toMatchObject({ code: grpc.status.UNAUTHENTICATED });
    }
    expect(h.logs.text).toMatch(
      /"caller":"spiffe:\/\/prism\/config".*"msg":"gRPC call refused"|"msg":"gRPC call refused".*"caller":"spiffe:\/\/prism\/config"/,
    );
  });
});
