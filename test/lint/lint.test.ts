import { execFile } from 'node:child_process';
import { appendFileSync, cpSync, mkdtempSync, readFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { ESLint } from 'eslint';
import * as prettier from 'prettier';
import { describe, expect, it } from 'vitest';

/**
 * `npm run lint` (part of `npm test`) runs ESLint, Prettier and knip over the tree with the repository's
 * configurations; these tests prove that each of them, so configured, fails on a planted violation.
 */
const run = promisify(execFile);
const ROOT = resolve('.');

describe('ESLint (eslint.config.js)', () => {
  const eslint = new ESLint({ cwd: ROOT });
  const lint = async (file: string, planted: string) => {
    const [result] = await eslint.lintText(`${readFileSync(file, 'utf8')}\n${planted}\n`, { filePath: resolve(file) });
    return result!.messages.map((m) => m.ruleId);
  };

  it('holds on a file as it is', { timeout: 120_000 }, async () => {
    expect(await lint('infra/config/quantity.ts', '')).toEqual([]);
  });

  it('fails on planted violations, type-aware rules included', { timeout: 120_000 }, async () => {
    // A floating promise is found only with type information; `any` is refused outside the tests.
    const found = await lint(
      'infra/config/quantity.ts',
      'export async function planted(x: any) { Promise.resolve(x); }',
    );
    expect(found).toEqual(
      expect.arrayContaining([
        '@typescript-eslint/no-floating-promises',
        '@typescript-eslint/no-explicit-any',
        '@typescript-eslint/require-await',
      ]),
    );
  });

  it("fails on a type-only import that does not say so, as the services' code too", { timeout: 120_000 }, async () => {
    const file = 'services/gateway/src/breaker.ts';
    const original = readFileSync(file, 'utf8');
    // The file imports Registry for its type only: drop the `type` marker.
    const text = original.replace(/^(import \{[^}]*)\btype Registry\b([^}]*\} from 'prom-client';)$/m, '$1Registry$2');
    expect(text).not.toBe(original);
    const [result] = await eslint.lintText(text, { filePath: resolve(file) });
    expect(result!.messages.map((m) => m.ruleId)).toContain('@typescript-eslint/consistent-type-imports');
  });
});

describe('imports climb at most two levels (no-restricted-imports, package.json "imports")', () => {
  const eslint = new ESLint({ cwd: ROOT });
  const file = 'services/gateway/src/breaker.ts';
  const lintWith = async (line: string) => {
    const [result] = await eslint.lintText(`${line}\n${readFileSync(file, 'utf8')}\nvoid SERVICE_NAMES;\n`, {
      filePath: resolve(file),
    });
    return result!.messages.map((m) => m.ruleId);
  };

  it('fails on a relative import three levels up, and takes its subpath', { timeout: 120_000 }, async () => {
    expect(await lintWith("import { SERVICE_NAMES } from '../../../infra/contract/index.js';")).toContain(
      'no-restricted-imports',
    );
    expect(
      await lintWith(
        "export { SERVICE_NAMES } from '../../../infra/contract/index.js';\nimport { SERVICE_NAMES } from '#contract';",
      ),
    ).toContain('no-restricted-imports');
    expect(await lintWith("import { SERVICE_NAMES } from '#contract';")).toEqual([]);
  });
});

describe('Prettier (.prettierrc.json)', () => {
  it('accepts the files as they are and refuses a reformatted one', async () => {
    const file = resolve('infra/config/quantity.ts');
    const options = { ...(await prettier.resolveConfig(file)), filepath: file };
    const text = readFileSync(file, 'utf8');
    expect(await prettier.check(text, options)).toBe(true);
    expect(await prettier.check(text.replaceAll("'", '"'), options)).toBe(false);
    expect(
      await prettier.check(
        text.replace('export function bytes(q: string)', 'export function bytes(  q: string )'),
        options,
      ),
    ).toBe(false);
  });
});

describe('knip (knip.jsonc)', () => {
  it('fails on a planted unused export and an unused file', { timeout: 180_000 }, async () => {
    const copy = mkdtempSync(join(tmpdir(), 'prism-knip-'));
    for (const entry of [
      'infra',
      'charts',
      'services',
      'scripts',
      'test',
      'package.json',
      'tsconfig.json',
      'knip.jsonc',
      'vitest.config.ts',
      'eslint.config.js',
      '.dependency-cruiser.cjs',
    ]) {
      cpSync(join(ROOT, entry), join(copy, entry), { recursive: true });
    }
    symlinkSync(join(ROOT, 'node_modules'), join(copy, 'node_modules'));
    appendFileSync(join(copy, 'infra/config/quantity.ts'), '\nexport const PLANTED_UNUSED = 1;\n');
    cpSync(join(copy, 'infra/config/cidr.ts'), join(copy, 'infra/config/planted-orphan.ts'));
    const out = await run(
      process.execPath,
      [join(ROOT, 'node_modules/knip/bin/knip.js'), '--no-progress', '--reporter', 'json'],
      { cwd: copy, maxBuffer: 64 * 1024 * 1024 },
    )
      .then(() => '')
      .catch((e: { stdout?: string }) => e.stdout ?? '');
    const report = JSON.parse(out) as {
      files?: string[];
      issues: { file: string; exports: { name: string }[]; files?: { name: string }[] }[];
    };
    const unusedExports = report.issues.flatMap((i) => i.exports.map((x) => `${i.file}:${x.name}`));
    const unusedFiles = [...(report.files ?? []), ...report.issues.flatMap((i) => (i.files ?? []).map(() => i.file))];
    expect(unusedExports).toEqual(['infra/config/quantity.ts:PLANTED_UNUSED']);
    expect(unusedFiles).toContain('infra/config/planted-orphan.ts');
  });
});
