/** Writes docs rendered from the contract; `--check` fails when the committed copy is stale. */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { SERVICE_ENV_DOC, serviceEnvMarkdown } from '../docs/service-env.js';

const content = serviceEnvMarkdown();
let current: string | undefined;
try {
  current = readFileSync(SERVICE_ENV_DOC, 'utf8');
} catch {
  current = undefined;
}
if (process.argv.includes('--check')) {
  if (current !== content) {
    console.error(`${SERVICE_ENV_DOC} is stale: run npm run synth`);
    process.exit(1);
  }
} else if (current !== content) {
  mkdirSync(dirname(SERVICE_ENV_DOC), { recursive: true });
  writeFileSync(SERVICE_ENV_DOC, content);
}
