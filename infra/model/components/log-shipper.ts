import { PORTS } from '../../contract/index.js';
import type { LogShipper } from '../types.js';
import { OBSERVABILITY_IMAGES } from './observability.js';
import { type BuildContext, httpGet, probe } from './common.js';

const CONFIG_DIR = '/etc/alloy';
const STORAGE_PATH = '/var/lib/alloy/data';

/**
 * Grafana Alloy, shipping every container's log lines to Loki with the same labels in both renderers:
 * a DaemonSet tailing each node's pod log files in Kubernetes (Promtail, its predecessor, reached end
 * of life on 2026-03-02), one container reading the Docker API in Compose. Both need root (the node's
 * log files, the Docker socket), so it is not a component of the restricted namespace.
 */
export function logShipper(ctx: BuildContext): LogShipper {
  return {
    name: 'alloy',
    image: OBSERVABILITY_IMAGES.alloy,
    port: { name: 'http', port: PORTS.alloy },
    configDir: CONFIG_DIR,
    configFile: 'config.alloy',
    storagePath: STORAGE_PATH,
    args: [
      'run',
      `${CONFIG_DIR}/config.alloy`,
      // Read positions survive restarts, so no line is shipped twice or skipped.
      `--storage.path=${STORAGE_PATH}`,
      // No usage reports to Grafana Labs (the network policy would drop them anyway).
      '--disable-reporting',
    ],
    listenFlag: '--server.http.listen-addr',
    // Its HTTP port accepts connections: the process is not wedged. Not /-/healthy: that turns 500 while a component
    // is unhealthy (Loki unreachable, say), and a restart mends none of that while it stops the pipelines that work
    // (Alloy's HTTP endpoint reference says so). Not /-/ready either: the same check as readiness (kube-score).
    liveness: probe({ tcp: { port: 'http' } }, 10, 15),
    readiness: probe(httpGet('/-/ready', 'http'), 5, 10),
    resources: ctx.config.resources.logShipper,
    tmpSize: '64Mi',
    loki: { component: 'loki', port: 'http', scheme: 'http', path: '/loki/api/v1/push' },
  };
}
