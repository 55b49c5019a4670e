import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import * as protoLoader from '@grpc/proto-loader';
import { beforeAll, describe, expect, it } from 'vitest';
import { GRPC_ACCESS, GRPC_APIS, allowedCallers, callerFromUris, operatorSpiffeId } from '#contract';
import { issueFromLocalCa } from '#infra/local/mtls-pki';
import { PROTO_DIR, ServiceRuntime, TlsConfigError, loadMtlsMaterial, parseEnv, sanUris } from '../src/index.js';
import { makeMesh, type TestMesh } from './support/mtls.js';

let mesh: TestMesh;
beforeAll(async () => {
  mesh = await makeMesh();
});

describe('the authorization table of the contract', () => {
  it('lists every method of every Prism gRPC API, and nothing else', () => {
    for (const [api, spec] of Object.entries(GRPC_APIS)) {
      const def = protoLoader.loadSync(spec.proto, { includeDirs: [PROTO_DIR] });
      const methods = Object.keys(def[spec.service] as Record<string, unknown>).sort();
      expect(Object.keys(GRPC_ACCESS[api as keyof typeof GRPC_APIS]).sort(), api).toEqual(methods);
    }
  });

  it('refuses what it does not list', () => {
    expect(allowedCallers('/prism.config.v1.ConfigService/Set')).toEqual(['operator']);
    expect(allowedCallers('/prism.config.v1.ConfigService/Nope')).toBeUndefined();
    expect(allowedCallers('/prism.other.v1.Svc/Set')).toBeUndefined();
    expect(allowedCallers('/grpc.health.v1.Health/Check')).toBe('any-verified');
    expect(allowedCallers('/prism.config.v1.ConfigService/hasOwnProperty')).toBeUndefined();
  });

  it('reads exactly one Prism identity from a certificate', () => {
    expect(callerFromUris(['spiffe://prism/gateway'])).toMatchObject({ role: 'gateway', name: 'gateway' });
    expect(callerFromUris(['spiffe://prism/operator/alice'])).toMatchObject({
      role: 'operator',
      name: 'operator/alice',
    });
    expect(callerFromUris(['spiffe://prism/gateway', 'spiffe://prism/operator/alice'])).toBeUndefined();
    expect(callerFromUris(['spiffe://prism/operator'])).toBeUndefined();
    expect(callerFromUris(['spiffe://prism/operator/../gateway'])).toBeUndefined();
    expect(callerFromUris(['spiffe://other/gateway'])).toBeUndefined();
    expect(callerFromUris(['spiffe://prism/gateway/extra'])).toBeUndefined();
    expect(() => operatorSpiffeId('Alice Smith')).toThrow(/operator name/);
  });

  it('parses URI SANs the way Node prints them, quoted values included', () => {
    expect(sanUris('URI:spiffe://prism/gateway, DNS:gateway, IP Address:127.0.0.1')).toEqual([
      'spiffe://prism/gateway',
    ]);
    // A value with a comma is quoted: it must not read as a second URI.
    expect(sanUris('URI:"spiffe://x, URI:spiffe://prism/operator/eve", DNS:a')).toEqual([
      'spiffe://x, URI:spiffe://prism/operator/eve',
    ]);
    expect(callerFromUris(sanUris('URI:"spiffe://x, URI:spiffe://prism/operator/eve"'))).toBeUndefined();
  });
});

describe('mTLS files at start-up', () => {
  const runtime = (service: 'config' | 'gateway', env: Record<string, string>) =>
    new ServiceRuntime({
      service,
      handleSignals: false,
      logDestination: new Writable({ write: (_c, _e, cb) => cb() }),
      env: parseEnv(service, {
        PRISM_ENVIRONMENT: 'test',
        PRISM_NATS_URL: 'nats://127.0.0.1:4222',
        PRISM_OPS_DB_HOST: 'x',
        PRISM_OPS_DB_PORT: '5433',
        PRISM_OPS_DB_NAME: 'x',
        PRISM_OPS_DB_USER: 'x',
        PRISM_OPS_DB_PASSWORD: 'x',
        ...env,
      }),
    });

  it('starts with its own certificate and names its identity', () => {
    const r = runtime('config', mesh.env('config'));
    expect(r.mtlsProvider?.material.identity.uri).toBe('spiffe://prism/config');
  });

  it("refuses another workload's certificate, a missing variable, a mismatched key and a certificate of another CA, each with a clear line", async () => {
    expect(() => runtime('config', mesh.env('gateway'))).toThrow(
      new TlsConfigError(
        `the mTLS certificate ${mesh.pki.workloads.gateway!.cert} identifies spiffe://prism/gateway, not config`,
      ),
    );
    expect(() => runtime('config', { ...mesh.env('config'), PRISM_MTLS_CA_FILE: '' })).toThrow(
      'PRISM_MTLS_ENABLED is true but PRISM_MTLS_CA_FILE is not set',
    );
    const c = mesh.pki.workloads.config!;
    expect(() =>
      loadMtlsMaterial({ enabled: true, certFile: c.cert, keyFile: mesh.pki.workloads.auth!.key, caFile: c.ca }),
    ).toThrow(`${mesh.pki.workloads.auth!.key} does not belong to ${c.cert}`);
    expect(() =>
      loadMtlsMaterial({ enabled: true, certFile: mesh.foreign.cert, keyFile: mesh.foreign.key, caFile: c.ca }),
    ).toThrow(`${mesh.foreign.cert} was not issued by the CA in ${c.ca}`);
    expect(() =>
      loadMtlsMaterial({ enabled: true, certFile: '/nonexistent/tls.crt', keyFile: c.key, caFile: c.ca }),
    ).toThrow('cannot read the mTLS certificate /nonexistent/tls.crt: ENOENT');
    const bare = await issueFromLocalCa(mesh.pki.dir, mkdtempSync(join(tmpdir(), 'prism-bare-')), {
      uri: 'https://example.com/',
    });
    expect(() => loadMtlsMaterial({ enabled: true, certFile: bare.cert, keyFile: bare.key, caFile: bare.ca })).toThrow(
      'carries no Prism identity',
    );
  });

  it('keeps the current certificate when the files on disk are half-written', () => {
    const dir = mkdtempSync(join(tmpdir(), 'prism-half-'));
    const c = mesh.pki.workloads.config!;
    for (const f of ['cert', 'key', 'ca'] as const) copyFileSync(c[f], join(dir, f));
    const r = runtime('config', {
      ...mesh.env('config'),
      PRISM_MTLS_CERT_FILE: join(dir, 'cert'),
      PRISM_MTLS_KEY_FILE: join(dir, 'key'),
      PRISM_MTLS_CA_FILE: join(dir, 'ca'),
    });
    const before = r.mtlsProvider!.material.serial;
    writeFileSync(join(dir, 'key'), '-----BEGIN PRIVATE KEY-----\ntruncated');
    expect(r.mtlsProvider!.refresh()).toBe(false);
    copyFileSync(mesh.pki.workloads.auth!.key, join(dir, 'key'));
    expect(r.mtlsProvider!.refresh()).toBe(false);
    expect(r.mtlsProvider!.material.serial).toBe(before);
  });
});
