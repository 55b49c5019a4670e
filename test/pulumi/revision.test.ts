import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { gitRevision } from '../../infra/pulumi/images.js';

/** The image revision against a real git repository laid out like this one. */
describe('gitRevision', () => {
  let dir: string;
  const git = (...args: string[]) => execFileSync('git', args, { cwd: dir, encoding: 'utf8' }).trim();

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'prism-revision-'));
    mkdirSync(join(dir, 'stacks'));
    mkdirSync(join(dir, 'services/gateway'), { recursive: true });
    writeFileSync(join(dir, 'stacks/Pulumi.dev.yaml'), readFileSync('stacks/Pulumi.dev.yaml'));
    writeFileSync(join(dir, 'services/gateway/main.ts'), 'export {};\n');
    git('init', '-q');
    git('add', '.');
    git('-c', 'user.name=t', '-c', 'user.email=t@example.com', 'commit', '-qm', 'init');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('is the short commit hash in a clean tree', () => {
    expect(gitRevision(dir)).toBe(git('rev-parse', '--short=12', 'HEAD'));
  });

  it('stays clean when Pulumi writes the stack file (stack init adds encryptionsalt, config set a secret)', () => {
    appendFileSync(
      join(dir, 'stacks/Pulumi.dev.yaml'),
      'encryptionsalt: v1:c2FsdA==:v1:aXY=:Y3Q=\n  prism:redisPassword:\n    secure: v1:abc\n',
    );
    expect(git('status', '--porcelain')).not.toBe(''); // the file did change
    expect(gitRevision(dir)).toBe(git('rev-parse', '--short=12', 'HEAD'));
  });

  it('is -dirty when code that goes into an image changed, stack file changed or not', () => {
    appendFileSync(join(dir, 'stacks/Pulumi.dev.yaml'), 'encryptionsalt: v1:x\n');
    writeFileSync(join(dir, 'services/gateway/main.ts'), 'export const changed = 1;\n');
    expect(gitRevision(dir)).toBe(`${git('rev-parse', '--short=12', 'HEAD')}-dirty`);
  });

  it('ignores untracked files', () => {
    writeFileSync(join(dir, 'services/gateway/new.ts'), 'export {};\n');
    expect(gitRevision(dir)).toBe(git('rev-parse', '--short=12', 'HEAD'));
  });
});
