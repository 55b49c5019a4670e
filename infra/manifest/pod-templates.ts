import type { ManifestObject } from './object.js';

/** One pod template of a rendered object, with the object that owns it. */
export interface PodTemplate {
  readonly object: ManifestObject;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  /** The template's pod spec, as rendered; each reader narrows it to the fields it checks. */
  readonly spec: unknown;
}

/** Kinds whose `spec.template` is a pod template (a CronJob's sits one Job deeper). */
const TEMPLATE_OWNERS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'Job', 'ReplicaSet']);

const at = (o: unknown, ...path: string[]): unknown =>
  path.reduce<unknown>((v, k) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined), o);

type Template = {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: unknown;
};

/** Every pod template of the objects, in their order: everything that runs pods. */
export function podTemplates(objects: readonly ManifestObject[]): PodTemplate[] {
  return objects.flatMap((object): PodTemplate[] => {
    const template = (
      object.kind === 'CronJob'
        ? at(object, 'spec', 'jobTemplate', 'spec', 'template')
        : TEMPLATE_OWNERS.has(object.kind)
          ? at(object, 'spec', 'template')
          : undefined
    ) as Template | undefined;
    if (!template?.spec) return [];
    return [
      {
        object,
        labels: template.metadata?.labels ?? {},
        annotations: template.metadata?.annotations ?? {},
        spec: template.spec,
      },
    ];
  });
}
