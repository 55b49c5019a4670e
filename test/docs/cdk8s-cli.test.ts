import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * `npm run cdk8s -- synth`, the README's form of cdk8s-cli: no upgrade query to registry.npmjs.org (plain `npx cdk8s`
 * makes one on every run and, offline or behind a mirror, prints a 404 stack trace and "A new version undefined"),
 * and it works from any folder of the checkout (npm runs scripts from the package root; plain `npx cdk8s synth`
 * in a subfolder finds no cdk8s.yaml and asks for --app).
 */
describe('npm run cdk8s -- synth', () => {
  it('renders every environment from a subfolder, with no upgrade check', () => {
    const out = mkdtempSync(join(tmpdir(), 'prism-cdk8s-'));
    const home = mkdtempSync(join(tmpdir(), 'prism-cdk8s-home-')); // no cached version: a check would query the registry
    try {
      const r = spawnSync('npm', ['run', '-s', 'cdk8s', '--', 'synth', '--output', out], {
        cwd: 'infra/model',
        encoding: 'utf8',
        env: { ...process.env, HOME: home },
        timeout: 120_000,
      });
      expect(r.stderr).not.toMatch(/A new version|http error|Missing required argument/);
      expect(r.status).toBe(0);
      expect(readdirSync(out).sort()).toEqual(['dev', 'prod', 'staging']);
      expect(existsSync(join(home, '.cdk8s-cli.version'))).toBe(false);
    } finally {
      rmSync(out, { recursive: true, force: true });
      rmSync(home, { recursive: true, force: true });
    }
  });
});
