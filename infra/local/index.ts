export * from './passwords.js';
export * from './files.js';
export * from './dotenv.js';
export * from './keys.js';
export * from './k8s-secret.js';
