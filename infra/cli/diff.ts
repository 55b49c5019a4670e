/**
 * `npm run diff -- <git-ref> [--exit-code]`: renders every environment at the ref and in the working
 * tree and prints the object-level diff (added, removed and changed objects, each change with its
 * field path and old → new value; secret-like values hidden).
 *
 * Exit codes: 0 when the diff ran, whether or not anything changed (a pull-request preview posts the
 * output); with --exit-code, 1 when something changed (a gate); 2 on a usage error, an unknown ref or
 * a failed render.
 */
import { parseArgs } from 'node:util';
import { manifestDiff, RenderError } from '../diff/index.js';

const USAGE = 'usage: npm run diff -- <git-ref> [--exit-code]';

async function main(): Promise<number> {
  let ref: string;
  let exitCode: boolean;
  try {
    const { positionals, values } = parseArgs({
      allowPositionals: true,
      options: { 'exit-code': { type: 'boolean', default: false } },
    });
    if (positionals.length !== 1)
      throw new Error(
        positionals.length === 0 ? 'a git ref is required' : `one git ref expected, got ${positionals.length}`,
      );
    ref = positionals[0]!;
    exitCode = values['exit-code'];
  } catch (e) {
    console.error(`${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  try {
    const result = await manifestDiff(process.cwd(), ref);
    console.log(result.report);
    return result.changed && exitCode ? 1 : 0;
  } catch (e) {
    if (e instanceof RenderError) {
      console.error(`npm run diff: ${e.message}`);
      return 2;
    }
    throw e;
  }
}

process.exitCode = await main();
