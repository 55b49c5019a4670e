export * from './types.js';
export * from './layout.js';
export * from './networks.js';
export * from './env.js';
export * from './images.js';
export * from './service.js';
export * from './traefik.js';
export * from './render.js';
