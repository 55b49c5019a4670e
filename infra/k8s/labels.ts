import type { Component, Layer } from '../model/index.js';

const PART_OF = 'prism';

/** Selector labels: the guide's `app` label plus the recommended name label. */
export function selectorLabels(name: string): Record<string, string> {
  return { app: name, 'app.kubernetes.io/name': name };
}

/** Labels on every object of a component. */
export function componentLabels(name: string, layer: Layer | 'base', version?: string): Record<string, string> {
  return {
    ...selectorLabels(name),
    'app.kubernetes.io/part-of': PART_OF,
    'app.kubernetes.io/component': layer,
    'app.kubernetes.io/managed-by': 'cdk8s',
    ...(version ? { 'app.kubernetes.io/version': version } : {}),
  };
}

export function labelsOf(c: Component): Record<string, string> {
  return componentLabels(c.name, c.layer, c.image.tag);
}
