export * from './ports.js';
export * from './health.js';
export * from './env.js';
export * from './services.js';
export * from './commands.js';
export * from './gateway-config.js';
export * from './metrics.js';
