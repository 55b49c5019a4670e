import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ENV_FILE } from '../../infra/compose/index.js';
import { tempCheckout } from '../local/support.js';
import { renderAll } from './support.js';

/** deploy/ files the renderer owns: everything but the backup scripts (the DB manager's) and the local .env. */
function committedDeployFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(relative('.', p));
    }
  };
  walk('deploy');
  return out.filter((p) => !p.startsWith('deploy/backup/') && p !== ENV_FILE).sort();
}

describe('rendered local set-up', () => {
  const files = renderAll();

  it('equals the committed files under deploy/ (run npm run synth after a model change)', () => {
    expect(committedDeployFiles()).toEqual([...files.keys()].sort());
    for (const [path, content] of files) expect(readFileSync(path, 'utf8'), path).toBe(content);
  });

  it('is deterministic', () => {
    const again = renderAll();
    expect([...again.entries()]).toEqual([...files.entries()]);
  });

  it('is tracked by git, with the generated secrets ignored', () => {
    const tracked = execFileSync('git', ['ls-files', 'deploy'], { encoding: 'utf8' }).split('\n').filter(Boolean);
    for (const path of files.keys()) expect(tracked, path).toContain(path);
    for (const path of [ENV_FILE, 'keys/private.pem', 'keys/public.pem', '.secrets/prism-secrets.yaml']) {
      expect(spawnSync('git', ['check-ignore', '-q', path]).status, `${path} must be git-ignored`).toBe(0);
    }
  });

  it('render-local --check passes here and names a file edited by hand', () => {
    const ok = spawnSync('node_modules/.bin/tsx', ['infra/cli/render-local.ts', '--check'], { encoding: 'utf8' });
    expect(ok.stderr).toBe('');
    expect(ok.status).toBe(0);

    const copy = tempCheckout(); // tracked files only: never this checkout's generated .env
    writeFileSync(join(copy, 'deploy/redis/redis.conf'), 'port 6379\n');
    const drift = spawnSync('node_modules/.bin/tsx', ['infra/cli/render-local.ts', '--check'], {
      cwd: copy,
      encoding: 'utf8',
    });
    expect(drift.status).toBe(1);
    expect(drift.stderr).toContain('deploy/redis/redis.conf');
    // --check wrote nothing; a plain run repairs it.
    expect(readFileSync(join(copy, 'deploy/redis/redis.conf'), 'utf8')).toBe('port 6379\n');
    expect(spawnSync('node_modules/.bin/tsx', ['infra/cli/render-local.ts'], { cwd: copy }).status).toBe(0);
    expect(readFileSync(join(copy, 'deploy/redis/redis.conf'), 'utf8')).toBe(files.get('deploy/redis/redis.conf'));
  });
});
