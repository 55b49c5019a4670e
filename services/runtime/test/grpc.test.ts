import { beforeAll, describe, expect, it } from 'vitest';
import { parseEnv } from '../src/config.js';
import { grpc, grpcClientCredentials, loadProto } from '../src/grpc.js';
import { ServiceRuntime } from '../src/service.js';
import { makePki, type TestPki } from './support/certs.js';
import { configServiceEnv } from './support/env.js';
import { freePort } from '#test/support/net';

type HealthClient = grpc.Client & {
  Check(
    req: { service: string },
    opts: grpc.CallOptions,
    cb: (err: grpc.ServiceError | null, res?: { status: string }) => void,
  ): void;
  Watch(req: { service: string }): grpc.ClientReadableStream<{ status: string }>;
};
const Health = loadProto('grpc/health/v1/health.proto').grpc.health.v1.Health;
const healthClient = (address: string, creds: grpc.ChannelCredentials) =>
  new Health(address, creds) as unknown as HealthClient;

function check(client: HealthClient, service = ''): Promise<string> {
  return new Promise((resolve, reject) =>
    client.Check({ service }, { deadline: Date.now() + 3_000 }, (err, res) =>
      err ? reject(err) : resolve(res!.status),
    ),
  );
}

async function startRuntime(tls: Record<string, string>) {
  const runtime = new ServiceRuntime({
    service: 'config',
    env: parseEnv('config', configServiceEnv({ PRISM_METRICS_PORT: String(await freePort()), ...tls })),
    handleSignals: false,
    drainDelayMs: 100,
  });
  const server = runtime.createGrpcServer(['prism.config.v1.ConfigService']);
  const port = await runtime.bindGrpc(server, 0, '127.0.0.1');
  await runtime.start(port);
  return { runtime, port };
}

let pki: TestPki;
beforeAll(() => {
  pki = makePki();
});

describe('grpc.health.v1.Health over plaintext', () => {
  it('reports SERVING, NOT_FOUND for an unknown service, and NOT_SERVING once draining; Watch streams the change', async () => {
    const { runtime, port } = await startRuntime({});
    const client = healthClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    try {
      expect(await check(client)).toBe('SERVING');
      expect(await check(client, 'prism.config.v1.ConfigService')).toBe('SERVING');
      await expect(check(client, 'nope.Service')).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });

      const seen: string[] = [];
      const watch = client.Watch({ service: '' });
      const ended = new Promise<void>((resolve) => {
        watch.on('data', (m: { status: string }) => seen.push(m.status));
        watch.on('end', () => resolve());
        watch.on('error', () => resolve());
      });
      await new Promise((r) => setTimeout(r, 200));
      const stopping = runtime.shutdown();
      await new Promise((r) => setTimeout(r, 50));
      expect(await check(client).catch(() => 'unreachable')).toMatch(/NOT_SERVING|unreachable/);
      await ended;
      await stopping;
      expect(seen).toEqual(['SERVING', 'NOT_SERVING']);
    } finally {
      client.close();
      await runtime.shutdown();
    }
  });
});

describe('gRPC TLS and mutual TLS from the guide keys', () => {
  it('TLS: a client trusting the CA connects; a plaintext client does not', async () => {
    const { runtime, port } = await startRuntime({
      PRISM_TLS_ENABLED: 'true',
      PRISM_TLS_CERT_FILE: pki.serverCert,
      PRISM_TLS_KEY_FILE: pki.serverKey,
    });
    const good = healthClient(`localhost:${port}`, grpcClientCredentials({ enabled: true, caFile: pki.caCert }));
    const plain = healthClient(`localhost:${port}`, grpc.credentials.createInsecure());
    try {
      expect(await check(good)).toBe('SERVING');
      await expect(check(plain)).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
    } finally {
      good.close();
      plain.close();
      await runtime.shutdown();
    }
  });

  it('mutual TLS: only a client with a certificate from the client CA gets through', async () => {
    const { runtime, port } = await startRuntime({
      PRISM_TLS_ENABLED: 'true',
      PRISM_TLS_CERT_FILE: pki.serverCert,
      PRISM_TLS_KEY_FILE: pki.serverKey,
      PRISM_TLS_CLIENT_AUTH: 'true',
      PRISM_TLS_CLIENT_CA_FILE: pki.caCert,
    });
    const mk = (certFile?: string, keyFile?: string) =>
      healthClient(
        `localhost:${port}`,
        grpcClientCredentials({ enabled: true, caFile: pki.caCert, certFile, keyFile }),
      );
    const withCert = mk(pki.clientCert, pki.clientKey);
    const noCert = mk();
    const rogue = mk(pki.rogueCert, pki.rogueKey);
    try {
      expect(await check(withCert)).toBe('SERVING');
      await expect(check(noCert)).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
      await expect(check(rogue)).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
    } finally {
      for (const c of [withCert, noCert, rogue]) c.close();
      await runtime.shutdown();
    }
  });

  it('min_version 1.3: a TLS 1.2-only client is refused', async () => {
    const { runtime, port } = await startRuntime({
      PRISM_TLS_ENABLED: 'true',
      PRISM_TLS_CERT_FILE: pki.serverCert,
      PRISM_TLS_KEY_FILE: pki.serverKey,
      PRISM_TLS_MIN_VERSION: '1.3',
    });
    const { createSecureContext } = await import('node:tls');
    const { readFileSync } = await import('node:fs');
    const old = healthClient(
      `localhost:${port}`,
      grpc.credentials.createFromSecureContext(
        createSecureContext({ ca: readFileSync(pki.caCert), maxVersion: 'TLSv1.2' }),
      ),
    );
    const current = healthClient(`localhost:${port}`, grpcClientCredentials({ enabled: true, caFile: pki.caCert }));
    try {
      expect(await check(current)).toBe('SERVING');
      await expect(check(old)).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
    } finally {
      old.close();
      current.close();
      await runtime.shutdown();
    }
  });

  it('refuses TLS settings that cannot work, naming the missing variable', async () => {
    await expect(startRuntime({ PRISM_TLS_ENABLED: 'true' })).rejects.toThrow(
      /PRISM_TLS_CERT_FILE or PRISM_TLS_KEY_FILE is not set/,
    );
    await expect(
      startRuntime({
        PRISM_TLS_ENABLED: 'true',
        PRISM_TLS_CERT_FILE: pki.serverCert,
        PRISM_TLS_KEY_FILE: pki.serverKey,
        PRISM_TLS_CLIENT_AUTH: 'true',
      }),
    ).rejects.toThrow(/PRISM_TLS_CLIENT_CA_FILE is not set/);
  });
});
