/**
 * Renders the local (Compose) set-up of the dev stack into deploy/: compose files, config
 * files, `.env.example`, the Traefik overlay and the Makefile's service lists. `--check`
 * writes nothing and fails when a committed file differs from a fresh render.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { pathToFileURL } from 'node:url';
import { renderLocal } from '../compose/index.js';
import { loadStack, StackConfigError } from '../config/index.js';
import { buildPlatform, ModelError } from '../model/index.js';

/** The Compose set-up is the dev environment's: one replica of everything, self-signed TLS. */
export const LOCAL_STACK = 'dev';
/** Traefik's production static configuration (`traefik.yml`) takes this stack's domain. */
export const PRODUCTION_STACK = 'prod';
const STACKS_DIR = 'stacks';

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

function platformOf(name: string) {
  const stack = loadStack(STACKS_DIR, name);
  return buildPlatform(stack.name, stack.config);
}

/** Writes deploy/ from the model (or, with `check`, only reports stale files); returns the exit code. */
export function renderLocalSetup(check = false): number {
  const files = renderLocal(platformOf(LOCAL_STACK), platformOf(PRODUCTION_STACK));
  const stale: string[] = [];
  for (const [path, content] of files) {
    if (read(path) === content) continue;
    if (check) {
      stale.push(path);
      continue;
    }
    mkdirSync(dirname(path), { recursive: true });
    // Scripts keep their execute bit; everything else is plain.
    writeFileSync(path, content, { mode: path.endsWith('.sh') ? 0o755 : 0o644 });
  }
  if (check && stale.length > 0) {
    console.error(`deploy/ differs from the model; run npm run synth:\n  ${stale.join('\n  ')}`);
    return 1;
  }
  console.log(`${check ? 'checked' : 'rendered'} ${files.size} files of the local set-up (stack ${LOCAL_STACK})`);
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    process.exitCode = renderLocalSetup(process.argv.includes('--check'));
  } catch (e) {
    if (e instanceof StackConfigError || e instanceof ModelError) {
      console.error(e.message);
      process.exitCode = 1;
    } else throw e;
  }
}
