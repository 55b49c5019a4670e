import { existsSync } from 'node:fs';
import { relative } from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * The files that take a minute or more each (a CI run, 2026-12-06: 106, 90, 87, 84, 72, 47 and 34 s), slowest first.
 * Vitest orders files by the durations of its previous run; a fresh clone (CI) has none and ran these in glob
 * order, last, so the whole run waited about 50 s on its tail while the other workers stood idle.
 */
const SLOW_FIRST = [
  'test/docs/runbook-local.test.ts',
  'test/local-platform/lifecycle.test.ts',
  'test/local-platform/journeys.test.ts',
  'test/local-platform/two-platforms.test.ts',
  'services/dbmanager/test/cli-and-api.test.ts',
  'services/dbmanager/test/backup-restore.test.ts',
  'test/diff/cli.test.ts',
];
for (const f of SLOW_FIRST) if (!existsSync(f)) throw new Error(`test/support/sequencer.ts names ${f}, which is gone`);

/** Vitest's order (failed first, then longest first where durations are known), with SLOW_FIRST ahead of it. */
export class SlowFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = (f: TestSpecification) => {
      const i = SLOW_FIRST.indexOf(relative(f.project.config.root, f.moduleId));
      return i === -1 ? SLOW_FIRST.length : i;
    };
    return sorted
      .map((f, i) => ({ f, i, r: rank(f) }))
      .sort((a, b) => a.r - b.r || a.i - b.i)
      .map(({ f }) => f);
  }
}
