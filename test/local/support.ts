import { cpSync, mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A temporary copy of what `make dev-setup` and the local CLIs touch: the Makefile, the
 * scripts, the rendered deploy/ files, infra/ and stacks/ (node_modules linked, not copied).
 */
export function tempCheckout(): string {
  const dir = mkdtempSync(join(tmpdir(), 'prism-local-'));
  for (const p of ['Makefile', 'scripts', 'deploy', 'infra', 'stacks', 'keys', 'package.json', 'package-lock.json', 'tsconfig.json', '.gitignore']) {
    cpSync(p, join(dir, p), { recursive: true });
  }
  symlinkSync(join(process.cwd(), 'node_modules'), join(dir, 'node_modules'));
  return dir;
}

export const mode = (m: number): string => (m & 0o777).toString(8).padStart(4, '0');
