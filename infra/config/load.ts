import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parse } from 'yaml';
import type { z } from 'zod';
import { waiverProblems } from './checklist.js';
import { stackConfigSchema, type StackConfig } from './schema.js';
import { innermostDef } from './schema-def.js';

export const CONFIG_NAMESPACE = 'prism';
/** Top-level keys Pulumi itself writes into a stack file. */
const PULUMI_FILE_KEYS = new Set(['config', 'secretsprovider', 'encryptionsalt', 'encryptedkey', 'environment']);

/** A stack configuration that failed validation; `message` is short and names each key. */
export class StackConfigError extends Error {
  readonly source: string;
  readonly problems: readonly string[];

  // Plain fields, not parameter properties: `npm run synth` runs on Node's type stripping, which erases types only.
  constructor(source: string, problems: readonly string[]) {
    super(`${source}: invalid stack configuration\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'StackConfigError';
    this.source = source;
    this.problems = problems;
  }
}

export interface Stack {
  readonly name: string;
  readonly file: string;
  readonly config: StackConfig;
}

const STACK_FILE = /^Pulumi\.([a-z0-9][a-z0-9-]*)\.yaml$/;

/** The stack names present in a stack directory (`Pulumi.<name>.yaml`), sorted. */
export function listStacks(dir: string): string[] {
  return readdirSync(dir)
    .map((f) => STACK_FILE.exec(f)?.[1])
    .filter((n): n is string => n !== undefined)
    .sort();
}

export function loadStack(dir: string, name: string): Stack {
  const file = join(dir, `Pulumi.${name}.yaml`);
  const source = relative(process.cwd(), file) || file;
  let doc: unknown;
  try {
    doc = parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new StackConfigError(source, [(e as Error).message.split('\n')[0] ?? 'unreadable YAML']);
  }
  return { name, file, config: parseStackFile(doc, source, name) };
}

/** Validates the parsed content of a `Pulumi.<stack>.yaml` file; `stackName` decides which checklist waivers it may hold. */
export function parseStackFile(doc: unknown, source: string, stackName?: string): StackConfig {
  if (!isRecord(doc)) throw new StackConfigError(source, ['expected a YAML mapping with a `config:` key']);
  const problems: string[] = [];
  for (const key of Object.keys(doc)) {
    if (!PULUMI_FILE_KEYS.has(key)) problems.push(`${key}: unknown top-level key; expected config`);
  }
  const raw = doc.config ?? {};
  if (!isRecord(raw)) throw new StackConfigError(source, ['config: expected a mapping of prism:<key> to values']);
  const values: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) {
    const [ns, name, ...rest] = key.split(':');
    if (ns !== CONFIG_NAMESPACE || !name || rest.length > 0) {
      problems.push(
        `${key}: unknown key; every key is in the ${CONFIG_NAMESPACE}: namespace (for example ${CONFIG_NAMESPACE}:domain)`,
      );
    } else {
      values[name] = value;
    }
  }
  if (problems.length > 0) throw new StackConfigError(source, problems);
  return validateStackConfig(values, source, stackName);
}

/**
 * Validates the `prism:` values (without their namespace), as the Pulumi program reads them. With
 * a stack name, also which production-checklist items the stack may declare not applicable.
 */
export function validateStackConfig(values: Record<string, unknown>, source: string, stackName?: string): StackConfig {
  const result = stackConfigSchema.safeParse(values);
  if (result.success) {
    const problems = stackName === undefined ? [] : waiverProblems(stackName, result.data.checklist.notApplicable);
    if (problems.length === 0) return result.data;
    throw new StackConfigError(
      source,
      problems.map((p) => `${keyPath(p.path)}: ${p.message}`),
    );
  }
  throw new StackConfigError(
    source,
    result.error.issues.map((i) => describeIssue(i, values)),
  );
}

function describeIssue(issue: z.core.$ZodIssue, input: unknown): string {
  const path = issue.path.map(String);
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((k) => `${keyPath([...path, k])}: unknown key${allowedKeys(path)}`).join('; ');
  }
  const found = valueAt(input, path);
  // A key that must never be set (credentials) may hold a secret: never echo it. A URL's user:password
  // never reaches a log either, even when a stack file holds one by mistake.
  const forbidden = issue.code === 'invalid_type' && issue.expected === 'never';
  const what =
    found === undefined
      ? 'nothing'
      : forbidden
        ? 'a value (not shown)'
        : JSON.stringify(found).replace(/(\/\/)[^/@"\s]*:[^/@"\s]*@/g, '$1***@');
  const expected = issue.message.replace(/^Invalid input: /, '');
  return `${keyPath(path)}: ${expected}; found ${what}`;
}

function allowedKeys(path: string[]): string {
  let schema: unknown = stackConfigSchema;
  for (const segment of path) schema = childSchema(schema, segment);
  const shape = innermostDef(schema)?.shape;
  return shape ? `; expected one of ${Object.keys(shape).sort().join(', ')}` : '';
}

function childSchema(schema: unknown, key: string): unknown {
  return innermostDef(schema)?.shape?.[key];
}

function keyPath(path: string[]): string {
  return [`${CONFIG_NAMESPACE}:${path[0] ?? ''}`, ...path.slice(1)].join('.');
}

function valueAt(input: unknown, path: string[]): unknown {
  let v: unknown = input;
  for (const p of path) v = isRecord(v) ? v[p] : Array.isArray(v) ? v[Number(p)] : undefined;
  return v;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
