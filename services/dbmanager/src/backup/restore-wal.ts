import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import type { BackupStore } from '../storage/object-store.js';
import type { BackupMeta } from './layout.js';
import { keys } from './layout.js';
import type { Reporter } from './progress.js';
import { RestoreError } from './restore-error.js';
import { checkSegmentHeader, parseSegmentName, segmentName } from './wal-names.js';

/** The archived WAL a restore replays: planned without a gap, each segment checked before use. */

const gunzipAsync = promisify(gunzip);

export interface WalPlan {
  readonly segments: string[];
  readonly lastArchivedAt?: Date;
}

/**
 * WAL needed after the backup: every archived segment of its timeline from the one holding the
 * backup's end, without a gap. With a target time, the archive must reach past it.
 */
export async function planWal(store: BackupStore, meta: BackupMeta, targetTime: Date | undefined): Promise<WalPlan> {
  const seg = meta.walSegmentSize;
  const first = parseSegmentName(meta.walEnd, seg).segno;
  const archived = new Map<bigint, Date>();
  // Only the backup's own cluster and timeline: another cluster's segments of the same names live
  // under another system identifier.
  const prefix = keys.walTimeline(meta.db, meta.systemIdentifier, meta.timeline);
  for await (const o of store.list(prefix)) {
    const file = o.key.slice(prefix.length).replace(/\.gz$/, '');
    if (!/^[0-9A-F]{24}$/.test(file)) continue;
    const { timeline, segno } = parseSegmentName(file, seg);
    if (timeline === meta.timeline && segno >= first) archived.set(segno, o.lastModified);
  }
  const segments: string[] = [];
  let lastAt: Date | undefined;
  let n = first;
  while (archived.has(n)) {
    segments.push(segmentName(meta.timeline, n, seg));
    lastAt = archived.get(n);
    n++;
  }
  const beyond = [...archived.keys()].filter((s) => s > n);
  if (beyond.length) {
    throw new RestoreError(
      `the WAL archive of ${meta.db} has a gap: segment ${segmentName(meta.timeline, n, seg)} is missing, so ${beyond.length} later segment(s) cannot be replayed`,
    );
  }
  if (targetTime) {
    if (targetTime.getTime() < Date.parse(meta.startedAt)) {
      throw new RestoreError(
        `target time ${targetTime.toISOString()} is before backup ${meta.name} started (${meta.startedAt}); choose an older backup`,
      );
    }
    if (!lastAt || lastAt < targetTime) {
      throw new RestoreError(
        `the WAL archive of ${meta.db} ends ${lastAt ? `with ${segments.at(-1)} (archived ${lastAt.toISOString()})` : 'at the backup'}, before the target time ${targetTime.toISOString()}: archive WAL first (backup.sh ${meta.db} wal)`,
      );
    }
  }
  return { segments, ...(lastAt ? { lastArchivedAt: lastAt } : {}) };
}

/** Downloads each planned segment, checks its content hash and page header; writes it when asked. */
export async function fetchWal(
  store: BackupStore,
  meta: BackupMeta,
  plan: WalPlan,
  spool: string | undefined,
  report: Reporter,
): Promise<void> {
  let i = 0;
  for (const s of plan.segments) {
    const key = keys.wal(meta.db, meta.systemIdentifier, s);
    const head = await store.head(key);
    if (!head?.metadata.sha256)
      throw new RestoreError(`WAL object ${key} has no recorded sha256; it was not written by the DB manager`);
    let content: Buffer;
    try {
      content = await gunzipAsync(await store.getBuffer(key));
    } catch (e) {
      throw new RestoreError(
        `WAL object ${key} cannot be read back (${(e as Error).message}); it is corrupt or truncated`,
      );
    }
    const sha = createHash('sha256').update(content).digest('hex');
    if (sha !== head.metadata.sha256)
      throw new RestoreError(
        `WAL object ${key} is corrupt: sha256 ${sha.slice(0, 16)}…, recorded ${head.metadata.sha256.slice(0, 16)}…`,
      );
    // The dry run too: each segment must come from the backup's cluster (system identifier).
    const bad = checkSegmentHeader(s, content, meta.walSegmentSize, meta.systemIdentifier);
    if (bad) throw new RestoreError(`WAL object ${key}: ${bad}`);
    if (spool) await writeFile(join(spool, s), content, { mode: 0o600 });
    report.progress('WAL segments verified', ++i, plan.segments.length, 'count');
  }
}
