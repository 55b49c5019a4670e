import { SERVICE_NAMES } from '../../contract/index.js';
import type { ManifestObject } from '../../manifest/index.js';
import type { Facts } from '../facts.js';
import type { Workload } from '../manifests.js';

/** Lookups over the rendered objects that rules of more than one section share. */

export const isService = (name: string): boolean => (SERVICE_NAMES as readonly string[]).includes(name);

export const ingresses = (f: Facts): ManifestObject[] => f.input.objects.filter((o) => o.kind === 'Ingress');

export const annotation = (o: ManifestObject, key: string): string | undefined => o.metadata.annotations?.[key];

export const podOf = (w: Workload) => ({ namespace: w.namespace, labels: w.podLabels });
