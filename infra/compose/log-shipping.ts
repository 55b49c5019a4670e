import { PORTS } from '../contract/index.js';
import { type Platform, imageRef, portNumber, OBSERVABILITY_IMAGES, alloyDockerConfig } from '../model/index.js';
import { literal } from './env.js';
import { httpCheckCommand } from './images.js';
import { PROJECT_NAME, fromProjectDir } from './layout.js';
import { NETWORK_NAMES } from './networks.js';
import { dockerMemory } from './service.js';
import type { ComposeService } from './types.js';

/**
 * Grafana Alloy for Compose: every container of the project, read through the Docker API and
 * pushed to Loki with the labels the Kubernetes shipper gives (namespace, pod, container, app,
 * level). Kubernetes runs it as a DaemonSet (infra/k8s/log-shipping.ts) instead.
 */
export const ALLOY_SERVICE = 'alloy';
export const ALLOY_CONFIG_FILE = 'deploy/alloy/config.alloy';
const CONFIG_DIR = '/etc/alloy';
const DOCKER_SOCKET = '/var/run/docker.sock';

export function alloyConfig(platform: Platform): string {
  return alloyDockerConfig({
    project: PROJECT_NAME,
    dockerHost: `unix://${DOCKER_SOCKET}`,
    lokiPushUrl: `http://loki:${portNumber(platform, 'loki', 'http')}/loki/api/v1/push`,
  });
}

/**
 * Deliberate exception: the Docker socket is root's (0660 root:docker), so Alloy runs as UID 0,
 * with every capability dropped, a read-only root and the socket mounted read-only. The socket
 * is still the Docker API: this is local development only, and the only network Alloy joins is
 * the observability one (Loki).
 */
export function alloyService(): ComposeService {
  const image = OBSERVABILITY_IMAGES.alloy;
  return {
    image: imageRef(image),
    container_name: ALLOY_SERVICE,
    command: ['run', `${CONFIG_DIR}/config.alloy`, `--server.http.listen-addr=127.0.0.1:${PORTS.alloy}`, '--storage.path=/var/lib/alloy/data', '--disable-reporting'],
    networks: [NETWORK_NAMES.observability],
    depends_on: { loki: { condition: 'service_healthy' } },
    healthcheck: {
      test: httpCheckCommand(image, `http://127.0.0.1:${PORTS.alloy}/-/ready`).map(literal),
      interval: '10s',
      timeout: '3s',
      retries: 3,
      start_period: '10s',
    },
    volumes: [`${fromProjectDir('deploy/alloy')}:${CONFIG_DIR}:ro`, `${DOCKER_SOCKET}:${DOCKER_SOCKET}:ro`, 'alloy-data:/var/lib/alloy/data'],
    user: '0:0',
    read_only: true,
    tmpfs: [`/tmp:size=${dockerMemory('64Mi')},mode=1777`],
    cap_drop: ['ALL'],
    security_opt: ['no-new-privileges:true'],
    mem_limit: dockerMemory('256Mi'),
    mem_reservation: dockerMemory('64Mi'),
    cpus: 0.25,
    stop_grace_period: '30s',
    restart: 'unless-stopped',
    // Not a component of the model: the log shipper, as the DaemonSet is in Kubernetes.
    labels: { 'io.prism.component': ALLOY_SERVICE, 'io.prism.layer': 'observability', 'io.prism.kind': 'log-shipper' },
  };
}
