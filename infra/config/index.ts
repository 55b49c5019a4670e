export * from './schema.js';
export * from './load.js';
export * from './checklist.js';
