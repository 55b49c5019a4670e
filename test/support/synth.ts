import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { environmentApp } from '../../infra/k8s/charts/platform.js';
import { loadStack, type Stack } from '../../infra/config/index.js';
import type { ManifestObject } from '../../infra/manifest/index.js';

export const ENVIRONMENTS = ['dev', 'staging', 'prod'] as const;

export interface Synthesized {
  readonly stack: Stack;
  readonly objects: ManifestObject[];
  /** Objects by chart id (base, data, core, observability, edge). */
  readonly byChart: Record<string, ManifestObject[]>;
}

/** Synthesizes one environment in memory, from the repository's stack files or another directory. */
export function synth(env: string, stacksDir = 'stacks'): Synthesized {
  const stack = loadStack(stacksDir, env);
  const { charts } = environmentApp(stack, mkdtempSync(join(tmpdir(), 'prism-synth-')));
  const byChart: Record<string, ManifestObject[]> = {};
  for (const chart of charts) byChart[chart.node.id] = chart.toJson() as ManifestObject[];
  return { stack, objects: Object.values(byChart).flat(), byChart };
}

export function find(objects: readonly ManifestObject[], kind: string, name: string): ManifestObject {
  const o = objects.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) throw new Error(`no ${kind} ${name}`);
  return o;
}
