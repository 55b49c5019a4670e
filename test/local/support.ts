import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll } from 'vitest';

const made: string[] = [];
// Every test file that makes temporary checkouts removes them when it ends.
afterAll(() => {
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
});

/**
 * A temporary copy of what `make dev-setup` and the local CLIs touch: the Makefile, the
 * scripts, the rendered deploy/ files, infra/ and stacks/ (node_modules linked, not copied).
 * Only files git tracks are copied: the tests never see this checkout's git-ignored files
 * (keys/*.pem, deploy/docker-compose/.env), which would make them depend on what a developer
 * generated and would leave copies of private keys behind.
 */
export function tempCheckout(): string {
  const dir = mkdtempSync(join(tmpdir(), 'prism-local-'));
  made.push(dir);
  const paths = [
    'Makefile',
    'scripts',
    'deploy',
    'infra',
    'stacks',
    'keys',
    'package.json',
    'package-lock.json',
    'tsconfig.json',
    '.gitignore',
  ];
  const tracked = execFileSync('git', ['ls-files', '-z', '--', ...paths], { encoding: 'utf8' })
    .split('\0')
    .filter(Boolean);
  for (const f of tracked) {
    mkdirSync(dirname(join(dir, f)), { recursive: true });
    cpSync(f, join(dir, f));
  }
  symlinkSync(join(process.cwd(), 'node_modules'), join(dir, 'node_modules'));
  return dir;
}

export const mode = (m: number): string => (m & 0o777).toString(8).padStart(4, '0');
