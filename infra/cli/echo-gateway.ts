/**
 * The gateway.yaml with the local platform's two example routes (ECHO_ROUTES) added, for the lanes that run the
 * journeys against a deployed stack (Compose: compose-echo.ts; the real-pods lane: cluster-echo.ts). The dev stack
 * routes only /api/auth; the echo routes are plain HTTP, taking the model's route settings but not its CA file or
 * upstream identity (as local:up).
 */
import { parse } from 'yaml';
import { gatewayConfigSchema, type GatewayConfigInput } from '../contract/index.js';
import { ECHO_ROUTES } from '../local-platform/render.js';
import { type Platform, component, toYaml } from '../model/index.js';

/** The port the echo upstream listens on in the lanes' containers and pods (its own network namespace there). */
export const ECHO_PORT = 8080;

export function gatewayYamlWithEcho(platform: Platform, content: 'compose' | 'kubernetes', upstream: string): string {
  const file = component(platform, 'gateway').configFiles.find((f) => f.name === 'gateway.yaml');
  if (!file) throw new Error('the model has no gateway.yaml');
  const doc = parse(content === 'compose' ? (file.composeContent ?? file.content) : file.content) as GatewayConfigInput;
  const { ca_file: _caFile, server_identity: _identity, ...template } = doc.routes[0]!;
  const routes = [
    ...doc.routes,
    { ...template, prefix: ECHO_ROUTES.protected, upstream, rewrite: '/', auth_required: true, retries: 0 },
    { ...template, prefix: ECHO_ROUTES.public, upstream, rewrite: '/', auth_required: false, retries: 0 },
  ];
  return toYaml(gatewayConfigSchema.parse({ ...doc, routes }));
}
