/**
 * The example upstream of the local platform (infra/local-platform/echo-server.ts) for the Compose lane
 * (scripts/compose-run.sh up): the dev stack routes only /api/auth, so the journeys' protected and public routes
 * need an upstream, as `npm run local:up` gives them. Writes into <dir> a Compose override adding the `echo`
 * service (the gateway image's node running the same file, on the backend network) and the gateway.yaml the
 * gateway then mounts: the model's, with the two echo routes added (ECHO_ROUTES). The committed Compose files
 * are unchanged. Usage: compose-echo.ts <dir>
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { loadStack } from '../config/index.js';
import { ECHO } from '../local-platform/render.js';
import { buildPlatform, toYaml } from '../model/index.js';
import { ECHO_PORT, gatewayYamlWithEcho } from './echo-gateway.js';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: compose-echo.ts <dir>');
  process.exit(2);
}
const root = resolve(import.meta.dirname, '../..');
const platform = buildPlatform('dev', loadStack(`${root}/stacks`, 'dev').config);
mkdirSync(join(dir, 'gateway'), { recursive: true });
writeFileSync(
  join(dir, 'gateway', 'gateway.yaml'),
  gatewayYamlWithEcho(platform, 'compose', `http://${ECHO}:${ECHO_PORT}`),
);

const compose = parse(readFileSync(join(root, 'deploy/docker-compose/docker-compose.yml'), 'utf8')) as {
  services: Record<string, { image: string; volumes: string[] }>;
};
const gateway = compose.services.gateway!;
const mount = gateway.volumes.find((v) => v.split(':')[1] === '/etc/prism/gateway');
if (!mount) throw new Error('the gateway mounts no /etc/prism/gateway');
const probe = `fetch('http://127.0.0.1:${ECHO_PORT}/').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))`;
const override = {
  services: {
    [ECHO]: {
      image: gateway.image,
      container_name: ECHO,
      // Node 24 runs the TypeScript file as it is (type stripping); bound to every address of its container.
      entrypoint: ['/usr/bin/tini', '--', 'node', '/opt/echo/echo-server.ts', String(ECHO_PORT), '0.0.0.0'],
      volumes: [`${join(root, 'infra/local-platform/echo-server.ts')}:/opt/echo/echo-server.ts:ro`],
      networks: ['prism-backend'],
      user: '10001:10001',
      read_only: true,
      cap_drop: ['ALL'],
      security_opt: ['no-new-privileges:true'],
      healthcheck: { test: ['CMD', 'node', '-e', probe], interval: '5s', timeout: '3s', retries: 3 },
    },
    // The same target as the committed mount: Compose's merge replaces it by this directory.
    gateway: { volumes: [`${join(resolve(dir), 'gateway')}:/etc/prism/gateway:ro`] },
  },
};
writeFileSync(join(dir, 'echo.override.yml'), toYaml(override));
