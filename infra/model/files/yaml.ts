import { stringify } from 'yaml';

/** YAML as every renderer writes it: block style, no line folding, stable across runs. */
export function toYaml(value: unknown): string {
  return stringify(value, { lineWidth: 0, aliasDuplicateObjects: false });
}
