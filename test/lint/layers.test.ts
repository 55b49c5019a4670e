import { execFile } from 'node:child_process';
import { appendFileSync, cpSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

/**
 * The layering of .dependency-cruiser.cjs, checked with dependency-cruiser itself: the tree holds it,
 * and a copy of the tree with one violation planted per rule fails on exactly those.
 */
const run = promisify(execFile);
const ROOT = resolve('.');
const DEPCRUISE = join(ROOT, 'node_modules/dependency-cruiser/bin/dependency-cruiser.mjs');
const SOURCES = ['infra', 'charts', 'services', 'test', 'scripts'];

interface Violation {
  readonly rule: { readonly name: string };
  readonly from: string;
  readonly to: string;
  readonly cycle?: readonly { readonly name: string }[];
}

async function cruise(cwd: string): Promise<{ violations: Violation[]; modules: number }> {
  // Exit code 1 with violations: the JSON report is on stdout either way.
  const out = await run(
    process.execPath,
    [DEPCRUISE, ...SOURCES, '--config', '.dependency-cruiser.cjs', '--output-type', 'json'],
    {
      cwd,
      maxBuffer: 256 * 1024 * 1024,
    },
  ).catch((e: { stdout?: string; stderr?: string }) => {
    if (!e.stdout) throw new Error(`dependency-cruiser failed: ${e.stderr ?? 'no output'}`);
    return { stdout: e.stdout };
  });
  const report = JSON.parse(out.stdout) as { summary: { violations: Violation[]; totalCruised: number } };
  return { violations: report.summary.violations, modules: report.summary.totalCruised };
}

describe('layering (dependency-cruiser)', () => {
  it('holds on the tree', { timeout: 120_000 }, async () => {
    const { violations, modules } = await cruise(ROOT);
    expect(modules).toBeGreaterThan(250);
    expect(violations.map((v) => `${v.rule.name}: ${v.from} -> ${v.to}`)).toEqual([]);
  });

  it('fails on each kind of planted violation', { timeout: 180_000 }, async () => {
    const copy = mkdtempSync(join(tmpdir(), 'prism-layers-'));
    for (const entry of [...SOURCES, 'tsconfig.json', 'package.json', '.dependency-cruiser.cjs'])
      cpSync(join(ROOT, entry), join(copy, entry), { recursive: true });
    symlinkSync(join(ROOT, 'node_modules'), join(copy, 'node_modules'));
    const planted = new Set<string>(['infra/model/cycle-a.ts', 'infra/model/cycle-b.ts']);
    const plant = (file: string, line: string) => {
      planted.add(file);
      appendFileSync(join(copy, file), `\n${line}\n`);
    };

    // The violations issue 16 named, and one of each other rule.
    plant('infra/pulumi/program.ts', "import '../../charts/main.js';"); // deploy -> entry point
    plant('infra/config/load.ts', "import '../model/index.js';"); // config -> model
    plant('infra/pulumi/images.ts', "import '../local/index.js';"); // deploy -> local set-up
    plant('infra/compose/env.ts', "import '../model/files/yaml.js';"); // renderer -> model internals
    plant('infra/k8s/labels.ts', "import '../compose/index.js';"); // renderer -> renderer
    plant('infra/contract/ports.ts', "import '../config/index.js';"); // contract -> anything
    plant('services/gateway/src/jwt.ts', "import '../../../infra/model/index.js';"); // service -> model
    plant('services/gateway/src/breaker.ts', "import '#infra/model/index';"); // the same through a package.json "imports" subpath
    plant('services/auth/src/errors.ts', "import '../../gateway/src/jwt.js';"); // service -> another service
    writeFileSync(
      join(copy, 'infra/model/cycle-a.ts'),
      "import { b } from './cycle-b.js';\nexport const a = () => b;\n",
    );
    writeFileSync(
      join(copy, 'infra/model/cycle-b.ts'),
      "import { a } from './cycle-a.js';\nexport const b = () => a;\n",
    );
    plant('infra/docs/service-env.ts', "import '../contract/missing.js';"); // does not resolve
    plant('infra/diff/render.ts', "import '../pulumi/resources.js';"); // the diff loading the Pulumi SDK
    plant('infra/manifest/object.ts', "import '../contract/index.js';"); // the rendered-object module -> anything

    const { violations } = await cruise(copy);
    const found = violations.map((v) => `${v.rule.name}: ${v.from} -> ${v.to}`);
    expect(found).toEqual(
      expect.arrayContaining([
        'layer-pulumi: infra/pulumi/program.ts -> charts/main.ts',
        'entry-points-are-leaves: infra/pulumi/program.ts -> charts/main.ts',
        'layer-config: infra/config/load.ts -> infra/model/index.ts',
        'layer-pulumi: infra/pulumi/images.ts -> infra/local/index.ts',
        'public-index-model: infra/compose/env.ts -> infra/model/files/yaml.ts',
        'layer-k8s: infra/k8s/labels.ts -> infra/compose/index.ts',
        'layer-contract: infra/contract/ports.ts -> infra/config/index.ts',
        'services-import-only-the-contract: services/gateway/src/jwt.ts -> infra/model/index.ts',
        'services-import-only-the-contract: services/gateway/src/breaker.ts -> infra/model/index.ts',
        'services-import-only-the-contract: services/auth/src/errors.ts -> services/gateway/src/jwt.ts',
        'no-circular: infra/model/cycle-a.ts -> infra/model/cycle-b.ts',
        'not-to-unresolvable: infra/docs/service-env.ts -> ../contract/missing.js',
        'layer-diff: infra/diff/render.ts -> infra/pulumi/resources.ts',
        'layer-manifest: infra/manifest/object.ts -> infra/contract/index.ts',
      ]),
    );
    // Nothing else: every violation starts in a planted file (a planted upward import also closes cycles).
    const fromPlanted = (v: Violation) => planted.has(v.from) || (v.cycle ?? []).some((m) => planted.has(m.name));
    expect(violations.filter((v) => !fromPlanted(v))).toEqual([]);
  });
});
