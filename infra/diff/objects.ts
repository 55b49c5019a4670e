import { isDeepStrictEqual } from 'node:util';
import type { ManifestObject } from '../manifest/index.js';
import { HIDDEN, hides, isSensitivePath, type Segment } from './mask.js';

/**
 * One changed field: its path and the old and new values (`undefined`: absent on that side),
 * already redacted: a secret-like value is replaced by {@link HIDDEN} here, so no printer can leak it.
 */
export interface FieldChange {
  readonly path: readonly Segment[];
  readonly old: unknown;
  readonly new: unknown;
  /** Some value of this change was redacted. */
  readonly hidden: boolean;
}

interface ObjectChange {
  readonly key: string;
  readonly object: ManifestObject;
  readonly fields: readonly FieldChange[];
}

export interface EnvironmentDiff {
  readonly environment: string;
  /** Present at the ref / in the working tree at all (an environment can be added or removed). */
  readonly before: boolean;
  readonly after: boolean;
  readonly added: readonly ManifestObject[];
  readonly removed: readonly ManifestObject[];
  readonly changed: readonly ObjectChange[];
}

export function hasChanges(d: EnvironmentDiff): boolean {
  return d.added.length + d.removed.length + d.changed.length > 0;
}

/** Objects matched by key (apiVersion/kind/namespace/name); keys sorted so output is deterministic. */
export function diffEnvironment(
  environment: string,
  before: ReadonlyMap<string, ManifestObject> | undefined,
  after: ReadonlyMap<string, ManifestObject> | undefined,
): EnvironmentDiff {
  const b = before ?? new Map<string, ManifestObject>();
  const a = after ?? new Map<string, ManifestObject>();
  const keys = [...new Set([...b.keys(), ...a.keys()])].sort();
  const added: ManifestObject[] = [];
  const removed: ManifestObject[] = [];
  const changed: ObjectChange[] = [];
  for (const key of keys) {
    const old = b.get(key);
    const now = a.get(key);
    if (!old) added.push(now!);
    else if (!now) removed.push(old);
    else {
      const fields = diffFields(now.kind, old, now);
      if (fields.length > 0) changed.push({ key, object: now, fields });
    }
  }
  return { environment, before: before !== undefined, after: after !== undefined, added, removed, changed };
}

/** Field-level changes between two versions of one object. */
function diffFields(kind: string, old: unknown, now: unknown): FieldChange[] {
  const out: FieldChange[] = [];
  walk(kind, [], old, now, out);
  return out;
}

function walk(kind: string, path: Segment[], old: unknown, now: unknown, out: FieldChange[]): void {
  if (isDeepStrictEqual(old, now)) return;
  if (isRecord(old) && isRecord(now)) {
    for (const k of [...new Set([...Object.keys(old), ...Object.keys(now)])].sort())
      walk(kind, [...path, { key: k }], old[k], now[k], out);
    return;
  }
  if (Array.isArray(old) && Array.isArray(now)) {
    const oldNames = namesOf(old);
    const newNames = namesOf(now);
    if (oldNames && newNames) {
      // Lists of named items (containers, env, ports, volumes): match by name, not position.
      const byName = (list: unknown[], name: string) => list.find((x) => (x as { name: string }).name === name);
      const names = [...oldNames, ...newNames.filter((n) => !oldNames.includes(n))];
      for (const name of names) {
        const index = Math.max(newNames.indexOf(name), oldNames.indexOf(name));
        walk(kind, [...path, { index, name }], byName(old, name), byName(now, name), out);
      }
      return;
    }
    for (let i = 0; i < Math.max(old.length, now.length); i++) walk(kind, [...path, { index: i }], old[i], now[i], out);
    return;
  }
  const state = { hidden: false };
  out.push({ path, old: redact(kind, path, old, state), new: redact(kind, path, now, state), hidden: state.hidden });
}

/** The value with every secret-like leaf (see mask.ts) replaced by HIDDEN. */
function redact(kind: string, path: readonly Segment[], v: unknown, state = { hidden: false }): unknown {
  if (Array.isArray(v)) {
    const names = namesOf(v);
    return v.map((x, index) => redact(kind, [...path, { index, ...(names ? { name: names[index]! } : {}) }], x, state));
  }
  if (isRecord(v))
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, redact(kind, [...path, { key: k }], x, state)]));
  if (hides(v) && isSensitivePath(kind, path)) {
    state.hidden = true;
    return HIDDEN;
  }
  return v;
}

/** The `name` of every item when all items are objects with distinct string names. */
function namesOf(list: unknown[]): string[] | undefined {
  if (list.length === 0) return [];
  const names = list.map((x) => (isRecord(x) && typeof x.name === 'string' ? x.name : undefined));
  if (names.some((n) => n === undefined)) return undefined;
  return new Set(names).size === names.length ? (names as string[]) : undefined;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
