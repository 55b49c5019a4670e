import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { requiredEnv, SERVICE_NAMES, SERVICES } from '../../infra/contract/index.js';
import { SERVICE_ENV_DOC, serviceEnvMarkdown } from '../../infra/docs/service-env.js';

describe('the service environment document', () => {
  it('is committed as rendered from the contract', () => {
    expect(readFileSync(SERVICE_ENV_DOC, 'utf8')).toBe(serviceEnvMarkdown());
  });

  it('lists every variable of every service, with the required ones marked', () => {
    const doc = serviceEnvMarkdown();
    for (const s of SERVICE_NAMES) {
      const section = doc.split(`## ${s}\n`)[1]!.split('\n## ')[0]!;
      for (const name of SERVICES[s].env) expect(section).toContain(`| \`${name}\` |`);
      for (const name of requiredEnv(s)) expect(section).toMatch(new RegExp(`\\| \`${name}\` \\| yes \\|`));
    }
  });
});
