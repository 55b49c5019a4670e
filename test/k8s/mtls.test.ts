import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  MTLS_DIR,
  MTLS_FILES,
  PORTS,
  SERVICE_NAMES,
  callerFromUris,
  serviceEnvSchema,
  workloadSpiffeId,
} from '../../infra/contract/index.js';
import { ensureLocalPki } from '../../infra/local/mtls-pki.js';
import { loadMtlsMaterial, mtlsSettingsFromEnv } from '../../services/runtime/src/index.js';
import { ENVIRONMENTS, find, synth } from '../support/synth.js';
import { allServices } from '../compose/support.js';

type Json = any;

describe.each(ENVIRONMENTS)('%s: service-to-service mutual TLS', (env) => {
  const { objects } = synth(env);
  const certificates = objects.filter((o) => o.kind === 'Certificate') as Json[];
  const issuers = objects.filter((o) => o.kind === 'ClusterIssuer') as Json[];

  it("keeps the mesh CA key outside the namespace: a self-signed ClusterIssuer signs the CA in cert-manager's namespace, whose ClusterIssuer signs the workloads", () => {
    const caIssuer = issuers.find((i) => i.spec.ca)!;
    const caCert = certificates.find((c) => c.spec.isCA)!;
    expect(caIssuer.metadata.name).toBe(`prism-${env}-mesh-ca`);
    expect(caIssuer.spec.ca.secretName).toBe(caCert.spec.secretName);
    expect(caCert.metadata.namespace).toBe('cert-manager');
    expect(caIssuer.metadata.namespace).toBeUndefined();
    expect(caCert.spec.issuerRef).toMatchObject({ kind: 'ClusterIssuer' });
    expect(issuers.find((i) => i.metadata.name === caCert.spec.issuerRef.name)!.spec).toEqual({ selfSigned: {} });
    // The CA keeps its key on renewal, so copies of ca.crt from before and after verify each other's leaves.
    expect(caCert.spec.privateKey.rotationPolicy).toBe('Never');
    // Nothing in the application namespace holds or signs with a CA key.
    expect(objects.filter((o) => o.kind === 'Issuer')).toEqual([]);
    expect(objects.filter((o) => o.kind === 'Secret' && o.metadata.name === caCert.spec.secretName)).toEqual([]);
    const workloadCerts = certificates.filter((x) => !x.spec.isCA);
    expect(workloadCerts.length).toBeGreaterThanOrEqual(6);
    for (const c of workloadCerts) {
      expect(c.metadata.namespace).toBe('prism');
      expect(c.spec.issuerRef).toEqual({
        name: caIssuer.metadata.name,
        kind: 'ClusterIssuer',
        group: 'cert-manager.io',
      });
    }
  });

  it.each(SERVICE_NAMES)(
    '%s: a certificate with its identity and Service names, renewed with a new key, mounted where its env points',
    (name) => {
      const cert = certificates.find((c) => c.spec.uris?.includes(workloadSpiffeId(name)))!;
      expect(cert.spec.dnsNames).toEqual([
        name,
        `${name}.prism`,
        `${name}.prism.svc`,
        `${name}.prism.svc.cluster.local`,
      ]);
      expect(cert.spec.usages).toEqual(expect.arrayContaining(['server auth', 'client auth']));
      expect(cert.spec.privateKey.rotationPolicy).toBe('Always');
      expect(Number.parseInt(cert.spec.renewBefore)).toBeLessThan(Number.parseInt(cert.spec.duration));

      const spec = (find(objects, 'Deployment', name) as Json).spec.template.spec;
      const volume = spec.volumes.find((v: Json) => v.secret?.secretName === cert.spec.secretName);
      const container = spec.containers[0];
      const mount = container.volumeMounts.find((m: Json) => m.name === volume.name);
      // A directory mount (no subPath): the kubelet swaps renewed files in place.
      expect(mount).toEqual({ name: volume.name, mountPath: MTLS_DIR, readOnly: true });
      const vars = Object.fromEntries(container.env.map((e: Json) => [e.name, e.value]));
      expect(vars).toMatchObject({
        PRISM_MTLS_ENABLED: 'true',
        PRISM_MTLS_CERT_FILE: `${MTLS_DIR}/${MTLS_FILES.cert}`,
        PRISM_MTLS_KEY_FILE: `${MTLS_DIR}/${MTLS_FILES.key}`,
        PRISM_MTLS_CA_FILE: `${MTLS_DIR}/${MTLS_FILES.ca}`,
      });
      expect(volume.secret.items.map((i: Json) => i.key).sort()).toEqual(Object.values(MTLS_FILES).sort());
      // Prometheus and the kubelet still reach metrics and health over plain HTTP on 9080.
      const annotations = (find(objects, 'Deployment', name) as Json).spec.template.metadata.annotations;
      expect(annotations['prometheus.io/port']).toBe(String(PORTS.metrics));
      expect(container.readinessProbe.httpGet).toMatchObject({ port: PORTS.metrics });
      expect(container.readinessProbe.httpGet.scheme ?? 'HTTP').toBe('HTTP');
    },
  );

  it('issues no certificate to anything but the services, NATS, PostgreSQL, its exporters and the edge; none but the services names a role', () => {
    const pg = ['postgres-auth', 'postgres-ops'];
    const exporters = pg.map((d) => `${d}-exporter`);
    expect(
      certificates
        .filter((c) => !c.spec.isCA)
        .map((c) => c.metadata.name)
        .sort(),
    ).toEqual([...SERVICE_NAMES, 'nats', ...pg, ...exporters, 'prism-ingress'].map((n) => `${n}-mtls`).sort());
    // The edge and the exporters only verify servers: client use, no role; PostgreSQL serves under its Service's names.
    for (const name of ['prism-ingress-mtls', ...exporters.map((e) => `${e}-mtls`)]) {
      const c = certificates.find((x) => x.metadata.name === name)!;
      expect(c.spec.usages, name).toEqual(['digital signature', 'client auth']);
      expect(callerFromUris(c.spec.uris), name).toBeUndefined();
    }
    for (const name of pg) {
      const c = certificates.find((x) => x.metadata.name === `${name}-mtls`)!;
      expect(c.spec.dnsNames).toContain(name);
      expect(callerFromUris(c.spec.uris), name).toBeUndefined();
    }
  });
});

describe('Compose: the generated certificates, mounted read-only, as the services read them', () => {
  it('mounts each service its own directory of the local CA, and the files it points to validate as that service', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'prism-compose-mtls-')), 'mtls');
    const pki = await ensureLocalPki({ dir });
    expect((statSync(dir).mode & 0o777).toString(8)).toBe('700');
    expect((statSync(join(dir, 'ca', 'ca.key')).mode & 0o777).toString(8)).toBe('600');
    const services = allServices();
    for (const name of SERVICE_NAMES) {
      const s = services.get(name)!;
      const bind = s.volumes!.find((v) => v.endsWith(`:${MTLS_DIR}:ro`))!;
      expect(bind).toBe(`../../.secrets/mtls/${name}:${MTLS_DIR}:ro`);
      // The service's own env, with the mount's container paths mapped to the generated files.
      const env = serviceEnvSchema(name).parse(
        Object.fromEntries(
          Object.entries(s.environment as Record<string, string>).map(([k, v]) => [
            k,
            String(v).replace(MTLS_DIR, join(dir, name)),
          ]),
        ),
      ) as Json;
      const material = loadMtlsMaterial(mtlsSettingsFromEnv(env));
      expect(material.identity.uri).toBe(workloadSpiffeId(name));
      // The host name Compose gives the service is in its certificate (peers dial <name>:<port>).
      expect(new X509Certificate(readFileSync(pki.workloads[name]!.cert)).checkHost(name)).toBe(name);
    }
  });

  it('re-issues nothing when run again, and every leaf (not the CA) with renew', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'prism-compose-mtls-')), 'mtls');
    const first = await ensureLocalPki({ dir });
    const leaves = [...SERVICE_NAMES, 'nats', 'postgres-auth', 'postgres-ops', 'operator'];
    expect(first.issued).toEqual(['ca', ...leaves]);
    expect((await ensureLocalPki({ dir })).issued).toEqual([]);
    const ca = readFileSync(first.caCert, 'utf8');
    expect((await ensureLocalPki({ dir, renew: true })).issued).toEqual(leaves);
    expect(readFileSync(first.caCert, 'utf8')).toBe(ca);
    // Near expiry (less than 30 days left), a certificate is re-issued by an ordinary run.
    expect((await ensureLocalPki({ dir, now: new Date(Date.now() + 70 * 86_400_000) })).issued).toEqual(leaves);
  });
});
