import { createSocket } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { hostname, networkInterfaces } from 'node:os';
import { HEALTH_PATHS } from '#contract';
import type { Logger } from './logger.js';

export interface ConsulRegistration {
  /** Consul agent HTTP `host:port` (PRISM_CONSUL_ADDRESS). */
  readonly address: string;
  /** The service's own ACL token (PRISM_CONSUL_TOKEN): Consul denies by default, so without it nothing registers. */
  readonly token?: string;
  readonly service: string;
  /**
   * The address Consul and other services reach this instance at; defaults to this host's source address toward
   * the Consul agent (the pod IP; of a container on several networks, its address on the one it shares with
   * Consul), else the first non-loopback IPv4 address.
   */
  readonly host?: string;
  /** The service's main port (HTTP or gRPC). */
  readonly port: number;
  /** The metrics port: Consul's HTTP check calls /health/ready there. */
  readonly metricsPort: number;
  readonly tags?: readonly string[];
}

/**
 * Registers the instance and an HTTP health check on `/health/ready` with the local Consul
 * agent, retrying in the background while Consul is unreachable: a service never fails to start
 * or stop because of Consul. Returns a function that deregisters it.
 */
export function registerWithConsul(reg: ConsulRegistration, log: Logger): () => Promise<void> {
  const id = `${reg.service}-${hostname()}-${reg.port}`;
  const base = `http://${reg.address}/v1/agent/service`;
  const registration = (host: string) =>
    JSON.stringify({
      ID: id,
      Name: reg.service,
      Address: host,
      Port: reg.port,
      Tags: reg.tags ?? [],
      Meta: { metrics_port: String(reg.metricsPort) },
      Check: {
        CheckID: `${id}-ready`,
        Name: `${reg.service} readiness`,
        HTTP: `http://${host}:${reg.metricsPort}${HEALTH_PATHS.ready}`,
        Interval: '10s',
        Timeout: '2s',
        DeregisterCriticalServiceAfter: '1m',
      },
    });
  const auth: Record<string, string> = reg.token ? { 'x-consul-token': reg.token } : {};
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let attempt = 0;
  const register = async (): Promise<void> => {
    try {
      const host = reg.host ?? (await addressToward(reg.address)) ?? ownAddress();
      const res = await fetch(`${base}/register`, {
        method: 'PUT',
        body: registration(host),
        headers: { 'content-type': 'application/json', ...auth },
        signal: AbortSignal.timeout(3_000),
      });
      if (!res.ok) throw new Error(`HTTP ${res.status}: ${(await res.text()).slice(0, 200)}`);
      log.info({ consul: reg.address, id, host }, 'registered with Consul');
    } catch (e) {
      const delay = Math.min(30_000, 1_000 * 2 ** attempt++);
      log.warn(
        { consul: reg.address, err: (e as Error).message, retryInMs: delay },
        'Consul registration failed; retrying',
      );
      if (!stopped) timer = setTimeout(() => void register(), delay).unref();
    }
  };
  void register();
  return async () => {
    stopped = true;
    clearTimeout(timer);
    try {
      const res = await fetch(`${base}/deregister/${encodeURIComponent(id)}`, {
        method: 'PUT',
        headers: auth,
        signal: AbortSignal.timeout(2_000),
      });
      if (!res.ok) throw new Error(`HTTP ${res.status}: ${(await res.text()).slice(0, 200)}`);
      log.info({ id }, 'deregistered from Consul');
    } catch (e) {
      log.warn({ err: (e as Error).message }, 'Consul deregistration failed');
    }
  };
}

/**
 * The local address of the route to the Consul agent (a connected UDP socket sends nothing): the first interface's
 * address was the wrong one for a Compose container on four networks, where it registered its observability
 * address, a network Consul is not on. Undefined while Consul's name does not resolve.
 */
async function addressToward(consul: string): Promise<string | undefined> {
  const { hostname: name, port } = new URL(`http://${consul}`);
  try {
    const { address } = await lookup(name, { family: 4 });
    const socket = createSocket('udp4');
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        // Any port: connecting a UDP socket only asks the kernel for the route (the address always has one).
        socket.connect(Number(port) || 9, address, resolve);
      });
      return socket.address().address;
    } finally {
      socket.close();
    }
  } catch {
    return undefined;
  }
}

/** The first non-internal IPv4 address (a pod or container has one), else the host name. */
function ownAddress(): string {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return hostname();
}
