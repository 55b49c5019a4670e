import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  REVIEW_DAYS,
  THIRD_PARTY_IMAGES,
  imageRef,
  supportedUntil,
  type PinnedImage,
  type Support,
} from '../../infra/model/index.js';
import { ENVIRONMENTS, synth } from '../support/synth.js';
import { COMPOSE_FILES } from '../../infra/compose/index.js';
import { platformOf, renderAll } from '../compose/support.js';

const today = new Date().toISOString().slice(0, 10);
const pins = Object.entries(THIRD_PARTY_IMAGES) as [string, PinnedImage][];
const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;

/** The pins whose support has ended by `day`, with the date it ended. */
function pastSupport(images: readonly [string, PinnedImage][], day: string): string[] {
  return images
    .filter(([, p]) => supportedUntil(p.support) < day)
    .map(([k, p]) => `${k} (${supportedUntil(p.support)})`);
}

/** Every string under a key named `image`, anywhere in a value. */
function imagesIn(value: unknown, out: string[] = []): string[] {
  if (Array.isArray(value)) for (const v of value) imagesIn(v, out);
  else if (value && typeof value === 'object')
    for (const [k, v] of Object.entries(value)) {
      if (k === 'image' && typeof v === 'string') out.push(v);
      else imagesIn(v, out);
    }
  return out;
}

describe('third-party image pins (infra/model/images.ts)', () => {
  it('no pinned image is past the end of support recorded beside it', () => {
    expect(pastSupport(pins, today)).toEqual([]);
  });

  it('the check fails for a line past its end of life and for a "current" pin not re-checked in time', () => {
    const eol = (date: string): Support => ({ kind: 'eol', date, source: 'test' });
    const current = (checked: string): Support => ({ kind: 'current', checked, source: 'test' });
    const pin = (support: Support): PinnedImage => ({ ...THIRD_PARTY_IMAGES.nats, support });
    expect(pastSupport([['old', pin(eol('2026-12-05'))]], '2026-12-06')).toEqual(['old (2026-12-05)']);
    expect(pastSupport([['ok', pin(eol('2026-12-06'))]], '2026-12-06')).toEqual([]);
    expect(supportedUntil(current('2026-12-06'))).toBe('2027-06-07');
    expect(pastSupport([['stale', pin(current('2026-01-01'))]], '2026-12-06')).toEqual(['stale (2026-07-03)']);
    expect(REVIEW_DAYS).toBeLessThanOrEqual(183);
  });

  it('the README lists every pin: tag, end of support, digest or none, reason', () => {
    const readme = readFileSync('README.md', 'utf8');
    for (const [name, p] of pins) {
      const row = readme.split('\n').find((l) => l.startsWith(`| \`${p.repository}\` | \`${p.tag}\` | `));
      expect(row, `${name}: no README row for ${p.repository}:${p.tag}`).toBeDefined();
      expect(row, name).toContain(`| ${supportedUntil(p.support)} (`);
      expect(row, name).toContain(p.digest ? `| \`${p.digest.slice(0, 19)}…\` |` : '| none found |');
      expect(row, name).toContain(p.why);
    }
  });

  it('every pin names its source, a real tag, a well-formed digest with where it was copied from, and a reason', () => {
    for (const [name, p] of pins) {
      expect(p.tag, name).not.toMatch(/^(latest|stable|)$/);
      expect(p.support.source.length, name).toBeGreaterThan(20);
      expect(p.why.length, name).toBeGreaterThan(20);
      if (p.support.kind === 'eol') expect(p.support.date, name).toMatch(ISO_DATE);
      else {
        expect(p.support.checked, name).toMatch(ISO_DATE);
        expect(p.support.checked <= today, `${name}: checked in the future`).toBe(true);
      }
      expect(p.digest === undefined, `${name}: a digest goes with its source`).toBe(p.digestSource === undefined);
      if (p.digest) {
        expect(p.digest, name).toMatch(/^sha256:[0-9a-f]{64}$/);
        expect(imageRef(p), name).toBe(`${p.repository}:${p.tag}@${p.digest}`);
      } else expect(imageRef(p), name).toBe(`${p.repository}:${p.tag}`);
    }
  });
});

describe("the tests' config checkers are the pinned releases (scripts/install-tools.sh)", () => {
  // What promtool and amtool accept is what the pinned Prometheus and Alertmanager will load.
  it.each([
    ['promtool', THIRD_PARTY_IMAGES.prometheus.tag],
    ['amtool', THIRD_PARTY_IMAGES.alertmanager.tag],
    ['alertmanager', THIRD_PARTY_IMAGES.alertmanager.tag],
  ])('%s reports %s', (tool, tag) => {
    const out = execFileSync(tool, ['--version'], { encoding: 'utf8' });
    expect(out.split('\n')[0]).toContain(`${tool}, version ${tag.replace(/^v/, '')} `);
  });
});

describe('every rendered image reference comes from the pins (or is a Prism service image)', () => {
  const pinned = new Set(pins.map(([, p]) => imageRef(p)));
  const own = (env: string) =>
    new Set(
      platformOf(env)
        .components.filter((c) => c.image.build)
        .map((c) => imageRef(c.image)),
    );
  const stray = (refs: readonly string[], built: Set<string>) => refs.filter((r) => !pinned.has(r) && !built.has(r));

  it.each(ENVIRONMENTS)('Kubernetes, %s', (env) => {
    const refs = imagesIn(synth(env).objects);
    expect(refs.length).toBeGreaterThan(15);
    expect(stray(refs, own(env))).toEqual([]);
    // A recorded digest reaches the manifests.
    expect(refs).toContain(imageRef(THIRD_PARTY_IMAGES.postgres));
    expect(imageRef(THIRD_PARTY_IMAGES.postgres)).toContain('@sha256:');
  });

  it('Compose (every file renderLocal writes)', () => {
    const rendered = renderAll();
    const refs = Object.values(COMPOSE_FILES).flatMap((f) => imagesIn(parse(rendered.get(f)!)));
    expect(refs.length).toBeGreaterThan(15);
    expect(stray(refs, new Set([...own('dev'), ...own('prod')]))).toEqual([]);
    expect(refs).toContain(imageRef(THIRD_PARTY_IMAGES.loki));
  });

  it('the operations runbooks name the pinned tags (an operator copies their commands)', () => {
    for (const doc of readdirSync('docs/operations').filter((f) => f.endsWith('.md'))) {
      const text = readFileSync(`docs/operations/${doc}`, 'utf8');
      for (const [, p] of pins)
        for (const [ref, tag] of text.matchAll(new RegExp(`(?<![\\w/.-])${p.repository}:([\\w.-]+)`, 'g')))
          expect(tag, `${doc}: ${ref}`).toBe(p.tag);
    }
  });

  it("the service Dockerfile's bases: every FROM is a pinned ARG or an earlier stage", () => {
    const file = readFileSync('services/Dockerfile', 'utf8');
    const args = Object.fromEntries([...file.matchAll(/^ARG (\w+_IMAGE)=(\S+)$/gm)].map((m) => [m[1], m[2]]));
    expect(args).toEqual({
      NODE_IMAGE: imageRef(THIRD_PARTY_IMAGES.node),
      BASE_IMAGE: imageRef(THIRD_PARTY_IMAGES.debian),
      PG_IMAGE: imageRef(THIRD_PARTY_IMAGES.postgres),
    });
    const stages: string[] = [];
    for (const [, from, as] of file.matchAll(/^FROM (\S+)(?: AS (\S+))?$/gm)) {
      const arg = /^\$\{(\w+)\}$/.exec(from!)?.[1];
      expect(arg ? arg in args : stages.includes(from!), `FROM ${from}`).toBe(true);
      if (as) stages.push(as);
    }
  });
});
