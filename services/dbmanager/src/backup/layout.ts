import type { DatabaseId } from '#contract';

/**
 * Object storage layout, self-describing so a database can be restored with its catalog lost:
 *   <db>/base/<name>/data.tar.gz       files of a base backup (a delta: only the changed ones)
 *   <db>/base/<name>/backup_manifest   PostgreSQL's manifest (SHA-256 of every file)
 *   <db>/base/<name>/backup.json       written last: kind, parent, WAL range, object checksums
 *   <db>/wal/<system id>/<timeline>/<segment>.gz   archived WAL (and <timeline>.history files);
 *                                      metadata sha256 = of the uncompressed segment
 * WAL is keyed by the cluster's system identifier and timeline: a rebuilt cluster (a new initdb, a
 * new system identifier) or a restored one (a new timeline) writes beside the old cluster's
 * segments and never over them, though its segment names start again from the same numbers.
 */
export type BackupKind = 'full' | 'delta' | 'wal';

export interface BackupMeta {
  readonly format: 1;
  readonly name: string;
  readonly db: DatabaseId;
  readonly kind: 'full' | 'delta';
  /** The backup a delta applies to (itself a full or a delta). */
  readonly parent?: string;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly timeline: number;
  readonly startLsn: string;
  readonly endLsn: string;
  /** First and last WAL segment the backup needs to be consistent (both inside its pg_wal). */
  readonly walStart: string;
  readonly walEnd: string;
  readonly walSegmentSize: number;
  readonly serverVersion: string;
  readonly systemIdentifier: string;
  readonly databaseBytes: number;
  readonly files: { readonly total: number; readonly stored: number; readonly bytesStored: number };
  /** sha256 and size of every object of the backup but this one. */
  readonly objects: Readonly<Record<string, { readonly sha256: string; readonly size: number }>>;
}

export const keys = {
  base: (db: DatabaseId, name: string) => `${db}/base/${name}/`,
  data: (db: DatabaseId, name: string) => `${db}/base/${name}/data.tar.gz`,
  manifest: (db: DatabaseId, name: string) => `${db}/base/${name}/backup_manifest`,
  meta: (db: DatabaseId, name: string) => `${db}/base/${name}/backup.json`,
  /** All archived WAL of a database, of every cluster. */
  walPrefix: (db: DatabaseId) => `${db}/wal/`,
  /** The WAL of one timeline of one cluster. */
  walTimeline: (db: DatabaseId, systemId: string, timeline: number) =>
    `${db}/wal/${systemIdPath(systemId)}/${timelineHex(timeline)}/`,
  /** A segment (`<tli><log><seg>`) or history file (`<tli>.history`): its timeline is its first 8 digits. */
  wal: (db: DatabaseId, systemId: string, file: string) =>
    `${db}/wal/${systemIdPath(systemId)}/${walFileTimeline(file)}/${file}.gz`,
};

const timelineHex = (timeline: number) => timeline.toString(16).toUpperCase().padStart(8, '0');

function systemIdPath(systemId: string): string {
  if (!/^\d{1,20}$/.test(systemId)) throw new Error(`not a database system identifier: "${systemId}"`);
  return systemId;
}

function walFileTimeline(file: string): string {
  const m = /^([0-9A-F]{8})(?:[0-9A-F]{16}|\.history)$/.exec(file);
  if (!m) throw new Error(`not a WAL segment or history file name: "${file}"`);
  return m[1]!;
}

/** `<system id>/<timeline>/<file>` of a key under keys.walPrefix(db), or undefined for anything else. */
export function parseWalKey(
  db: DatabaseId,
  key: string,
): { systemId: string; timeline: number; file: string } | undefined {
  const m = /^(\d{1,20})\/([0-9A-F]{8})\/([0-9A-F]{24}|[0-9A-F]{8}\.history)\.gz$/.exec(
    key.slice(keys.walPrefix(db).length),
  );
  if (!key.startsWith(keys.walPrefix(db)) || !m || !m[3]!.startsWith(m[2]!)) return undefined;
  return { systemId: m[1]!, timeline: Number.parseInt(m[2]!, 16), file: m[3]! };
}

/** `auth-full-20261125T174500123Z`: sortable, unique per millisecond. */
export function backupName(db: DatabaseId, kind: BackupKind, at: Date): string {
  return `${db}-${kind}-${at.toISOString().replace(/[-:.]/g, '')}`;
}
