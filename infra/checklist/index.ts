export * from './evaluate.js';
export * from './facts.js';
export * from './items.js';
export type { K8sObject } from './manifests.js';
export * from './files.js';
