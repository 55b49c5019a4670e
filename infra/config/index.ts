export * from './schema.js';
export * from './load.js';
export { innermostDef } from './schema-def.js';
export * from './checklist.js';
