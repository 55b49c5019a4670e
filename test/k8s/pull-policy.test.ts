import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { synth } from '../support/synth.js';

/** Every container of every pod template in the objects, with where it is. */
function containers(objects: readonly { kind: string; metadata: { name: string }; spec?: unknown }[]) {
  const found: { at: string; imagePullPolicy?: string }[] = [];
  const visit = (node: unknown, at: string): void => {
    if (!node || typeof node !== 'object') return;
    const o = node as Record<string, unknown>;
    for (const key of ['containers', 'initContainers'])
      if (Array.isArray(o[key]))
        for (const c of o[key] as { name: string; imagePullPolicy?: string }[])
          found.push({ at: `${at} ${c.name}`, imagePullPolicy: c.imagePullPolicy });
    for (const v of Object.values(o)) visit(v, at);
  };
  for (const o of objects) visit(o.spec, `${o.kind}/${o.metadata.name}`);
  return found;
}

describe('images.pullPolicy', () => {
  // A cluster that cannot pull (an air-gapped one, the real-pods lane) sets IfNotPresent: a container still on
  // Always fails to start there. The log shipper's DaemonSet rendered Always whatever the setting until 2026-12-07.
  it("reaches every container, the log shipper's included", () => {
    const dir = mkdtempSync(join(tmpdir(), 'prism-pull-policy-'));
    const doc = parseDocument(readFileSync('stacks/Pulumi.staging.yaml', 'utf8'));
    doc.setIn(['config', 'prism:images', 'pullPolicy'], 'IfNotPresent');
    writeFileSync(join(dir, 'Pulumi.staging.yaml'), doc.toString());
    const { stack, objects } = synth('staging', dir);
    expect(stack.config.observability.logShipping).toBe(true);
    const all = containers(objects);
    expect(all.some((c) => c.at.startsWith('DaemonSet/alloy'))).toBe(true);
    expect(all.filter((c) => c.imagePullPolicy !== 'IfNotPresent')).toEqual([]);
  });
});
