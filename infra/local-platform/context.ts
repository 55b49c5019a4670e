import { join } from 'node:path';
import { loadStack } from '../config/index.js';
import { buildPlatform, component, type Component, type Platform } from '../model/index.js';
import type { ProcessState } from './launcher.js';
import type { Layout } from './layout.js';
import { checkPrerequisites, type Prerequisites } from './prerequisites.js';
import type { RunningProcess } from './processes.js';
import type { RenderContext } from './render.js';
import { ensureSecrets } from './secrets.js';

/** The local platform runs the dev stack, as Compose does. */
export const LOCAL_STACK = 'dev';

/** What starting or addressing a component of one local platform needs. */
export interface PlatformContext {
  readonly repoRoot: string;
  readonly platform: Platform;
  readonly layout: Layout;
  readonly render: RenderContext;
  readonly prereq: Prerequisites;
  /** The base environment of every process: only what a container would have, no inherited secrets or PRISM_* from the caller's shell. */
  readonly nodeEnv: Record<string, string>;
}

export function baseEnv(): Record<string, string> {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', LANG: 'C.UTF-8' };
}

/** A component's HTTP port speaks TLS when the model switches it on (the local CA's certificates name 127.0.0.1). */
export function httpScheme(platform: Platform, name: string): 'http' | 'https' {
  const tls = component(platform, name as Component['name']).env.PRISM_TLS_ENABLED;
  return tls && 'value' in tls && tls.value === 'true' ? 'https' : 'http';
}

/** What the state file of a local platform records besides its processes. */
export interface PlatformState extends ProcessState {
  readonly gateways: number;
  /** The process that restarts the others when they die (supervisor.ts). */
  supervisor?: RunningProcess;
  /** Restarts so far, by process name (crashes and `local:restart`). */
  restarts?: Record<string, number>;
}

/** The context of a running platform, from its state (its ports) and the checkout's dev stack. */
export function attachContext(repoRoot: string, l: Layout, state: PlatformState): PlatformContext {
  const stack = loadStack(join(repoRoot, 'stacks'), LOCAL_STACK);
  const platform = buildPlatform(stack.name, stack.config);
  const render = { platform, ports: state.ports, layout: l, secrets: ensureSecrets(l), gateways: state.gateways };
  return { repoRoot, platform, layout: l, render, prereq: checkPrerequisites(), nodeEnv: baseEnv() };
}
