import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse, parseAllDocuments } from 'yaml';
import { objectKey, type ManifestObject } from '../manifest/index.js';

const run = promisify(execFile);

/** Objects of every environment, by environment name, each keyed by `apiVersion/kind/namespace/name`. */
export type Rendering = Map<string, Map<string, ManifestObject>>;

/** A failure to render or to resolve a ref: reported in one line, exit code 2. */
export class RenderError extends Error {
  override name = 'RenderError';
}

async function git(cwd: string, ...args: string[]): Promise<string> {
  try {
    return (await run('git', args, { cwd, encoding: 'utf8' })).stdout.trim();
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new RenderError(`git ${args.join(' ')}: ${(err.stderr || err.message).trim().split('\n')[0]}`);
  }
}

export async function repositoryRoot(cwd: string): Promise<string> {
  return git(cwd, 'rev-parse', '--show-toplevel');
}

/** The commit a ref names, or a RenderError that says the ref is unknown. */
export async function resolveCommit(root: string, ref: string): Promise<string> {
  try {
    return await git(root, 'rev-parse', '--verify', '--quiet', '--end-of-options', `${ref}^{commit}`);
  } catch {
    throw new RenderError(`unknown git ref ${JSON.stringify(ref)}: not a commit in ${root}`);
  }
}

/**
 * Renders a source tree the way `npm run synth` does: the tree's own cdk8s.yaml `app` command, with
 * `CDK8S_OUTDIR` (which cdk8s sets for the app) pointing at a temporary directory.
 */
export async function renderTree(tree: string, label: string): Promise<Rendering> {
  const file = join(tree, 'cdk8s.yaml');
  if (!existsSync(file)) throw new RenderError(`${label}: no cdk8s.yaml, nothing to render`);
  const cdk8s = parse(readFileSync(file, 'utf8')) as { app?: unknown } | null;
  if (typeof cdk8s?.app !== 'string') throw new RenderError(`${label}: cdk8s.yaml has no app command`);
  const outdir = mkdtempSync(join(tmpdir(), 'prism-render-'));
  try {
    try {
      await run('sh', ['-c', cdk8s.app], {
        cwd: tree,
        env: { ...process.env, CDK8S_OUTDIR: outdir },
        encoding: 'utf8',
        maxBuffer: 64 << 20,
      });
    } catch (e) {
      const err = e as { stderr?: string; stdout?: string; message: string };
      const detail = (err.stderr || err.stdout || err.message).trim().split('\n').slice(-8).join('\n');
      throw new RenderError(`rendering ${label} failed (${cdk8s.app}):\n${detail}`);
    }
    return readRendering(outdir, label);
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

/** Reads `<outdir>/<env>/*.yaml` into objects per environment; a duplicate object key is an error. */
function readRendering(outdir: string, label: string): Rendering {
  const rendering: Rendering = new Map();
  for (const env of readdirSync(outdir).sort()) {
    const dir = join(outdir, env);
    if (!statSync(dir).isDirectory()) continue;
    const objects = new Map<string, ManifestObject>();
    for (const file of readdirSync(dir)
      .filter((f) => /\.ya?ml$/.test(f))
      .sort()) {
      for (const doc of parseAllDocuments(readFileSync(join(dir, file), 'utf8'))) {
        const o = doc.toJS() as ManifestObject | null;
        if (o === null) continue;
        const key = objectKey(o);
        if (objects.has(key)) throw new RenderError(`${label}: ${env} renders ${key} twice`);
        objects.set(key, o);
      }
    }
    rendering.set(env, objects);
  }
  return rendering;
}

/**
 * Renders the tree at a commit: a detached git worktree in a temporary directory that borrows this
 * checkout's node_modules through a symlink, removed afterwards.
 */
export async function renderCommit(root: string, commit: string, label: string): Promise<Rendering> {
  const parent = mkdtempSync(join(tmpdir(), 'prism-diff-'));
  const tree = join(parent, 'tree');
  await git(root, 'worktree', 'add', '--detach', '--quiet', tree, commit);
  try {
    const modules = join(root, 'node_modules');
    if (existsSync(modules) && !existsSync(join(tree, 'node_modules')))
      symlinkSync(modules, join(tree, 'node_modules'), 'dir');
    return await renderTree(tree, label);
  } finally {
    await git(root, 'worktree', 'remove', '--force', tree).catch(async () => {
      rmSync(tree, { recursive: true, force: true });
      await git(root, 'worktree', 'prune');
    });
    rmSync(parent, { recursive: true, force: true });
  }
}
