/**
 * Writes the real-pods lane's endpoints.json (scripts/cluster-run.sh up): the local platform's format, so the
 * tools and tests written for it run against the cluster. Every address is a name the service's certificate
 * carries, at the Service's own port, so TLS and gRPC clients verify the mesh certificates as in the cluster;
 * the lane maps the names to addresses on the host (its /etc/hosts block): the Services' cluster IPs, which the
 * node reaches through kube-proxy, and for the two gateways one pod each, by two of the names the gateway's
 * certificate carries (two replicas, two ways in). Prints the names to map, one `<kind> <target> <name>` a line
 * (`service <service> <name>`, `pod <deployment> <index> <name>`).
 * Usage: cluster-endpoints.ts <file> <operator certificate dir> <alert sink URL>
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { loadStack } from '../config/index.js';
import type { Endpoints } from '../local-platform/endpoints.js';
import { type ComponentName, type Platform, buildPlatform, component } from '../model/index.js';
import { deployedEndpoints } from './deployed-endpoints.js';

/** The operator identity the lane requests its certificate for (spiffe://prism/operator/cluster-run). */
const LANE_OPERATOR = 'cluster-run';

function clusterEndpoints(platform: Platform, root: string, operatorDir: string, alertSink: string) {
  const names: string[] = [];
  const fqdn = (name: ComponentName) => `${name}.${platform.namespace}.svc.cluster.local`;
  const port = (name: ComponentName, portName: string): number => {
    const p = component(platform, name).ports.find((x) => x.name === portName);
    if (!p) throw new Error(`${name} has no port named ${portName}`);
    return p.port;
  };
  const at = (name: ComponentName, portName: string) => {
    names.push(`service ${name} ${fqdn(name)}`);
    return `${fqdn(name)}:${port(name, portName)}`;
  };
  const gatewayNames = [`gateway.${platform.namespace}`, `gateway.${platform.namespace}.svc`];
  gatewayNames.forEach((n, i) => names.push(`pod gateway ${i} ${n}`));
  // And the gateway's Service, through which kube-proxy spreads requests over the replicas (the resilience check).
  names.push(`service gateway ${fqdn('gateway')}`);
  const endpoints: Endpoints = {
    environment: platform.environment,
    gateways: gatewayNames.map((n) => `https://${n}:${port('gateway', 'http')}`),
    auth: `https://${at('auth', 'http')}`,
    auth_grpc: at('auth', 'grpc'),
    config_grpc: at('config', 'grpc'),
    dbmanager_grpc: at('dbmanager', 'grpc'),
    // Scraped by Prometheus only; the journeys read none.
    metrics: {},
    // Reached through the gateway's routes only (its NetworkPolicy admits the gateway alone).
    echo: '',
    ...deployedEndpoints(platform, { root, operatorDir, operator: LANE_OPERATOR, gatewayYaml: 'kubernetes' }),
    postgres: { auth: at('postgres-auth', 'postgres'), ops: at('postgres-ops', 'postgres') },
    redis: '',
    nats: '',
    nats_monitor: '',
    s3: '',
    s3_console: '',
    tracing_query: `http://${at('jaeger', 'ui')}/api`,
    logs: `kubernetes:${platform.namespace}`,
    // Alloy ships the pods' lines there: the lane deploys with observability.logShipping on (scripts/cluster/stack.sh).
    log_query: `http://${at('loki', 'http')}/loki/api/v1`,
    metrics_query: `http://${at('prometheus', 'http')}/api/v1`,
    // The lane's webhook receiver on the node's address (scripts/cluster/alert-sink.mjs), which Alertmanager notifies.
    alert_sink: alertSink,
  };
  return { endpoints, names: [...new Set(names)] };
}

const [file, operatorDir, alertSink] = process.argv.slice(2);
if (!file || !operatorDir || !alertSink) {
  console.error('usage: cluster-endpoints.ts <file> <operator certificate dir> <alert sink URL>');
  process.exit(2);
}
const root = resolve(import.meta.dirname, '../..');
const { endpoints, names } = clusterEndpoints(
  buildPlatform('dev', loadStack(`${root}/stacks`, 'dev').config),
  root,
  resolve(operatorDir),
  alertSink,
);
mkdirSync(dirname(file), { recursive: true });
writeFileSync(file, `${JSON.stringify(endpoints, null, 2)}\n`);
process.stdout.write(`${names.join('\n')}\n`);
