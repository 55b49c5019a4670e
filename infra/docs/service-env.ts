import { ENV, SERVICE_NAMES, SERVICES } from '../contract/index.js';

/**
 * The environment variables of every service, as markdown, straight from the contract the
 * services validate at start-up (docs/service-environment.md is this, rendered).
 */
export function serviceEnvMarkdown(): string {
  const lines = [
    '# Service environment variables',
    '',
    'Rendered from `infra/contract` by `npm run synth`; do not edit by hand. Each service validates these at',
    'start-up and stops with one line naming a missing or malformed variable. The manifests and compose files',
    'supply them from the same contract.',
    '',
  ];
  for (const service of SERVICE_NAMES) {
    const { ports, env } = SERVICES[service];
    const listening = Object.entries(ports)
      .map(([name, port]) => `${name} ${port}`)
      .join(', ');
    lines.push(
      `## ${service}`,
      '',
      `Ports: ${listening}.`,
      '',
      '| variable | required | secret | meaning |',
      '|---|---|---|---|',
    );
    for (const name of env) {
      const spec = ENV[name] as { description: string; optional?: boolean; secret?: boolean };
      lines.push(
        `| \`${name}\` | ${spec.optional ? 'no' : 'yes'} | ${spec.secret ? 'yes' : ''} | ${spec.description.replace(/\|/g, '\\|')} |`,
      );
    }
    lines.push('');
  }
  return lines.join('\n');
}

export const SERVICE_ENV_DOC = 'docs/service-environment.md';
