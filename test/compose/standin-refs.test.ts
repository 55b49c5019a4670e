import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';

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

  it('has a stand-in in compose-images.sh for every third-party image the lane starts', () => {
    const script = readFileSync('scripts/compose-images.sh', 'utf8');
    const repos = [...script.matchAll(/^ {4}([a-z0-9/_-]+)\) each /gm)].map((m) => m[1]);
    for (const image of run('images', ...LANE)
      .trim()
      .split('\n'))
      expect(repos, image).toContain(image.slice(0, image.lastIndexOf(':')));
  });
});
