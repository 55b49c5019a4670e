import type { DatabaseId } from '../../../../infra/contract/index.js';

/**
 * Object storage layout, self-describing so a database can be restored with its catalog lost:
 *   <db>/base/<name>/data.tar.gz       files of a base backup (a delta: only the changed ones)
 *   <db>/base/<name>/backup_manifest   PostgreSQL's manifest (SHA-256 of every file)
 *   <db>/base/<name>/backup.json       written last: kind, parent, WAL range, object checksums
 *   <db>/wal/<segment>.gz              archived WAL; metadata sha256 = of the uncompressed segment
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
  walPrefix: (db: DatabaseId) => `${db}/wal/`,
  wal: (db: DatabaseId, file: string) => `${db}/wal/${file}.gz`,
};

/** `auth-full-20261125T174500123Z`: sortable, unique per millisecond. */
export function backupName(db: DatabaseId, kind: BackupKind, at: Date): string {
  return `${db}-${kind}-${at.toISOString().replace(/[-:.]/g, '')}`;
}

export const BACKUP_NAME = /^(auth|ops)-(full|delta|wal)-\d{8}T\d{9}Z$/;
