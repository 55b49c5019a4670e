import { parse, stringify } from 'yaml';
import type { ChecklistInput } from '../../infra/checklist/index.js';
import { readChecklistFiles } from '../../infra/checklist/index.js';
import { buildPlatform } from '../../infra/model/index.js';
import { synth } from '../support/synth.js';

/** A checklist input whose objects, stack and files a test may change freely (`asInput` hands it to the checklist). */
export interface Mutable {
  stack: { name: string; file: string; config: ChecklistInput['stack']['config'] };
  platform: ChecklistInput['platform'];
  objects: Obj[];
  files: Map<string, string>;
}
// Tests reach into arbitrary fields of the objects they plant violations in.
export type Obj = Record<string, any>;

const FILES = new Map(readChecklistFiles(process.cwd()));

/** One environment as `npm run checklist` sees it, deep-copied so each test may plant its own violation. */
export function environment(env: string): Mutable {
  let synthesized = SYNTHESIZED.get(env);
  if (!synthesized) {
    const { stack, objects } = synth(env);
    synthesized = {
      stack: { ...stack },
      platform: buildPlatform(stack.name, stack.config),
      objects: objects,
      files: FILES,
    };
    SYNTHESIZED.set(env, synthesized);
  }
  return structuredClone(synthesized);
}
/** Each environment is synthesized once per test file; tests get their own deep copy. */
const SYNTHESIZED = new Map<string, Mutable>();

export const byApp = (m: Mutable, kind: string, app: string): Obj => {
  const o = m.objects.find(
    (x) => x.kind === kind && (x.metadata.labels?.['app.kubernetes.io/name'] ?? x.metadata.name) === app,
  );
  if (!o) throw new Error(`no ${kind} for ${app}`);
  return o;
};
export const podSpec = (o: Obj): Obj =>
  o.kind === 'CronJob' ? o.spec.jobTemplate.spec.template.spec : o.spec.template.spec;
export const container = (o: Obj): Obj => podSpec(o).containers[0];
export const setEnv = (o: Obj, name: string, value: string | undefined): void => {
  const c = container(o);
  c.env = (c.env ?? []).filter((e: Obj) => e.name !== name);
  if (value !== undefined) c.env.push({ name, value });
};

/** Edits a YAML (or JSON) value of a ConfigMap in place. */
export function editConfig(m: Mutable, key: string, edit: (doc: Obj) => void): void {
  const cm = m.objects.find((o) => o.kind === 'ConfigMap' && key in (o.data ?? {}));
  if (!cm) throw new Error(`no ConfigMap with ${key}`);
  const doc = parse(cm.data[key]) as Obj;
  edit(doc);
  cm.data[key] = key.endsWith('.json') ? JSON.stringify(doc) : stringify(doc);
}

export function editFile(m: Mutable, path: string, edit: (text: string) => string): void {
  const text = m.files.get(path);
  if (text === undefined) throw new Error(`no file ${path}`);
  const after = edit(text);
  if (after === text) throw new Error(`the edit of ${path} changed nothing`);
  m.files.set(path, after);
}

export const asInput = (m: Mutable): ChecklistInput => m as unknown as ChecklistInput;
