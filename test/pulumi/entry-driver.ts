/**
 * Loads the Pulumi program the way the Pulumi Node.js language host does with this project's
 * Pulumi.yaml (`node <runtime.options.nodeargs>`, dynamic import of `main`, call of the default
 * export), against Pulumi's mock monitor. Prints the stack outputs, what was registered, and which
 * files of @pulumi/docker the process loaded (recorded by a module hook, for ESM and require alike).
 * Usage: node --import tsx test/pulumi/entry-driver.ts <stack> [<JSON object of config overrides>]
 */
import { readFileSync } from 'node:fs';
import * as nodeModule from 'node:module';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as pulumi from '@pulumi/pulumi';
import { parse } from 'yaml';
import { mockStack, stackFileConfig } from './harness.js';

// Synchronous module hooks (Node >= 22.15), newer than the installed @types/node.
type Resolve = (specifier: string, context: object) => { url: string };
const { registerHooks } = nodeModule as unknown as {
  registerHooks: (h: { resolve(s: string, c: object, next: Resolve): { url: string } }) => void;
};
const dockerFiles = new Set<string>();
registerHooks({
  resolve(specifier, context, nextResolve) {
    const r = nextResolve(specifier, context);
    if (r.url.includes('/node_modules/@pulumi/docker/')) dockerFiles.add(r.url);
    return r;
  },
});

const stack = process.argv[2] ?? 'dev';
const overrides = JSON.parse(process.argv[3] ?? '{}') as Record<string, string>;
const project = parse(readFileSync('Pulumi.yaml', 'utf8')) as { main: string; stackConfigDir: string };
const mock = await mockStack(stack, {
  ...stackFileConfig(`${project.stackConfigDir}/Pulumi.${stack}.yaml`),
  ...overrides,
});
const program = (await import(pathToFileURL(resolve(project.main)).href)) as { default: () => Record<string, unknown> };
const outputs = await new Promise<Record<string, unknown>>((done) =>
  pulumi.output(program.default()).apply((o) => done(o as Record<string, unknown>)),
);
// The outputs do not depend on every object; wait (bounded) until all of them reached the monitor.
const objects = () => mock.registrations.filter((r) => r.type.startsWith('kubernetes:')).length;
for (let i = 0; i < 200 && objects() < Number(outputs.objects); i++) await new Promise((r) => setTimeout(r, 25));
console.log(JSON.stringify({ outputs, types: mock.registrations.map((r) => r.type), dockerFiles: [...dockerFiles] }));
