import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { synth } from '#test/support/synth';

/** The Compose lane's stand-in names: read from the rendered files, digests dropped only in generated overrides. */
const LANE = [
  'deploy/docker-compose/docker-compose.yml',
  'deploy/docker-compose/docker-compose.infra.yml',
  'deploy/traefik/docker-compose.traefik.yml',
];
const ALL = [...LANE, 'deploy/docker-compose/docker-compose.observability.yml'];
const run = (...args: string[]) =>
  execFileSync(process.execPath, ['scripts/compose-standin-refs.mjs', ...args], { encoding: 'utf8' });
type Service = { image?: string; build?: unknown };
const services = (file: string) =>
  Object.entries((parse(readFileSync(file, 'utf8')) as { services: Record<string, Service> }).services);
/** The repositories scripts/standin-images.sh has a stand-in for (its dispatch's case patterns). */
const standinRepositories = () =>
  [...readFileSync('scripts/standin-images.sh', 'utf8').matchAll(/^ {4}([a-z0-9/_-]+)\)[ \n]/gm)].map((m) => m[1]);
const out = mkdtempSync(join(tmpdir(), 'prism-nodigest-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('compose-standin-refs', () => {
  it('lists every pulled image of the files once, by name:tag, so the stand-ins follow the pins', () => {
    const listed = run('images', ...LANE)
      .trim()
      .split('\n');
    const expected = new Set(
      LANE.flatMap(services)
        .filter(([, s]) => s.image && !s.build)
        .map(([, s]) => s.image!.split('@')[0]!),
    );
    expect(new Set(listed)).toEqual(expected);
    expect(listed.every((i) => !i.includes('@'))).toBe(true);
    // The pins under test really are digests (else this proves nothing about dropping them).
    expect(LANE.flatMap(services).some(([, s]) => s.image?.includes('@sha256:'))).toBe(true);
  });

  it('overrides exactly the digest-pinned services with the same name:tag, leaving the committed files pinned', () => {
    const before = ALL.map((f) => readFileSync(f, 'utf8'));
    const paths = run('overrides', out, ...ALL)
      .trim()
      .split('\n');
    expect(paths).toHaveLength(ALL.length);
    ALL.forEach((file, i) => {
      const override = parse(readFileSync(paths[i]!, 'utf8')) as { services: Record<string, Service> };
      const pinned = services(file).filter(([, s]) => s.image?.includes('@sha256:'));
      expect(Object.keys(override.services ?? {}).sort()).toEqual(pinned.map(([n]) => n).sort());
      for (const [name, s] of pinned) expect(override.services[name]).toEqual({ image: s.image!.split('@')[0] });
    });
    expect(ALL.map((f) => readFileSync(f, 'utf8'))).toEqual(before);
  });

  it('has a stand-in in standin-images.sh for every third-party image the lane starts', () => {
    const repos = standinRepositories();
    for (const image of run('images', ...LANE)
      .trim()
      .split('\n'))
      expect(repos, image).toContain(image.slice(0, image.lastIndexOf(':')));
  });
});

describe('the real-pods lane: every image the Kubernetes dev manifests name', () => {
  const { objects } = synth('dev');
  type Container = { image: string };
  type PodSpec = { containers: Container[]; initContainers?: Container[] };
  const images = new Set(
    objects.flatMap((o) => {
      const spec = o.spec as { template?: { spec: PodSpec }; jobTemplate?: { spec: { template: { spec: PodSpec } } } };
      const pod = spec?.jobTemplate?.spec.template.spec ?? spec?.template?.spec;
      return [...(pod?.initContainers ?? []), ...(pod?.containers ?? [])].map((c) => c.image.split('@')[0]!);
    }),
  );

  it('are listed by compose-standin-refs.mjs manifests, by name:tag, from the rendered files', () => {
    const dir = join(out, 'k8s-dev');
    mkdirSync(dir);
    writeFileSync(join(dir, 'all.k8s.yaml'), objects.map((o) => stringify(o)).join('---\n'));
    const listed = run('manifests', dir).trim().split('\n');
    expect(new Set(listed)).toEqual(images);
    expect(listed.every((i) => !i.includes('@'))).toBe(true);
    // The pins under test really include digests and third-party images (else this proves little).
    expect(objects.some((o) => JSON.stringify(o).includes('@sha256:'))).toBe(true);
    expect(listed.filter((i) => !i.startsWith('ghcr.io/')).length).toBeGreaterThan(10);
    // --pinned: the references pinned by digest, as the manifests name them (stack_images names those in containerd).
    const pinned = objects.flatMap((o) =>
      [...JSON.stringify(o).matchAll(/"image":"([^"]+@sha256:[0-9a-f]{64})"/g)].map((m) => m[1]),
    );
    expect(run('manifests', dir, '--pinned').trim().split('\n')).toEqual([...new Set(pinned)].sort());
  });

  it('each has a stand-in in standin-images.sh, the Prism ones built from the Compose service that names them', () => {
    const repos = standinRepositories();
    const built = run('built', 'deploy/docker-compose/docker-compose.yml').trim().split('\n');
    for (const image of images) {
      if (image.startsWith('ghcr.io/prism-platform/')) expect(built, image).toContain(image);
      else expect(repos, image).toContain(image.slice(0, image.lastIndexOf(':')));
    }
  });
});
