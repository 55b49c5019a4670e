import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiObject, JsonPatch } from 'cdk8s';
import { describe, expect, it } from 'vitest';
import { environmentApp } from '../../infra/k8s/charts/platform.js';
import { loadStack } from '../../infra/config/index.js';
import { Workload } from '../../infra/k8s/workload.js';

/** The Workload constructs of one environment, by component name, and the objects its charts synthesize. */
function workloads(env: string) {
  const { charts } = environmentApp(loadStack('stacks', env), mkdtempSync(join(tmpdir(), 'prism-synth-')));
  const byName = new Map<string, Workload>();
  for (const chart of charts) for (const c of chart.node.findAll()) if (c instanceof Workload) byName.set(c.node.id, c);
  return {
    byName,
    objects: () =>
      charts.flatMap(
        (c) => c.toJson() as { kind: string; metadata: { name: string }; spec?: Record<string, unknown> }[],
      ),
  };
}

describe('Workload exposes what it creates', () => {
  it('a stateless, autoscaled service: its Deployment, Service, HPA and PDB, each the object synthesized under that name', () => {
    const { byName } = workloads('prod');
    const gateway = byName.get('gateway')!;
    expect(gateway.deployment?.kind).toBe('Deployment');
    expect(gateway.deployment?.name).toBe('gateway');
    expect(gateway.statefulSet).toBeUndefined();
    expect(gateway.headlessService).toBeUndefined();
    expect(gateway.service.name).toBe('gateway');
    expect(gateway.scaling.hpa?.name).toBe('gateway-hpa');
    expect(gateway.scaling.pdb?.name).toBe('gateway');
    expect(gateway.access.serviceAccount.name).toBe('gateway');
    expect(gateway.access.role).toBeUndefined();
    expect(gateway.certificate).toBeDefined();
    expect(gateway.configMap?.name).toBe('gateway-config');
  });

  it('a store: its StatefulSet and headless Service, no Deployment; one replica in dev, so no HPA or PDB', () => {
    const { byName } = workloads('dev');
    const redis = byName.get('redis')!;
    expect(redis.statefulSet?.kind).toBe('StatefulSet');
    expect(redis.headlessService?.name).toBe('redis-headless');
    expect(redis.deployment).toBeUndefined();
    expect(redis.scaling.hpa).toBeUndefined();
    expect(redis.scaling.pdb).toBeUndefined();
  });

  it('a component that reads the API gets its Role and RoleBinding; one with tasks exposes them', () => {
    const { byName } = workloads('prod');
    const prometheus = byName.get('prometheus')!;
    expect(prometheus.access.role?.kind).toBe('Role');
    expect(prometheus.access.roleBinding?.kind).toBe('RoleBinding');
    expect(byName.get('dbmanager')!.tasks.length).toBeGreaterThan(0);
  });

  it('the escape hatch: a patch on the exposed Deployment reaches the synthesized object', () => {
    const { byName, objects } = workloads('dev');
    ApiObject.of(byName.get('gateway')!.deployment!).addJsonPatch(JsonPatch.add('/spec/minReadySeconds', 10));
    const deployment = objects().find((o) => o.kind === 'Deployment' && o.metadata.name === 'gateway')!;
    expect(deployment.spec).toMatchObject({ minReadySeconds: 10 });
  });
});
