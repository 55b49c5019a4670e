export * from './types.js';
export * from './platform.js';
export { headless } from './components/common.js';
export * from './local-files.js';
export { alertingSecretKeys } from './files/alertmanager.js';
export { alloyDockerConfig, alloyKubernetesConfig } from './files/alloy.js';
export { minioSetupScript } from './files/minio-setup.js';
export { FORMAT_PARAM_ANNOTATION } from './files/prometheus.js';
export { toYaml } from './files/yaml.js';
