/** Writes docs rendered from the contract; `--check` fails when the committed copy is stale. */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { pathToFileURL } from 'node:url';
import { SERVICE_ENV_DOC, serviceEnvMarkdown } from '../docs/service-env.js';

/** Writes docs/service-environment.md (or, with `check`, only reports it stale); returns the exit code. */
export function renderDocs(check = false): number {
  const content = serviceEnvMarkdown();
  let current: string | undefined;
  try {
    current = readFileSync(SERVICE_ENV_DOC, 'utf8');
  } catch {
    current = undefined;
  }
  if (current === content) return 0;
  if (check) {
    console.error(`${SERVICE_ENV_DOC} is stale: run npm run synth`);
    return 1;
  }
  mkdirSync(dirname(SERVICE_ENV_DOC), { recursive: true });
  writeFileSync(SERVICE_ENV_DOC, content);
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = renderDocs(process.argv.includes('--check'));
}
