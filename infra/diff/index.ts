import { formatReport } from './format.js';
import { diffEnvironment, hasChanges, type EnvironmentDiff } from './objects.js';
import { renderCommit, renderTree, repositoryRoot, resolveCommit } from './render.js';

export { RenderError } from './render.js';
export * from './objects.js';
export * from './format.js';

export interface ManifestDiff {
  readonly diffs: readonly EnvironmentDiff[];
  readonly changed: boolean;
  readonly report: string;
}

/**
 * The object-level diff of every environment between a git ref and the working tree: both sides
 * rendered by their own cdk8s app, concurrently.
 */
export async function manifestDiff(cwd: string, ref: string): Promise<ManifestDiff> {
  const root = await repositoryRoot(cwd);
  const commit = await resolveCommit(root, ref);
  const from = `${ref} (${commit.slice(0, 12)})`;
  const [before, after] = await Promise.all([renderCommit(root, commit, from), renderTree(root, 'the working tree')]);
  const environments = [...new Set([...before.keys(), ...after.keys()])].sort();
  const diffs = environments.map((env) => diffEnvironment(env, before.get(env), after.get(env)));
  return { diffs, changed: diffs.some(hasChanges), report: formatReport(diffs, from, 'working tree') };
}
