import type { DatabaseId } from '#contract';
import type { EngineContext } from './basebackup.js';
import { readMeta } from './basebackup.js';
import { keys, parseWalKey } from './layout.js';

export interface PruneResult {
  readonly expired: readonly string[];
  readonly kept: readonly string[];
  readonly walDeleted: number;
}

/**
 * Deletes base backups older than the retention period, never the newest chain (so there is always
 * something to restore) nor a backup a kept delta depends on, then the WAL older than the oldest
 * kept backup. Catalog rows stay, marked expired, as the history of what existed.
 *
 * A delete here only hides an object (a delete marker in the versioned bucket): the backup user
 * cannot remove versions. The store frees the space by its own lifecycle rule, and its object lock
 * keeps every version for the retention period whatever a client asks (the MinIO set-up of the model).
 */
export async function pruneBackups(
  ctx: EngineContext,
  db: DatabaseId,
  retentionDays: number,
  now = new Date(),
): Promise<PruneResult> {
  const cutoff = now.getTime() - retentionDays * 24 * 3600 * 1000;
  const rows = (await ctx.catalog.list(db)).filter((r) => r.status === 'completed');
  const bases = rows.filter((r) => r.kind !== 'wal');
  const byName = new Map(bases.map((r) => [r.name, r]));
  const keep = new Set<string>();
  const keepChain = (name: string | null) => {
    while (name && !keep.has(name)) {
      keep.add(name);
      name = byName.get(name)?.parent ?? null;
    }
  };
  const newest = bases.at(-1);
  if (newest) keepChain(newest.name);
  for (const r of bases) if (r.started_at.getTime() >= cutoff) keepChain(r.name);

  const expired = bases.filter((r) => !keep.has(r.name)).map((r) => r.name);
  for (const name of expired) {
    const objects: string[] = [];
    for await (const o of ctx.store.list(keys.base(db, name))) objects.push(o.key);
    // The metadata object first: a half-deleted backup is then never taken for a whole one.
    await ctx.store.delete(objects.filter((k) => k.endsWith('backup.json')));
    await ctx.store.delete(objects.filter((k) => !k.endsWith('backup.json')));
  }
  const walRuns = rows.filter((r) => r.kind === 'wal' && r.started_at.getTime() < cutoff).map((r) => r.name);
  await ctx.catalog.markExpired([...expired, ...walRuns]);

  // Per cluster (system identifier): WAL before the oldest kept backup of that cluster. A cluster
  // with no kept backup (replaced by a rebuilt one, or new and without its first backup yet) loses
  // only WAL older than the retention period.
  const oldestKept = new Map<string, string>();
  for (const r of bases.filter((b) => keep.has(b.name) && b.wal_start)) {
    const sysid = (await readMeta(ctx.store, db, r.name)).systemIdentifier;
    const before = oldestKept.get(sysid);
    if (!before || r.wal_start! < before) oldestKept.set(sysid, r.wal_start!);
  }
  const old: { key: string; file: string }[] = [];
  for await (const o of ctx.store.list(keys.walPrefix(db))) {
    const k = parseWalKey(db, o.key);
    if (!k || !/^[0-9A-F]{24}$/.test(k.file)) continue;
    const floor = oldestKept.get(k.systemId);
    if (floor === undefined ? o.lastModified.getTime() < cutoff : k.file < floor)
      old.push({ key: o.key, file: k.file });
  }
  await ctx.store.delete(old.map((o) => o.key));
  await ctx.catalog.forgetWalSegments(
    db,
    old.map((o) => o.file),
  );
  const walDeleted = old.length;
  if (expired.length || walDeleted)
    ctx.report.line(
      `retention (${retentionDays} days): expired ${expired.length} backup(s), deleted ${walDeleted} WAL segment(s)`,
    );
  return { expired, kept: [...keep], walDeleted };
}
