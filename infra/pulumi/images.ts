import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import type * as docker from '@pulumi/docker';
import * as pulumi from '@pulumi/pulumi';
import { type Component, type Platform, imageRef } from '../model/index.js';
import { STACK_CONFIG_DIR } from './config.js';
import type { ManifestObject } from '../manifest/index.js';

export interface ServiceImage {
  readonly component: Component['name'];
  /** The reference the synthesized manifests carry (`<registry>/prism-<name>:<images.tag>`). */
  readonly rendered: string;
  readonly image: docker.Image;
}

/**
 * The revision images are tagged with: the commit's short hash, with `-dirty` when tracked
 * files differ from it (the manifests deploy by digest, so a dirty tag never deploys stale code).
 * The stack files do not count: Pulumi writes them on its own (`pulumi stack init` adds
 * `encryptionsalt`, `pulumi config set` a value), and they are deploy-time configuration that no
 * Dockerfile copies into an image.
 */
export function gitRevision(cwd = process.cwd()): string {
  const git = (...args: string[]) => execFileSync('git', args, { cwd, encoding: 'utf8' }).trim();
  const hash = git('rev-parse', '--short=12', 'HEAD');
  const changed = git('status', '--porcelain', '--untracked-files=no', '--', '.', `:(exclude)${STACK_CONFIG_DIR}/`);
  return changed === '' ? hash : `${hash}-dirty`;
}

/** `<stack>-<revision>`: one tag per stack and commit. */
export function imageTag(stack: string, revision: string): string {
  const tag = `${stack}-${revision}`;
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(tag))
    throw new Error(`cannot tag images with ${JSON.stringify(tag)}: not a valid image tag`);
  return tag;
}

/**
 * One image per component the model says this package builds (`image.build`: the four services),
 * from the model's context and Dockerfile, pushed to the model's repository (the stack's
 * `images.registry`). Nothing is built on preview.
 */
export function serviceImages(platform: Platform, tag: string, opts?: pulumi.CustomResourceOptions): ServiceImage[] {
  // Loaded here, not at the top: a stack with `images.build: false` never loads @pulumi/docker, so it
  // previews and deploys without the docker provider plugin or a Docker engine.
  const { Image } = createRequire(import.meta.url)('@pulumi/docker') as typeof docker;
  return platform.components.flatMap((c) => {
    const build = c.image.build;
    if (!build) return [];
    const image = new Image(
      `prism-${c.name}`,
      {
        imageName: `${c.image.repository}:${tag}`,
        build: { context: build.context, dockerfile: build.dockerfile, args: { ...build.args }, target: build.target },
        buildOnPreview: false,
        skipPush: false,
      },
      opts,
    );
    return [{ component: c.name, rendered: imageRef(c.image), image }];
  });
}

/**
 * The synthesized objects with every container that runs a built image switched to the pushed
 * image's digest reference. The manifests stay the one definition; only the image field differs.
 * Every built image must be used somewhere, otherwise the model and the charts disagree.
 */
export function useBuiltImages(objects: readonly ManifestObject[], images: readonly ServiceImage[]): ManifestObject[] {
  const byRendered = new Map(images.map((i) => [i.rendered, i]));
  const used = new Set<string>();
  const swap = (value: unknown, key?: string): unknown => {
    if (Array.isArray(value)) {
      const containerList = key === 'containers' || key === 'initContainers';
      return value.map((item) => {
        const built =
          containerList && isRecord(item) && typeof item.image === 'string' ? byRendered.get(item.image) : undefined;
        if (!built) return swap(item);
        used.add(built.rendered);
        return { ...(swap(item) as object), image: built.image.repoDigest };
      });
    }
    if (isRecord(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, swap(v, k)]));
    return value;
  };
  const result = objects.map((o) => swap(o) as ManifestObject);
  const unused = images.filter((i) => !used.has(i.rendered)).map((i) => i.rendered);
  if (unused.length > 0)
    throw new Error(`built images not used by any container of the synthesized objects: ${unused.join(', ')}`);
  return result;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !pulumi.Output.isInstance(v);
}
