import { type LogShipper, type Platform, imageRef, alloyDockerConfig, resolveRef } from '../model/index.js';
import { PROJECT_NAME, fromProjectDir } from './layout.js';
import { NETWORK_NAMES } from './networks.js';
import { dockerCpus, dockerMemory, probeHealthcheck } from './service.js';
import type { ComposeService } from './types.js';

/**
 * The model's log shipper for Compose: every container of the project, read through the Docker API
 * and pushed to Loki with the labels the Kubernetes shipper gives (namespace, pod, container, app,
 * level). Kubernetes runs it as a DaemonSet (infra/k8s/log-shipping.ts) instead.
 */
export const DOCKER_SOCKET = '/var/run/docker.sock';
/**
 * The engine's socket on the host, mounted at DOCKER_SOCKET in the container: `.env` names it (rootless Docker and
 * Podman keep theirs elsewhere), and the Docker default stands when it is unset.
 */
export const DOCKER_SOCKET_VARIABLE = 'DOCKER_SOCKET';
const configDir = (shipper: LogShipper): string => `deploy/${shipper.name}`;
export const logShipperConfigFile = (shipper: LogShipper): string => `${configDir(shipper)}/${shipper.configFile}`;

export function logShipperConfig(platform: Platform, shipper: LogShipper): string {
  return alloyDockerConfig({
    project: PROJECT_NAME,
    dockerHost: `unix://${DOCKER_SOCKET}`,
    lokiPushUrl: resolveRef(platform, shipper.loki),
  });
}

/**
 * Deliberate exception: the Docker socket is root's (0660 root:docker), so the shipper runs as UID 0,
 * with every capability dropped, a read-only root and the socket mounted read-only. The socket
 * is still the Docker API: this is local development only, and the only network it joins is
 * the observability one (Loki).
 */
export function logShipperService(shipper: LogShipper): ComposeService {
  const portOf = (name: string) => {
    if (name !== shipper.port.name) throw new Error(`compose renderer: the log shipper has no port named ${name}`);
    return shipper.port.port;
  };
  return {
    image: imageRef(shipper.image),
    container_name: shipper.name,
    // Checked from inside the container only.
    command: [...shipper.args, `${shipper.listenFlag}=127.0.0.1:${shipper.port.port}`],
    networks: [NETWORK_NAMES.observability],
    depends_on: { [shipper.loki.component]: { condition: 'service_healthy' } },
    healthcheck: probeHealthcheck(shipper.name, shipper.image, portOf, shipper.readiness, shipper.liveness),
    volumes: [
      `${fromProjectDir(configDir(shipper))}:${shipper.configDir}:ro`,
      `\${${DOCKER_SOCKET_VARIABLE}:-${DOCKER_SOCKET}}:${DOCKER_SOCKET}:ro`,
      `${shipper.name}-data:${shipper.storagePath}`,
    ],
    user: '0:0',
    read_only: true,
    tmpfs: [`/tmp:size=${dockerMemory(shipper.tmpSize)},mode=1777`],
    cap_drop: ['ALL'],
    security_opt: ['no-new-privileges:true'],
    mem_limit: dockerMemory(shipper.resources.limits.memory),
    mem_reservation: dockerMemory(shipper.resources.requests.memory),
    cpus: dockerCpus(shipper.resources.limits.cpu),
    stop_grace_period: '30s',
    restart: 'unless-stopped',
    labels: { 'io.prism.component': shipper.name, 'io.prism.layer': 'observability', 'io.prism.kind': 'log-shipper' },
  };
}
