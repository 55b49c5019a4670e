export * from './types.js';
export * from './secrets.js';
export * from './platform.js';
export * from './quantity.js';
export { headless, RUN_AS } from './components/common.js';
