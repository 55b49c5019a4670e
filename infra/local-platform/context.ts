import { component, type Component, type Platform } from '../model/index.js';
import type { Layout } from './layout.js';
import type { Prerequisites } from './prerequisites.js';
import type { RenderContext } from './render.js';

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
