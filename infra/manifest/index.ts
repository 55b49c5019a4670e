export { objectKey, type ManifestObject } from './object.js';
export { podTemplates } from './pod-templates.js';
