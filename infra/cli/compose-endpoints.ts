/**
 * Writes the running Compose dev stack's endpoints.json (scripts/compose-run.sh up): the local platform's format,
 * with the addresses the host reaches through the published ports. Usage: compose-endpoints.ts <file>
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { loadStack } from '../config/index.js';
import type { Endpoints } from '../local-platform/endpoints.js';
import { type ComponentName, MTLS_CERT_DIR, type Platform, buildPlatform, component } from '../model/index.js';
import { PROJECT_NAME } from '../compose/layout.js';
import { deployedEndpoints } from './deployed-endpoints.js';

/**
 * What the running Compose dev stack offers the host, in the local platform's endpoints.json format, so tools
 * and tests written for that run against it: the gateway and auth through the edge (Traefik's published HTTPS
 * port), the gRPC APIs at their published ports, all on 127.0.0.1. The data stores sit on the internal data
 * network and publish nothing: their addresses are empty, as are the metrics (exposed to Prometheus only) and
 * the example upstream (the local platform's alone). The observability file's Jaeger and Loki publish their query
 * APIs. `root` is the checkout (keys/, .secrets/).
 */
function composeEndpoints(platform: Platform, root: string): Endpoints {
  const published = (name: ComponentName, port: string): number => {
    const p = component(platform, name).ports.find((x) => x.name === port);
    if (!p?.publish) throw new Error(`${name} publishes no port named ${port}`);
    return p.port;
  };
  const at = (name: ComponentName, port: string) => `127.0.0.1:${published(name, port)}`;
  const edge = `https://${at('edge', 'websecure')}`;
  return {
    environment: platform.environment,
    // Through the edge, and the gateway's own published port: the same gateway, two ways in.
    gateways: [edge, `https://${at('gateway', 'http')}`],
    auth: edge,
    auth_grpc: at('auth', 'grpc'),
    config_grpc: at('config', 'grpc'),
    dbmanager_grpc: at('dbmanager', 'grpc'),
    metrics: {},
    echo: '',
    ...deployedEndpoints(platform, {
      root,
      operatorDir: join(root, MTLS_CERT_DIR, 'operator'),
      operator: 'local',
      gatewayYaml: 'compose',
    }),
    postgres: { auth: '', ops: '' },
    redis: '',
    nats: '',
    nats_monitor: '',
    s3: '',
    s3_console: '',
    tracing_query: `http://${at('jaeger', 'ui')}/api`,
    // Each service's container log (`docker logs`), and what the log shipper pushed of them to Loki.
    logs: `docker:${PROJECT_NAME}`,
    log_query: `http://${at('loki', 'http')}/loki/api/v1`,
    metrics_query: `http://${at('prometheus', 'http')}/api/v1`,
    // Alertmanager notifies nobody here (the dev stack's receivers: none).
    alert_sink: '',
  };
}

const file = process.argv[2];
if (!file) {
  console.error('usage: compose-endpoints.ts <file>');
  process.exit(2);
}
const root = resolve(import.meta.dirname, '../..');
const endpoints = composeEndpoints(buildPlatform('dev', loadStack(`${root}/stacks`, 'dev').config), root);
mkdirSync(dirname(file), { recursive: true });
writeFileSync(file, `${JSON.stringify(endpoints, null, 2)}\n`);
