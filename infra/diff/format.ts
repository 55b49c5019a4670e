import { diffLines } from 'diff';
import type { ManifestObject } from '../manifest/index.js';
import { HIDDEN, maskText, type Segment } from './mask.js';
import { hasChanges, type EnvironmentDiff, type FieldChange } from './objects.js';

/** `spec.template.spec.containers[name=gateway].image`, `metadata.annotations["prism.io/config-hash"]`. */
function formatPath(path: readonly Segment[]): string {
  return path
    .map((s, i) => {
      if ('index' in s) return s.name !== undefined ? `[name=${s.name}]` : `[${s.index}]`;
      if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(s.key)) return i === 0 ? s.key : `.${s.key}`;
      return `[${JSON.stringify(s.key)}]`;
    })
    .join('');
}

/** A value on one line: `(none)` when absent, `(hidden)` when redacted, JSON otherwise. */
function formatValue(v: unknown): string {
  if (v === undefined) return '(none)';
  if (v === HIDDEN) return '(hidden)';
  return JSON.stringify(v, (_k, x: unknown) => (x === HIDDEN ? '(hidden)' : x));
}

function objectLabel(o: ManifestObject): string {
  const name = o.metadata.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : o.metadata.name;
  return `${o.apiVersion} ${o.kind} ${name}`;
}

const isText = (v: unknown): v is string => typeof v === 'string' && v.includes('\n');

function formatField(c: FieldChange): string[] {
  const path = formatPath(c.path);
  if (
    !c.hidden &&
    (isText(c.old) || isText(c.new)) &&
    (typeof c.old === 'string' || c.old === undefined) &&
    (typeof c.new === 'string' || c.new === undefined)
  ) {
    // Config files: the changed lines, each secret-looking value masked.
    const lines = diffLines(c.old ?? '', c.new ?? '').flatMap((part) => {
      if (!part.added && !part.removed) return [];
      const mark = part.added ? '+' : '-';
      return part.value
        .replace(/\n$/, '')
        .split('\n')
        .map((l) => `      ${mark} ${maskText(l)}`);
    });
    const what = c.old === undefined ? 'added text' : c.new === undefined ? 'removed text' : 'text changed';
    return [`    ${path}: ${what}`, ...lines];
  }
  const note = c.hidden && formatValue(c.old) === formatValue(c.new) ? ' (value changed)' : '';
  return [`    ${path}: ${formatValue(c.old)} → ${formatValue(c.new)}${note}`];
}

export function formatEnvironment(d: EnvironmentDiff): string[] {
  if (!hasChanges(d)) return [`${d.environment}: no changes`];
  const counts = `${d.added.length} added, ${d.removed.length} removed, ${d.changed.length} changed`;
  const header = !d.before
    ? `${d.environment}: new environment (${counts})`
    : !d.after
      ? `${d.environment}: environment removed (${counts})`
      : `${d.environment}: ${counts}`;
  return [
    header,
    ...d.added.map((o) => `+ ${objectLabel(o)}`),
    ...d.removed.map((o) => `- ${objectLabel(o)}`),
    ...d.changed.flatMap((c) => [`~ ${objectLabel(c.object)}`, ...c.fields.flatMap(formatField)]),
  ];
}

/** The whole report: one section per environment, then a one-line summary. */
export function formatReport(diffs: readonly EnvironmentDiff[], from: string, to: string): string {
  const changed = diffs.filter(hasChanges).map((d) => d.environment);
  const envs = diffs.map((d) => d.environment).join(', ');
  const summary =
    changed.length === 0
      ? `No changes: ${from} and ${to} render the same objects in every environment (${envs}).`
      : `Changes in ${changed.length} of ${diffs.length} environments (${changed.join(', ')}) between ${from} and ${to}.`;
  return [`Manifest diff: ${from} → ${to}`, '', ...diffs.flatMap((d) => [...formatEnvironment(d), '']), summary].join(
    '\n',
  );
}
