import type { PinnedImage } from '#infra/model/index';
import { type RegistryClient, repoRef } from './registry.js';

/** What a registry says of one pin. */
export type PinState =
  | { readonly name: string; readonly ref: string; readonly kind: 'ok'; readonly current: string }
  | { readonly name: string; readonly ref: string; readonly kind: 'tag-only'; readonly current: string }
  | { readonly name: string; readonly ref: string; readonly kind: 'no-tag' }
  | { readonly name: string; readonly ref: string; readonly kind: 'unknown-digest'; readonly current?: string };

/**
 * Each pin against its registry: a recorded digest must exist in the pin's repository (a digest copied from
 * the wrong image, or made up, fails); a tag-only pin is reported with the digest its tag points at now.
 */
export async function checkPins(
  client: RegistryClient,
  pins: readonly (readonly [string, PinnedImage])[],
): Promise<PinState[]> {
  const out: PinState[] = [];
  for (const [name, p] of pins) {
    const repo = repoRef(p.repository);
    const ref = `${p.repository}:${p.tag}`;
    const current = await client.resolveTag(repo, p.tag);
    if (p.digest) {
      if (await client.hasDigest(repo, p.digest)) out.push({ name, ref, kind: 'ok', current: current ?? '' });
      else out.push({ name, ref, kind: 'unknown-digest', ...(current ? { current } : {}) });
    } else out.push(current ? { name, ref, kind: 'tag-only', current } : { name, ref, kind: 'no-tag' });
  }
  return out;
}

/** Where a digest recorded by `record` comes from (the pins' digestSource). */
export const registrySource = (registry: string, day: string) =>
  `the registry (${registry}) for this tag on ${day} (npm run images:digests -- record)`;

/**
 * infra/model/images.ts with one pin's digest set: the `digest` and `digestSource` fields after its `tag`,
 * replacing those there (a source may span lines, up to the `tools` field).
 */
export function setDigestInPins(text: string, name: string, digest: string, source: string): string {
  const block = new RegExp(
    `(\\n  ${name}: \\{\\n    repository: '[^']+',\\n    tag: '[^']+',\\n)([\\s\\S]*?)(    tools: )`,
  );
  const m = block.exec(text);
  if (!m) throw new Error(`infra/model/images.ts: no pin ${name} with repository, tag and tools in that order`);
  if (!/^sha256:[0-9a-f]{64}$/.test(digest) || source.includes("'"))
    throw new Error(`not a digest or source: ${digest}`);
  const fields = `    digest: '${digest}',\n    digestSource: '${source}',\n`;
  return text.replace(block, `$1${fields}$3`);
}

/** services/Dockerfile with every `ARG *_IMAGE=<repository>:<tag>[@digest]` of this pin given the digest. */
export function setDigestInDockerfile(text: string, p: PinnedImage, digest: string): string {
  const ref = `${p.repository}:${p.tag}`.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return text.replace(new RegExp(`^(ARG \\w+_IMAGE=${ref})(@sha256:[0-9a-f]{64})?$`, 'gm'), `$1@${digest}`);
}

/** The README's pin table row with its digest cell set (the short form the image-pins test reads). */
export function setDigestInReadme(text: string, p: PinnedImage, digest: string): string {
  const row = `| \`${p.repository}\` | \`${p.tag}\` | `;
  return text
    .split('\n')
    .map((l) =>
      l.startsWith(row) ? l.replace(/\| (none found|`sha256:[0-9a-f]{12}…`) \|/, `| \`${digest.slice(0, 19)}…\` |`) : l,
    )
    .join('\n');
}
