import { HEALTH_PATHS, type SecretKey } from '../../contract/index.js';
import type { StackConfig } from '../../config/index.js';
import type { ComponentName, ComponentRef, EnvValue, Probe, ProbeAction, WritablePath } from '../types.js';

/** Everything a component definition needs to know about the environment. */
export interface BuildContext {
  readonly environment: string;
  readonly namespace: string;
  readonly config: StackConfig;
}

/** The UID/GID every container runs as (restricted profile, and >= 10000 per kube-score/Polaris advice). */
export const RUN_AS = 10001;

export const value = (v: string | number): EnvValue => ({ value: String(v) });
export const secret = (key: SecretKey): EnvValue => ({ secret: key });
/** `host:port`, or a URL when the reference has a scheme. Host names are component names in every renderer. */
export function refAddress(r: ComponentRef, port: number): string {
  const hostPort = `${r.component}:${port}`;
  return r.scheme ? `${r.scheme}://${hostPort}${r.path ?? ''}` : hostPort;
}

export const ref = (
  component: ComponentName,
  port: string,
  extra: Omit<ComponentRef, 'component' | 'port'> = {},
): EnvValue => ({
  ref: { component, port, ...extra },
});

export function probe(
  action: ProbeAction,
  initialDelaySeconds: number,
  periodSeconds: number,
  extra: Partial<Probe> = {},
): Probe {
  return { action, initialDelaySeconds, periodSeconds, timeoutSeconds: 3, failureThreshold: 3, ...extra };
}

export const httpGet = (path: string, port: string): ProbeAction => ({ http: { path, port } });
export const exec = (...command: string[]): ProbeAction => ({ exec: command });

/** The liveness and readiness probes of every Prism service (the guide's, on the metrics port). */
export function serviceProbes(): { liveness: Probe; readiness: Probe } {
  return {
    liveness: probe(httpGet(HEALTH_PATHS.live, 'metrics'), 5, 10),
    readiness: probe(httpGet(HEALTH_PATHS.ready, 'metrics'), 5, 5),
  };
}

/** Requests and limits as `[request, limit]` pairs: the stack config's helper, so defaults read the same everywhere. */

/** Scratch space every container gets: a read-only root filesystem still needs a /tmp. */
export const TMP: WritablePath = { path: '/tmp', size: '256Mi' };

/** The headless Service that gives StatefulSet members stable DNS names. */
export const headless = (name: string): string => `${name}-headless`;
