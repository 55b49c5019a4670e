import { describe, expect, it } from 'vitest';
import { ENVIRONMENTS, synth } from '#test/support/synth';

type Volume = { name: string; configMap?: unknown; secret?: unknown; projected?: unknown; downwardAPI?: unknown };
type Mount = { name: string; mountPath: string };
type Container = { name: string; volumeMounts?: Mount[] };
type PodSpec = { volumes?: Volume[]; containers: Container[]; initContainers?: Container[] };

/**
 * The kubelet mounts ConfigMap, Secret, projected and downward-API volumes read-only whatever the manifest says, and
 * the runtime cannot make a mount point inside one: runc fails the container ("mkdir .../etc/prometheus/rules:
 * read-only file system", found by scripts/cluster/standin-smoke.mjs on the dev Prometheus pod).
 */
describe.each(ENVIRONMENTS)('%s: no volume is mounted inside a read-only API volume', (env) => {
  it('every mount point lies outside the ConfigMap/Secret mounts of its container', () => {
    const nested: string[] = [];
    for (const o of synth(env).objects) {
      const spec = o.spec as { template?: { spec: PodSpec }; jobTemplate?: { spec: { template: { spec: PodSpec } } } };
      const pod = spec?.jobTemplate?.spec.template.spec ?? spec?.template?.spec;
      if (!pod) continue;
      const readOnly = new Set(
        (pod.volumes ?? []).filter((v) => v.configMap || v.secret || v.projected || v.downwardAPI).map((v) => v.name),
      );
      for (const c of [...(pod.initContainers ?? []), ...pod.containers]) {
        const mounts = c.volumeMounts ?? [];
        for (const outer of mounts.filter((m) => readOnly.has(m.name)))
          for (const inner of mounts.filter((m) => m.mountPath.startsWith(`${outer.mountPath.replace(/\/$/, '')}/`)))
            nested.push(`${o.kind}/${o.metadata.name} ${c.name}: ${inner.mountPath} inside ${outer.mountPath}`);
      }
    }
    expect(nested).toEqual([]);
  });
});
