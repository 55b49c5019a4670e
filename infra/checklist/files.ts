import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

/**
 * The repository files the operations rules read: every Markdown document under docs/ and the
 * README, and the services' tests (the JWT rotation tests). Paths are relative to `root`, with `/`.
 */
export function readChecklistFiles(root: string): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (dir: string, keep: (p: string) => boolean) => {
    let entries: string[];
    try {
      entries = readdirSync(dir);
    } catch {
      return;
    }
    for (const e of entries.sort()) {
      if (e === 'node_modules' || e.startsWith('.')) continue;
      const p = join(dir, e);
      if (statSync(p).isDirectory()) walk(p, keep);
      else if (keep(p)) files.set(relative(root, p).split('\\').join('/'), readFileSync(p, 'utf8'));
    }
  };
  walk(join(root, 'docs'), (p) => p.endsWith('.md'));
  walk(join(root, 'services'), (p) => /\/test\/.*\.test\.ts$/.test(p));
  try {
    files.set('README.md', readFileSync(join(root, 'README.md'), 'utf8'));
  } catch {
    /* no README */
  }
  return files;
}
