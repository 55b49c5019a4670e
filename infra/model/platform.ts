import { ENV, requiredEnv, type EnvName, type ServiceName } from '../contract/index.js';
import type { StackConfig } from '../config/index.js';
import { type BuildContext, refAddress } from './components/common.js';
import { dataComponents } from './components/data.js';
import { edge, edgeProxy } from './components/edge.js';
import { logShipper } from './components/log-shipper.js';
import { observabilityComponents } from './components/observability.js';
import { auth, config, dbmanager, gateway } from './components/services.js';
import type { Component, ComponentName, ComponentRef, Flow, Image, Platform } from './types.js';

export const NAMESPACE = 'prism';

/**
 * The mesh CA: five years, renewed a year ahead with the same key (rotationPolicy Never, see
 * infra/k8s/mesh-ca.ts), so certificates issued before and after a renewal verify against either copy.
 * Workload certificates live 90 days and are renewed 30 days ahead, without a restart. Its key lives in
 * cert-manager's namespace under a name of the environment's own (environments may share a cluster).
 */
function meshCa(ctx: BuildContext): Platform['mtls'] {
  const { certManager } = ctx.config;
  return {
    name: `${ctx.namespace}-${ctx.environment}-mesh-ca`,
    certManagerNamespace: certManager.namespace,
    certManagerServiceAccount: certManager.controllerServiceAccount,
    caDuration: '43800h',
    caRenewBefore: '8760h',
    certificateDuration: '2160h',
    certificateRenewBefore: '720h',
    operatorCertificateMaxDuration: '24h',
  };
}

/** Builds the whole platform of one environment from its validated stack configuration. */
export function buildPlatform(environment: string, stackConfig: StackConfig, namespace = NAMESPACE): Platform {
  const ctx: BuildContext = { environment, namespace, config: stackConfig };
  const services = [gateway(ctx), auth(ctx), config(ctx), dbmanager(ctx)];
  const data = dataComponents(ctx);
  const observability = stackConfig.observability.enabled ? observabilityComponents(ctx, [...services, ...data]) : [];
  const e = edge(ctx);
  const platform: Platform = {
    environment,
    namespace,
    mtls: meshCa(ctx),
    apiServer: stackConfig.cluster.apiServer,
    imagePullPolicy: stackConfig.images.pullPolicy,
    components: [...services, ...data, ...observability, edgeProxy(ctx, e)],
    edge: e,
    ...(stackConfig.observability.enabled ? { logShipper: logShipper(ctx) } : {}),
  };
  checkPlatform(platform);
  return platform;
}

export class ModelError extends Error {
  override name = 'ModelError';
}

export function component(platform: Platform, name: ComponentName): Component {
  const c = platform.components.find((x) => x.name === name);
  if (!c) throw new ModelError(`no component ${name} in ${platform.environment}`);
  return c;
}

/** The port number behind a named port of a component. */
export function portNumber(platform: Platform, to: ComponentName, portName: string): number {
  const p = component(platform, to).ports.find((x) => x.name === portName);
  if (!p) throw new ModelError(`component ${to} has no port named ${portName}`);
  return p.port;
}

/** The reference every renderer writes for an image: `repository:tag`, with `@digest` when one is recorded. */
export function imageRef(image: Image): string {
  return `${image.repository}:${image.tag}${image.digest ? `@${image.digest}` : ''}`;
}

/** The address every renderer writes for a reference (see refAddress). */
export function resolveRef(platform: Platform, r: ComponentRef): string {
  return refAddress(r, portNumber(platform, r.component, r.port));
}

/**
 * The model's own consistency: every flow and reference names a real port, every reference
 * is backed by a declared flow (so network policies allow it), and every Prism service gets
 * exactly the variables its contract declares, secrets by reference only.
 * @public exported for its own table-driven tests (issue 16), beside its use in buildPlatform
 */
export function checkPlatform(platform: Platform): void {
  const problems: string[] = [];
  const names = new Set(platform.components.map((c) => c.name));
  const hasPort = (to: ComponentName, port: string) =>
    platform.components.some((c) => c.name === to && c.ports.some((p) => p.name === port));
  const checkFlows = (owner: string, flows: readonly Flow[]) => {
    for (const f of flows) {
      if (!names.has(f.to)) problems.push(`${owner}: flow to unknown component ${f.to}`);
      else if (!hasPort(f.to, f.port)) problems.push(`${owner}: flow to ${f.to} names unknown port ${f.port}`);
    }
  };
  for (const c of platform.components) {
    checkFlows(c.name, c.flows);
    for (const t of c.tasks) checkFlows(`${c.name}/${t.name}`, t.flows);
    const checkRef = (what: string, r: ComponentRef): boolean => {
      if (!hasPort(r.component, r.port))
        problems.push(`${c.name}: ${what} refers to unknown port ${r.component}/${r.port}`);
      else if (!c.flows.some((f) => f.to === r.component && f.port === r.port))
        problems.push(`${c.name}: ${what} refers to ${r.component}/${r.port} but no flow allows it`);
      else return true;
      return false;
    };
    for (const [name, v] of Object.entries(c.env)) if ('ref' in v) checkRef(name, v.ref);
    for (const f of c.configFiles) {
      for (const r of f.refs ?? []) {
        if (checkRef(f.name, r) && !f.content.includes(resolveRef(platform, r)))
          problems.push(
            `${c.name}: ${f.name} does not contain ${resolveRef(platform, r)}, its reference to ${r.component}/${r.port}`,
          );
      }
    }
    for (const probe of [c.liveness, c.readiness]) {
      const port =
        'http' in probe.action ? probe.action.http.port : 'tcp' in probe.action ? probe.action.tcp.port : undefined;
      if (port && !c.ports.some((p) => p.name === port)) problems.push(`${c.name}: probe uses unknown port ${port}`);
    }
    if (c.metricsPort && !c.ports.some((p) => p.name === c.metricsPort))
      problems.push(`${c.name}: metrics port ${c.metricsPort} is not a port`);
    if (c.apiAccess && !platform.apiServer)
      problems.push(`${c.name}: reads the Kubernetes API but the stack sets no cluster.apiServer`);
    if (c.contract) problems.push(...checkContract(c));
  }
  const shipped = platform.logShipper?.loki;
  if (shipped && !hasPort(shipped.component, shipped.port))
    problems.push(`log shipper: pushes to unknown port ${shipped.component}/${shipped.port}`);
  // The point of a ClusterIssuer's CA Secret in cert-manager's namespace: never where the workloads and their readers are.
  if (platform.mtls.certManagerNamespace === platform.namespace)
    problems.push(
      `certManager.namespace is the application namespace ${platform.namespace}: the mesh CA key must live outside it`,
    );
  if (problems.length > 0)
    throw new ModelError(`platform model of ${platform.environment} is inconsistent:\n  - ${problems.join('\n  - ')}`);
}

function checkContract(c: Component): string[] {
  const problems: string[] = [];
  const declared = new Set<string>(c.contract);
  for (const name of requiredEnv(c.name as ServiceName)) {
    if (!(name in c.env)) problems.push(`${c.name}: required variable ${name} is not supplied`);
  }
  for (const [name, v] of Object.entries(c.env)) {
    if (!declared.has(name)) {
      problems.push(`${c.name}: ${name} is not in the service's contract`);
      continue;
    }
    const spec = ENV[name as EnvName];
    if ('secret' in spec && spec.secret && !('secret' in v))
      problems.push(`${c.name}: ${name} is secret and must be a secret reference`);
  }
  return problems;
}
