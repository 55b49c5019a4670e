/** Consul server agent configuration (HCL). */
export function consulHcl(o: {
  readonly bootstrapExpect: number;
  readonly retryJoin: readonly string[];
  /**
   * The subnet whose address the agent binds and advertises (server RPC, Serf): where the container has several
   * private addresses (Compose: one per network), Consul refuses to start without being told which. Absent in
   * Kubernetes, where a pod has one address.
   */
  readonly bindSubnet?: string;
}): string {
  const bind = o.bindSubnet
    ? [
        '# Several networks, several private addresses: server RPC and Serf bind to (and advertise) the one on',
        '# the data network, where Consul itself lives; the HTTP API (client_addr) listens on every network.',
        `bind_addr = "{{ GetPrivateInterfaces | include \\"network\\" \\"${o.bindSubnet}\\" | attr \\"address\\" }}"`,
      ]
    : [];
  return [
    '# Rendered from the Prism platform model; do not edit by hand.',
    'datacenter = "prism"',
    'data_dir = "/consul/data"',
    'server = true',
    `bootstrap_expect = ${o.bootstrapExpect}`,
    'client_addr = "0.0.0.0"',
    ...bind,
    'ui_config { enabled = true }',
    'disable_update_check = true',
    '# Prometheus metrics at /v1/agent/metrics?format=prometheus (kept for a minute between scrapes).',
    'telemetry {',
    '  prometheus_retention_time = "60s"',
    '  disable_hostname = true',
    '}',
    `retry_join = [${o.retryJoin.map((h) => `"${h}"`).join(', ')}]`,
    '',
  ].join('\n');
}
