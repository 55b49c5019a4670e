/**
 * `npm run checklist -- <env> [--json]`: evaluates the deployment guide's production checklist
 * (27 items) against the environment's synthesized objects (in process, no cluster, no network),
 * its stack file, the operations documents and the scheduled jobs. One line per item: met, not
 * met or not applicable, with the evidence.
 *
 * Exit codes: 0 when every item is met or declared not applicable by the stack; 1 when an item is
 * not met; 2 on a usage error or an environment that does not synthesize.
 */
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { environmentApp } from '../k8s/charts/platform.js';
import { evaluateChecklist, formatReport, readChecklistFiles, type ManifestObject } from '../checklist/index.js';
import { listStacks, loadStack, StackConfigError } from '../config/index.js';
import { ModelError } from '../model/index.js';

const USAGE = 'usage: npm run checklist -- <env> [--json]';
const STACKS_DIR = 'stacks';

function main(): number {
  let env: string;
  let json: boolean;
  try {
    const { positionals, values } = parseArgs({
      allowPositionals: true,
      options: { json: { type: 'boolean', default: false } },
    });
    if (positionals.length !== 1)
      throw new Error(
        positionals.length === 0 ? 'an environment is required' : `one environment expected, got ${positionals.length}`,
      );
    env = positionals[0]!;
    json = values.json;
    const known = listStacks(STACKS_DIR);
    if (!known.includes(env)) throw new Error(`unknown environment ${env}; expected one of ${known.join(', ')}`);
  } catch (e) {
    console.error(`${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  try {
    const stack = loadStack(STACKS_DIR, env);
    // Nothing is written: the charts are only turned into objects.
    const { platform, charts } = environmentApp(stack, join(tmpdir(), 'prism-checklist'));
    const objects = charts.flatMap((c) => c.toJson() as ManifestObject[]);
    const report = evaluateChecklist({ stack, platform, objects, files: readChecklistFiles(process.cwd()) });
    process.stdout.write(json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
    return report.ok ? 0 : 1;
  } catch (e) {
    if (e instanceof StackConfigError || e instanceof ModelError) {
      console.error(e.message);
      return 2;
    }
    throw e;
  }
}

process.exitCode = main();
