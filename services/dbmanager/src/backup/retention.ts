import type { DatabaseId } from '../../../../infra/contract/index.js';
import type { EngineContext } from './basebackup.js';
import { keys } from './layout.js';

export interface PruneResult {
  readonly expired: readonly string[];
  readonly kept: readonly string[];
  readonly walDeleted: number;
}

/**
 * Deletes base backups older than the retention period, never the newest chain (so there is always
 * something to restore) nor a backup a kept delta depends on, then the WAL older than the oldest
 * kept backup. Catalog rows stay, marked expired, as the history of what existed.
 */
export async function pruneBackups(ctx: EngineContext, db: DatabaseId, retentionDays: number, now = new Date()): Promise<PruneResult> {
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

  let walDeleted = 0;
  const oldestKept = bases.filter((r) => keep.has(r.name)).map((r) => r.wal_start).filter((w): w is string => !!w).sort()[0];
  if (oldestKept) {
    const old: string[] = [];
    for await (const o of ctx.store.list(keys.walPrefix(db))) {
      const file = o.key.slice(keys.walPrefix(db).length).replace(/\.gz$/, '');
      if (/^[0-9A-F]{24}$/.test(file) && file < oldestKept) old.push(o.key);
    }
    await ctx.store.delete(old);
    await ctx.catalog.forgetWalSegments(db, old.map((k) => k.slice(keys.walPrefix(db).length).replace(/\.gz$/, '')));
    walDeleted = old.length;
  }
  if (expired.length || walDeleted) ctx.report.line(`retention (${retentionDays} days): expired ${expired.length} backup(s), deleted ${walDeleted} WAL segment(s)`);
  return { expired, kept: [...keep], walDeleted };
}
