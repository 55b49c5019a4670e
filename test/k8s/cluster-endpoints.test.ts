import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Endpoints } from '#infra/local-platform/endpoints';
import { synth } from '#test/support/synth';

/**
 * The real-pods lane's endpoints.json (infra/cli/cluster-endpoints.ts): every TLS address is a name the service's
 * mesh certificate carries (so the journeys verify the cluster's certificates as they are, no name override), each
 * name is one the lane maps in /etc/hosts, and the operator identity is one the operators' policy admits.
 */
describe('the real-pods lane endpoints', () => {
  const dir = mkdtempSync(join(tmpdir(), 'prism-cluster-endpoints-'));
  const names = execFileSync(
    process.execPath,
    [
      '--import',
      './infra/cli/ts-loader.mjs',
      'infra/cli/cluster-endpoints.ts',
      join(dir, 'endpoints.json'),
      join(dir, 'operator'),
      'http://192.0.2.10:19093',
    ],
    { encoding: 'utf8' },
  )
    .trim()
    .split('\n')
    .map((l) => l.split(' '));
  const e = JSON.parse(readFileSync(join(dir, 'endpoints.json'), 'utf8')) as Endpoints;
  const objects = synth('dev').objects;
  const certificateOf = (service: string) =>
    objects.find((o) => o.kind === 'Certificate' && o.metadata.name === `${service}-mtls`) as
      { spec: { dnsNames: string[] } } | undefined;
  const mapped = new Map(names.map((f) => [f.at(-1)!, f[1]!]));
  const host = (address: string) => (address.includes('://') ? new URL(address).hostname : address.split(':')[0]!);

  it('maps every name it uses, each to a service of the stack', () => {
    const used = [
      ...e.gateways,
      e.auth,
      e.auth_grpc,
      e.config_grpc,
      e.dbmanager_grpc,
      e.tracing_query,
      e.log_query,
      e.metrics_query,
      ...Object.values(e.postgres),
    ];
    for (const address of used) expect(mapped.has(host(address)), address).toBe(true);
    for (const [kind] of names) expect(['service', 'pod']).toContain(kind);
    // The alert sink is on the node's address, reached without a name.
    expect(e.alert_sink).toBe('http://192.0.2.10:19093');
  });

  it("every TLS address is a name of its service's mesh certificate", () => {
    const tls = [...e.gateways, e.auth, e.auth_grpc, e.config_grpc, e.dbmanager_grpc, ...Object.values(e.postgres)];
    for (const address of tls) {
      const service = mapped.get(host(address))!;
      expect(certificateOf(service)?.spec.dnsNames, address).toContain(host(address));
    }
    // Two gateway replicas, two names.
    expect(new Set(e.gateways.map(host)).size).toBe(2);
  });

  it("asks for an operator identity the stack's operators' policy admits", () => {
    const policy = objects.find(
      (o) => o.kind === 'CertificateRequestPolicy' && o.metadata.name.endsWith('-mesh-operators'),
    ) as unknown as { spec: { allowed: { uris: { values: string[] } } } };
    const pattern = policy.spec.allowed.uris.values[0]!;
    expect(e.operator_mtls.identity.startsWith(pattern.replace('*', ''))).toBe(true);
    expect(e.operator_mtls.cert_file).toBe(join(dir, 'operator', 'tls.crt'));
  });
});
