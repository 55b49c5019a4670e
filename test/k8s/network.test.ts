import { describe, expect, it } from 'vitest';
import { buildPlatform, portNumber } from '../../infra/model/index.js';
import { ENVIRONMENTS, synth } from '../support/synth.js';
import type { ManifestObject } from '../../infra/manifest/index.js';

interface Rule {
  from?: {
    podSelector?: { matchLabels?: Record<string, string> };
    namespaceSelector?: { matchLabels?: Record<string, string> };
  }[];
  to?: { podSelector?: { matchLabels?: Record<string, string> }; ipBlock?: { cidr: string } }[];
  ports?: { port: number }[];
}

function policyOf(objects: ManifestObject[], app: string) {
  const p = objects.find((o) => o.kind === 'NetworkPolicy' && o.metadata.name === `${app}-flows`);
  if (!p) throw new Error(`no policy for ${app}`);
  return p.spec as { ingress: Rule[]; egress: Rule[] };
}

/** Apps allowed in on a port. */
function ingressFrom(objects: ManifestObject[], app: string, port: number): string[] {
  return policyOf(objects, app)
    .ingress.filter((r) => r.ports?.some((p) => p.port === port))
    .flatMap((r) => r.from ?? [])
    .map(
      (f) =>
        f.podSelector?.matchLabels?.app ?? `ns:${f.namespaceSelector?.matchLabels?.['kubernetes.io/metadata.name']}`,
    )
    .sort();
}

/** Apps reachable on the way out, with ports. */
function egressTo(objects: ManifestObject[], app: string): string[] {
  return policyOf(objects, app)
    .egress.flatMap((r) =>
      (r.to ?? []).map(
        (t) => `${t.podSelector?.matchLabels?.app ?? t.ipBlock?.cidr}:${(r.ports ?? []).map((p) => p.port).join('+')}`,
      ),
    )
    .sort();
}

describe.each(ENVIRONMENTS)('%s network policies', (env) => {
  const { objects, stack } = synth(env);
  const platform = buildPlatform(env, stack.config);

  it('start from a default deny of both directions', () => {
    const deny = objects.find(
      (o) => o.kind === 'NetworkPolicy' && o.metadata.name === 'default-deny-all' && o.metadata.namespace === 'prism',
    )!;
    expect(deny.spec).toEqual({ podSelector: {}, policyTypes: ['Ingress', 'Egress'] });
  });

  it('allow every declared flow at both ends', () => {
    const peers = platform.components.flatMap((c) => [
      { name: c.name, flows: c.flows },
      ...c.tasks.map((t) => ({ name: t.name, flows: t.flows })),
    ]);
    for (const peer of peers.filter((p) => p.name !== 'edge')) {
      for (const f of peer.flows) {
        const port = portNumber(platform, f.to, f.port);
        expect(egressTo(objects, peer.name), `${peer.name} -> ${f.to}`).toContainEqual(
          expect.stringMatching(new RegExp(`^${f.to}:(\\d+\\+)*${port}(\\+\\d+)*$`)),
        );
        expect(ingressFrom(objects, f.to, port), `${f.to} <- ${peer.name}`).toContain(peer.name);
      }
    }
  });

  it('let only the auth service, the DB manager and its auth tasks reach the auth database', () => {
    expect(ingressFrom(objects, 'postgres-auth', 5432)).toEqual([
      'auth',
      'backup-auth',
      'db-migrate',
      'dbmanager',
      'postgres-auth-exporter',
      'verify-auth',
      'wal-auth',
    ]);
    // The auth tasks write the backup catalogue in prism_ops; the ops tasks never reach prism_auth.
    expect(ingressFrom(objects, 'postgres-ops', 5433)).toEqual([
      'backup-auth',
      'backup-ops',
      'config',
      'db-migrate',
      'dbmanager',
      'postgres-ops-exporter',
      'verify-auth',
      'verify-ops',
      'wal-auth',
      'wal-ops',
    ]);
  });

  it('keep the gateway away from the databases and object storage', () => {
    const out = egressTo(objects, 'gateway').join(' ');
    expect(out).not.toMatch(/postgres|minio/);
    expect(out).toMatch(/redis:6379/);
    expect(out).toMatch(/auth:8081\+50051/);
  });

  it('admit the ingress controller to the routed ports only', () => {
    const controller = `ns:${stack.config.ingress.controllerNamespace}`;
    expect(ingressFrom(objects, 'gateway', 8080)).toContain(controller);
    expect(ingressFrom(objects, 'auth', 8081)).toContain(controller);
    expect(ingressFrom(objects, 'gateway', 9080)).not.toContain(controller);
    expect(ingressFrom(objects, 'auth', 50051)).not.toContain(controller);
    expect(ingressFrom(objects, 'redis', 6379)).toEqual(['auth', 'gateway', 'redis-exporter']);
  });

  it('let Prometheus scrape every metrics port and nothing else in', () => {
    expect(ingressFrom(objects, 'gateway', 9080)).toEqual(['consul', 'prometheus']);
  });

  it('open the internet to OAuth (auth) only; nothing else, in any namespace, reaches beyond its listed ranges', () => {
    const policies = objects.filter((o) => o.kind === 'NetworkPolicy');
    const open = policies
      .filter((o) => JSON.stringify(o.spec).includes('0.0.0.0/0') || JSON.stringify(o.spec).includes('::/0'))
      .map((o) => `${o.metadata.namespace}/${o.metadata.name}`);
    expect(open).toEqual(['prism/auth-flows']);
    expect(egressTo(objects, 'auth')).toContain('0.0.0.0/0:443');
    const offsite = stack.config.backups.offsite;
    if (offsite) for (const c of offsite.egressCidrs) expect(egressTo(objects, 'dbmanager')).toContain(`${c}:443`);
    expect(egressTo(objects, 'db-migrate').filter((e) => e.startsWith('0.0.0.0/0'))).toEqual([]);
  });

  it('let the API readers (Prometheus, the log shipper) reach the API server at its configured addresses and port only', () => {
    const api = stack.config.cluster.apiServer!;
    const expected = api.cidrs.map((c) => `${c}:${api.port}`).sort();
    const ipEgress = (spec: { egress: Rule[] }) =>
      spec.egress
        .flatMap((r) =>
          (r.to ?? [])
            .filter((t) => t.ipBlock)
            .map((t) => `${t.ipBlock!.cidr}:${(r.ports ?? []).map((p) => p.port).join('+')}`),
        )
        .sort();
    expect(ipEgress(policyOf(objects, 'prometheus'))).toEqual(expected);
    const shipper = objects.find((o) => o.kind === 'NetworkPolicy' && o.metadata.name === 'alloy-flows');
    if (!stack.config.observability.logShipping) return expect(shipper).toBeUndefined();
    expect(ipEgress(shipper!.spec as { egress: Rule[] })).toEqual(expected);
    // Besides the API: Loki and DNS, by selector.
    const selectors = (shipper!.spec as { egress: Rule[] }).egress.flatMap((r) =>
      (r.to ?? []).filter((t) => t.podSelector).map((t) => JSON.stringify(t.podSelector)),
    );
    expect(selectors.sort()).toEqual(['{"matchLabels":{"app":"loki"}}', '{"matchLabels":{"k8s-app":"kube-dns"}}']);
  });

  it("let Alertmanager reach only the ranges the stack allows, on its receivers' ports", () => {
    const egress = egressTo(objects, 'alertmanager').filter((e) => /^\d/.test(e));
    const a = stack.config.alerting;
    if (a.receivers.length === 0) return expect(egress).toEqual([]);
    expect(egress.map((e) => e.split(':')[0]).sort()).toEqual([...a.egressCidrs!].sort());
  });
});
