/**
 * What the endpoints.json of a deployed dev stack (the Compose lane's, the real-pods lane's) shares with the local
 * platform's beyond the addresses: the journeys' echo routes, the JWT key files of the checkout, the operator's
 * certificate files and identity, and the rate limit of the gateway.yaml as rendered for that deployment.
 */
import { join } from 'node:path';
import { parse } from 'yaml';
import { gatewayConfigSchema, MTLS_FILES, operatorSpiffeId } from '../contract/index.js';
import type { Endpoints } from '../local-platform/endpoints.js';
import { ECHO_ROUTES } from '../local-platform/render.js';
import { KEY_FILES, type Platform, component } from '../model/index.js';

type Shared = Pick<
  Endpoints,
  'routes' | 'jwt_private_key_file' | 'jwt_public_key_file' | 'operator_mtls' | 'rate_limit'
>;

export function deployedEndpoints(
  platform: Platform,
  opts: { root: string; operatorDir: string; operator: string; gatewayYaml: 'compose' | 'kubernetes' },
): Shared {
  const gateway = component(platform, 'gateway').configFiles.find((f) => f.name === 'gateway.yaml');
  if (!gateway) throw new Error('the gateway has no gateway.yaml');
  const content = opts.gatewayYaml === 'compose' ? (gateway.composeContent ?? gateway.content) : gateway.content;
  return {
    routes: { echo: ECHO_ROUTES.protected, echo_public: ECHO_ROUTES.public },
    jwt_private_key_file: join(opts.root, KEY_FILES['jwt-private-key']),
    jwt_public_key_file: join(opts.root, KEY_FILES['jwt-public-key']),
    operator_mtls: {
      identity: operatorSpiffeId(opts.operator),
      cert_file: join(opts.operatorDir, MTLS_FILES.cert),
      key_file: join(opts.operatorDir, MTLS_FILES.key),
      ca_file: join(opts.operatorDir, MTLS_FILES.ca),
    },
    rate_limit: gatewayConfigSchema.parse(parse(content)).rate_limit,
  };
}
