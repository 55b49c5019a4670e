import { describe, expect, it } from 'vitest';
import { buildPlatform } from '../../infra/model/index.js';
import { checkHardening, restrictedNamespaces, restrictedProfile, workloads } from '../../infra/policy/hardening.js';
import { ENVIRONMENTS, find, synth } from '../support/synth.js';

describe.each(ENVIRONMENTS)('%s hardening', (env) => {
  const { objects, stack } = synth(env);
  const all = objects;

  it('meets every rule on every workload', () => {
    expect(checkHardening(all)).toEqual([]);
  });

  it('labels the prism namespace restricted (enforce, audit, warn)', () => {
    const ns = find(objects, 'Namespace', 'prism');
    for (const mode of ['enforce', 'audit', 'warn'])
      expect((ns.metadata.labels as Record<string, string>)[`pod-security.kubernetes.io/${mode}`]).toBe('restricted');
  });

  it('runs every pod of the prism namespace under the restricted profile', () => {
    const inPrism = workloads(all).filter((w) => w.namespace === 'prism');
    expect(inPrism.length).toBeGreaterThan(10);
    expect(restrictedNamespaces(all).has('prism')).toBe(true);
    expect(inPrism.flatMap(restrictedProfile)).toEqual([]);
  });

  it('gives a PDB and topology spread to each workload with more than one replica, and to no other', () => {
    const pdbs = objects
      .filter((o) => o.kind === 'PodDisruptionBudget')
      .map((o) => o.metadata.name)
      .sort();
    const platform = buildPlatform(env, stack.config);
    const multi = platform.components
      .filter((c) => c.layer !== 'edge' && (c.scaling.autoscaling?.minReplicas ?? c.scaling.replicas) > 1)
      .map((c) => c.name)
      .sort();
    expect(pdbs).toEqual(multi);
  });

  it('never uses the latest tag', () => {
    const images = workloads(all).flatMap((w) => w.pod.containers.map((c: { image: string }) => c.image));
    expect(images.filter((i: string) => i.endsWith(':latest') || !i.includes(':'))).toEqual([]);
  });
});

describe('the hardening rules catch', () => {
  const { objects } = synth('prod');
  const gateway = () => structuredClone(objects);
  const mutateGateway = (f: (pod: any) => void) => {
    const all = gateway();
    const d: any = all.find((o) => o.kind === 'Deployment' && o.metadata.name === 'gateway')!;
    f(d.spec.template.spec);
    return checkHardening(all);
  };

  it('a root container', () =>
    expect(mutateGateway((p) => (p.containers[0].securityContext.runAsUser = 0)).join()).toMatch(
      /gateway\/gateway: UID 0/,
    ));
  it('a UID below 10000', () =>
    expect(mutateGateway((p) => (p.containers[0].securityContext.runAsUser = 1000)).join()).toMatch(/below 10000/));
  it('a writable root filesystem', () =>
    expect(mutateGateway((p) => (p.containers[0].securityContext.readOnlyRootFilesystem = false)).join()).toMatch(
      /writable/,
    ));
  it('privilege escalation', () =>
    expect(mutateGateway((p) => delete p.containers[0].securityContext.allowPrivilegeEscalation).join()).toMatch(
      /escalation/,
    ));
  it('kept capabilities', () =>
    expect(
      mutateGateway((p) => (p.containers[0].securityContext.capabilities = { add: ['NET_ADMIN'] })).join(),
    ).toMatch(/capabilities/));
  it('a missing probe', () =>
    expect(mutateGateway((p) => delete p.containers[0].readinessProbe).join()).toMatch(/no readiness probe/));
  it('a missing limit', () =>
    expect(mutateGateway((p) => delete p.containers[0].resources.limits.memory).join()).toMatch(/no memory limits/));
  it('the latest tag', () =>
    expect(mutateGateway((p) => (p.containers[0].image = 'prism-gateway:latest')).join()).toMatch(/not pinned/));
  it('a mounted token', () =>
    expect(mutateGateway((p) => (p.automountServiceAccountToken = true)).join()).toMatch(/service account token/));
  it('missing topology spread', () =>
    expect(mutateGateway((p) => delete p.topologySpreadConstraints).join()).toMatch(/topology spread/));
  const mutate = (kind: string, name: string, f: (o: any) => void) => {
    const all = gateway();
    f(all.find((o) => o.kind === kind && o.metadata.name === name)!);
    return checkHardening(all).join('\n');
  };
  it('a singleton rolled out with a surge', () =>
    expect(
      mutate(
        'Deployment',
        'dbmanager',
        (d) => (d.spec.strategy = { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } }),
      ),
    ).toMatch(/Deployment\/dbmanager: a singleton rolled out with RollingUpdate, not Recreate/));
  it('a singleton with two replicas', () =>
    expect(mutate('Deployment', 'dbmanager', (d) => (d.spec.replicas = 2))).toMatch(
      /Deployment\/dbmanager: a singleton with more than one replica/,
    ));
  it('a Prism container that overrides the tini entrypoint', () => {
    expect(
      mutate(
        'Deployment',
        'dbmanager',
        (d) => (d.spec.template.spec.containers[0].command = ['node', 'build/services/dbmanager/src/cli.js']),
      ),
    ).toMatch(/Deployment\/dbmanager\/dbmanager: command overrides the image's tini entrypoint/);
    expect(
      mutate('CronJob', 'backup-auth', (c) => (c.spec.jobTemplate.spec.template.spec.containers[0].command = ['node'])),
    ).toMatch(/CronJob\/backup-auth\/.*: command overrides/);
  });
  it('a missing PDB and a missing default deny', () => {
    const all = gateway().filter(
      (o) =>
        !(o.kind === 'PodDisruptionBudget' && o.metadata.name === 'gateway') && o.metadata.name !== 'default-deny-all',
    );
    const found = checkHardening(all).join('\n');
    expect(found).toMatch(/Deployment\/gateway: 3 replicas without a PodDisruptionBudget/);
    expect(found).toMatch(/no default deny/);
  });
});
