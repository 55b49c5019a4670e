/**
 * Writes the running Compose dev stack's endpoints.json (scripts/compose-run.sh up): the local platform's format,
 * with the addresses the host reaches through the published ports. Usage: compose-endpoints.ts <file>
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { composeEndpoints } from '../compose/endpoints.js';
import { loadStack } from '../config/index.js';
import { buildPlatform } from '../model/index.js';

const file = process.argv[2];
if (!file) {
  console.error('usage: compose-endpoints.ts <file>');
  process.exit(2);
}
const root = resolve(import.meta.dirname, '../..');
const endpoints = composeEndpoints(buildPlatform('dev', loadStack(`${root}/stacks`, 'dev').config), root);
mkdirSync(dirname(file), { recursive: true });
writeFileSync(file, `${JSON.stringify(endpoints, null, 2)}\n`);
