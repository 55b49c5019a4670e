import type { ServiceName } from './services.js';

/**
 * Consul's ACLs (default deny): who holds which token, and what each token may do. The token SecretIDs are
 * generated secrets (UUIDs, as Consul requires of a SecretID), created in Consul by the set-up task with the
 * management token; the policies are rendered from here into that task's files.
 */

/** The management token: Consul's own `initial_management` (and its agent token); the set-up task uses it. */
export const CONSUL_MANAGEMENT_TOKEN = 'consul-management-token';

/** Each registering service's token: registers, checks and deregisters that service's name, nothing else. */
export const CONSUL_SERVICE_TOKENS = {
  gateway: 'consul-gateway-token',
  auth: 'consul-auth-token',
  config: 'consul-config-token',
  dbmanager: 'consul-dbmanager-token',
} as const satisfies Record<ServiceName, string>;

/** Prometheus's token for /v1/agent/metrics (which needs agent:read of the agent's node, any name). */
export const CONSUL_METRICS_TOKEN = 'consul-metrics-token';

/** A Consul ACL policy: its name and rules (HCL). */
export interface ConsulPolicy {
  readonly name: string;
  readonly rules: string;
}

/**
 * A service's policy. Consul 1.20 (tested: test/consul/acl.test.ts) needs service:write on the name for the agent's
 * register and deregister endpoints, the HTTP check included; the agent's anti-entropy sync uses the same token.
 */
export const consulServicePolicy = (service: ServiceName): ConsulPolicy => ({
  name: `prism-service-${service}`,
  rules: `service "${service}" {\n  policy = "write"\n}\n`,
});

/** Prometheus's policy: /v1/agent/metrics checks agent:read on the serving agent's node name. */
export const CONSUL_METRICS_POLICY: ConsulPolicy = {
  name: 'prism-metrics',
  rules: 'agent_prefix "" {\n  policy = "read"\n}\n',
};
