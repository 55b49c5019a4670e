import { connect as tlsConnect } from 'node:tls';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  MtlsFileProvider,
  type ServiceRuntime,
  grpc,
  loadProto,
  mtlsClientCredentials,
} from '../../runtime/src/index.js';
import { migrateDatabase } from '../../dbmanager/src/migrations/index.js';
import { freshDatabase } from '../../dbmanager/test/pg-support.js';
import { makeMesh, type TestMesh } from '../../runtime/test/support/mtls.js';
import { CONFIG_SERVICE } from '../src/service.js';
import { startTestConfigService } from './support/config-server.js';

type Client = grpc.Client;
interface GrpcErr {
  code: number;
  details: string;
}

const REFRESH_MS = 200;
const Config = loadProto('prism/config/v1/config.proto').prism.config.v1.ConfigService;
const Health = loadProto('grpc/health/v1/health.proto').grpc.health.v1.Health;

/**
 * The config service with mutual TLS on, as the model runs it: certificates from the local CA
 * generator, the per-method table of the contract, and callers that attack it.
 */
describe('config service: mutual TLS and per-method authorization', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let runtime: ServiceRuntime;
  let port: number;
  let mesh: TestMesh;
  const clients: grpc.Client[] = [];
  const client = (creds: grpc.ChannelCredentials, C: typeof Config | typeof Health = Config): Client => {
    // A new channel each time: a rotation is seen by new connections.
    const c = new C(`localhost:${port}`, creds, { 'grpc.use_local_subchannel_pool': 1 });
    clients.push(c);
    return c;
  };
  const call = (c: Client, method: string, req: object) =>
    new Promise<Record<string, unknown>>((resolve, reject) =>
      Reflect.get(c, method).call(
        c,
        req,
        { deadline: Date.now() + 5000 },
        (e: GrpcErr | null, r: Record<string, unknown>) => (e ? reject(e) : resolve(r)),
      ),
    );
  const key = (k: string) => ({ environment: 'test', service: 'gateway', key: k });

  beforeAll(async () => {
    mesh = await makeMesh();
    db = await freshDatabase('config_mtls');
    await migrateDatabase('ops', db.url);
    ({ runtime, port } = await startTestConfigService(db.url, 0, {
      env: mesh.env('config'),
      mtlsRefreshMs: REFRESH_MS,
    }));
  });

  afterAll(async () => {
    for (const c of clients) c.close();
    await runtime?.shutdown();
    await db?.drop();
  });

  it('lets an operator write; changed_by is the verified identity, not what the request says', async () => {
    const op = client(mesh.creds(mesh.pki.operator));
    const set = await call(op, 'Set', {
      ...key('maintenance.enabled'),
      valueJson: 'true',
      changedBy: 'ceo@example.com',
      comment: 'drill',
    });
    expect(set).toMatchObject({ version: 1, updatedBy: 'operator/local' });
    const history = await call(op, 'History', key('maintenance.enabled'));
    expect(history.entries).toEqual([expect.objectContaining({ changedBy: 'operator/local', comment: 'drill' })]);
  });

  it('lets the gateway read and watch, and refuses it every write with PERMISSION_DENIED', async () => {
    const gw = client(mesh.creds(mesh.pki.workloads.gateway));
    expect(await call(gw, 'Get', key('maintenance.enabled'))).toMatchObject({ valueJson: 'true' });
    expect((await call(gw, 'List', { environment: 'test' })).entries).toHaveLength(1);
    const watcher = new Config(`localhost:${port}`, mesh.creds(mesh.pki.workloads.gateway));
    clients.push(watcher);
    const watch = watcher.Watch({ environment: 'test', service: 'gateway' });
    await new Promise<void>((resolve, reject) => {
      watch.once('metadata', () => resolve());
      watch.once('error', reject);
    });
    watch.cancel();
    for (const [method, req] of [
      ['Set', { ...key('maintenance.message'), valueJson: '"pwned"', changedBy: 'operator/local' }],
      ['Delete', { ...key('maintenance.enabled'), changedBy: 'operator/local' }],
      ['Rollback', { ...key('maintenance.enabled'), toVersion: 1, changedBy: 'operator/local' }],
      ['History', key('maintenance.enabled')],
    ] as const) {
      await expect(call(gw, method, req), method).rejects.toMatchObject({
        code: grpc.status.PERMISSION_DENIED,
        details: `gateway may not call /${CONFIG_SERVICE}/${method}`,
      });
    }
    const op = client(mesh.creds(mesh.pki.operator));
    expect(await call(op, 'Get', key('maintenance.message')).catch((e: GrpcErr) => e.code)).toBe(grpc.status.NOT_FOUND);
  });

  it('refuses other workloads everything but health', async () => {
    const auth = client(mesh.creds(mesh.pki.workloads.auth));
    await expect(call(auth, 'List', { environment: 'test' })).rejects.toMatchObject({
      code: grpc.status.PERMISSION_DENIED,
    });
    expect(
      await call(client(mesh.creds(mesh.pki.workloads.auth), Health), 'Check', { service: CONFIG_SERVICE }),
    ).toEqual({ status: 'SERVING' });
  });

  it('answers UNAUTHENTICATED to a caller without a certificate, and to one from another CA claiming to be an operator', async () => {
    for (const creds of [mesh.creds(), mesh.creds(mesh.foreign)]) {
      await expect(
        call(client(creds), 'Set', { ...key('maintenance.enabled'), valueJson: 'false', changedBy: 'x' }),
      ).rejects.toMatchObject({ code: grpc.status.UNAUTHENTICATED });
      await expect(call(client(creds), 'List', { environment: 'test' })).rejects.toMatchObject({
        code: grpc.status.UNAUTHENTICATED,
      });
      await expect(call(client(creds, Health), 'Check', { service: '' })).rejects.toMatchObject({
        code: grpc.status.UNAUTHENTICATED,
      });
    }
    // A plaintext client does not even get a connection.
    await expect(
      call(client(grpc.credentials.createInsecure()), 'List', { environment: 'test' }),
    ).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
  });

  it("a workload's client refuses a server that is not the peer it expects", async () => {
    const provider = new MtlsFileProvider({
      enabled: true,
      certFile: mesh.pki.workloads.gateway!.cert,
      keyFile: mesh.pki.workloads.gateway!.key,
      caFile: mesh.pki.workloads.gateway!.ca,
    });
    expect(
      await call(client(mtlsClientCredentials(provider, 'config')), 'List', { environment: 'test' }),
    ).toHaveProperty('entries');
    // The config service's certificate is from the right CA and names localhost, but it is not auth.
    await expect(
      call(client(mtlsClientCredentials(provider, 'auth')), 'List', { environment: 'test' }),
    ).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
    provider.close();
  });

  it('rotates its certificate without a restart: new connections get the new one, no call fails meanwhile', async () => {
    const serial = () =>
      new Promise<string>((resolve, reject) => {
        const s = tlsConnect(
          {
            host: '127.0.0.1',
            port,
            servername: 'localhost',
            ca: readFileSync(mesh.pki.caCert),
            cert: readFileSync(mesh.pki.operator.cert),
            key: readFileSync(mesh.pki.operator.key),
            ALPNProtocols: ['h2'],
          },
          () => {
            resolve(s.getPeerCertificate().serialNumber);
            s.destroy();
          },
        );
        s.once('error', reject);
      });
    const before = await serial();
    let calls = 0;
    const failures: unknown[] = [];
    let stop = false;
    // Callers keep opening new channels and calling throughout the rotation.
    const load = (async () => {
      while (!stop) {
        const c = client(mesh.creds(mesh.pki.workloads.gateway));
        await call(c, 'List', { environment: 'test' }).then(
          () => calls++,
          (e: unknown) => failures.push(e),
        );
        c.close();
      }
    })();
    await new Promise((r) => setTimeout(r, 300));
    const renewed = await mesh.renew();
    expect(renewed.issued).toEqual([
      'gateway',
      'auth',
      'config',
      'dbmanager',
      'nats',
      'postgres-auth',
      'postgres-ops',
      'operator',
    ]);
    const newSerial = new (await import('node:crypto')).X509Certificate(readFileSync(renewed.workloads.config!.cert))
      .serialNumber;
    expect(newSerial).not.toBe(before);
    const until = Date.now() + 5_000;
    let after = before;
    while (after !== newSerial && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 100));
      after = await serial();
    }
    // Calls go on over new connections after the switch, with the renewed client certificates too.
    const callsAtSwitch = calls;
    while (calls < callsAtSwitch + 2 && Date.now() < until + 5_000) await new Promise((r) => setTimeout(r, 50));
    stop = true;
    await load;
    expect(after).toBe(newSerial);
    expect(failures).toEqual([]);
    expect(calls).toBeGreaterThanOrEqual(callsAtSwitch + 2);
  });
});
