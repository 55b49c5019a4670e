import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';

const project = parse(readFileSync('Pulumi.yaml', 'utf8')) as {
  name: string;
  runtime: { name: string; options: { typescript: boolean; nodeargs: string } };
  main: string;
  stackConfigDir: string;
};

describe('Pulumi.yaml', () => {
  it('declares project prism, Node.js, the program and the shared stack directory', () => {
    expect(project).toMatchObject({
      name: 'prism',
      runtime: { name: 'nodejs' },
      main: 'infra/pulumi/index.ts',
      stackConfigDir: 'stacks',
    });
    for (const stack of ['dev', 'staging', 'prod'])
      expect(() => readFileSync(`stacks/Pulumi.${stack}.yaml`)).not.toThrow();
  });

  const driver = (stack: string, overrides: Record<string, string> = {}) => {
    const args = [
      ...project.runtime.options.nodeargs.split(/\s+/),
      'test/pulumi/entry-driver.ts',
      stack,
      JSON.stringify(overrides),
    ];
    return JSON.parse(execFileSync(process.execPath, args, { encoding: 'utf8', timeout: 120_000 })) as {
      outputs: { namespace: string; objects: number; images: Record<string, string> };
      types: string[];
      dockerFiles: string[];
    };
  };

  it('its main loads under its nodeargs as the language host runs it, and the stack outputs resolve', () => {
    const out = driver('staging');
    expect(out.outputs.namespace).toBe('prism');
    expect(Object.keys(out.outputs.images).sort()).toEqual(['auth', 'config', 'dbmanager', 'gateway']);
    for (const [name, digest] of Object.entries(out.outputs.images))
      expect(digest).toMatch(new RegExp(`^ghcr\\.io/prism-platform/prism-${name}@sha256:[0-9a-f]{64}$`));
    expect(out.types.filter((t) => t.startsWith('kubernetes:'))).toHaveLength(out.outputs.objects);
    expect(out.types.filter((t) => t === 'docker:index/image:Image')).toHaveLength(4);
    expect(out.dockerFiles.length).toBeGreaterThan(0); // the hook sees @pulumi/docker when it is loaded
  }, 120_000);

  it('with images.build off, never loads @pulumi/docker (no docker plugin needed) and deploys the pinned images', () => {
    const out = driver('staging', { 'prism:images': JSON.stringify({ tag: '2.3.4', build: false }) });
    expect(out.dockerFiles).toEqual([]);
    expect(out.types.filter((t) => t.startsWith('docker:'))).toEqual([]);
    expect(out.types.filter((t) => t.startsWith('kubernetes:'))).toHaveLength(out.outputs.objects);
    expect(out.outputs.images).toEqual(
      Object.fromEntries(
        ['gateway', 'auth', 'config', 'dbmanager'].map((s) => [s, `ghcr.io/prism-platform/prism-${s}:2.3.4`]),
      ),
    );
  }, 120_000);
});
