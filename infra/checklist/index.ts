export * from './evaluate.js';
export * from './facts.js';
export * from './items/index.js';
export type { ManifestObject } from '../manifest/index.js';
export * from './files.js';
