import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const COMMITTED = 'services/runtime/src/proto';

const files = (dir: string): string[] =>
  readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();

describe('generated gRPC types (npm run proto:types)', () => {
  const fresh = mkdtempSync(join(tmpdir(), 'prism-proto-types-'));
  afterAll(() => rmSync(fresh, { recursive: true, force: true }));

  it('are what the generator writes from services/proto today: regenerate and commit when this fails', () => {
    execFileSync('bash', ['scripts/proto-types.sh', join(fresh, 'proto')], { stdio: 'pipe' });
    const generated = files(join(fresh, 'proto'));
    expect(files(COMMITTED)).toEqual(generated);
    for (const f of generated)
      expect(readFileSync(join(COMMITTED, f), 'utf8'), f).toBe(readFileSync(join(fresh, 'proto', f), 'utf8'));
  });
});
