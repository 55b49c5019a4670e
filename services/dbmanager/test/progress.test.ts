import { describe, expect, it } from 'vitest';
import { lineReporter } from '../src/backup/progress.js';

describe('progress lines', () => {
  it('print bytes as bytes and counted things as counts', () => {
    const lines: string[] = [];
    const r = lineReporter((l) => lines.push(l), 'auth', 0);
    r.progress('read', 1_500_000, 3_000_000);
    r.progress('WAL segments verified', 3, 12, 'count');
    r.progress('WAL segments verified', 12, 12, 'count');
    expect(lines).toEqual([
      '[auth] read: 1.5 MB of 3.0 MB (50%)',
      '[auth] WAL segments verified: 3 of 12 (25%)',
      '[auth] WAL segments verified: 12 of 12 (100%)',
    ]);
  });
});
