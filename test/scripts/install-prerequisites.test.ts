import { execFileSync, spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

/** scripts/install-prerequisites.sh needs Go only to build a Go tool that is missing. */
describe('install-prerequisites.sh', () => {
  const missing = execFileSync('bash', ['scripts/install-tools.sh', '--missing'], { encoding: 'utf8' }).trim();
  // Run whole only where it changes nothing: as root, with every Go tool there (else it would install them).
  const installed = process.getuid?.() === 0 && missing === '';

  it.runIf(installed)('runs without Go on PATH when every Go tool is installed', () => {
    const path = (process.env.PATH ?? '')
      .split(':')
      .filter((d) => spawnSync('test', ['-x', `${d}/go`]).status !== 0)
      .join(':');
    expect(spawnSync('sh', ['-c', 'command -v go'], { env: { ...process.env, PATH: path } }).status).not.toBe(0);
    const r = spawnSync('bash', ['scripts/install-prerequisites.sh'], {
      encoding: 'utf8',
      env: { ...process.env, PATH: path },
    });
    expect(r.stderr).not.toContain('go not found');
    expect(r.stdout).toContain('all installed');
    expect(r.status).toBe(0);
  });

  it('refuses an unknown option with its usage', () => {
    const r = spawnSync('bash', ['scripts/install-prerequisites.sh', '--no-go'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('usage: bash scripts/install-prerequisites.sh [--without-go-tools]');
  });
});
