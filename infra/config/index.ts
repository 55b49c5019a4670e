export * from './schema.js';
export * from './load.js';
export { innermostDef } from './schema-def.js';
export * from './checklist.js';
export * from './quantity.js';
export { type DataStoreName, type Resources } from './sizing.js';
export { UNROUTED_RECEIVER, type AlertingConfig, type AlertReceiver } from './alerting.js';
