import type pg from 'pg';
import type { DatabaseId } from '#contract';
import type { BackupKind } from './layout.js';

/** The backup catalog in prism_ops: what was backed up, when, how big, which WAL, verified or not. */

export interface BackupRow {
  readonly name: string;
  readonly db: DatabaseId;
  readonly kind: BackupKind;
  readonly parent: string | null;
  readonly status: 'running' | 'completed' | 'failed' | 'expired';
  readonly started_at: Date;
  readonly finished_at: Date | null;
  readonly size_bytes: string | null;
  readonly database_bytes: string | null;
  readonly timeline: number | null;
  readonly start_lsn: string | null;
  readonly end_lsn: string | null;
  readonly wal_start: string | null;
  readonly wal_end: string | null;
  readonly storage_prefix: string;
  readonly files_total: number | null;
  readonly files_stored: number | null;
  readonly error: string | null;
}

export interface CompletedFields {
  readonly sizeBytes: number;
  readonly databaseBytes?: number;
  readonly timeline?: number;
  readonly startLsn?: string;
  readonly endLsn?: string;
  readonly walStart?: string;
  readonly walEnd?: string;
  readonly checksums?: Record<string, string>;
  readonly filesTotal?: number;
  readonly filesStored?: number;
}

export interface VerificationRecord {
  readonly backupName: string;
  readonly db: DatabaseId;
  readonly mode: 'dry-run' | 'restore' | 'scheduled';
  readonly targetTime?: Date;
  readonly startedAt: Date;
  readonly ok: boolean;
  readonly details: Record<string, unknown>;
  readonly error?: string;
}

export class BackupCatalog {
  constructor(private readonly pool: pg.Pool) {}

  async begin(row: {
    name: string;
    db: DatabaseId;
    kind: BackupKind;
    parent?: string;
    startedAt: Date;
    storagePrefix: string;
  }): Promise<void> {
    await this.pool.query(
      `INSERT INTO backups (name, db, kind, parent, status, started_at, storage_prefix) VALUES ($1, $2, $3, $4, 'running', $5, $6)`,
      [row.name, row.db, row.kind, row.parent ?? null, row.startedAt, row.storagePrefix],
    );
  }

  async complete(name: string, f: CompletedFields): Promise<void> {
    await this.pool.query(
      `UPDATE backups SET status = 'completed', finished_at = now(), size_bytes = $2, database_bytes = $3, timeline = $4,
         start_lsn = $5, end_lsn = $6, wal_start = $7, wal_end = $8, checksums = $9, files_total = $10, files_stored = $11
       WHERE name = $1`,
      [
        name,
        f.sizeBytes,
        f.databaseBytes ?? null,
        f.timeline ?? null,
        f.startLsn ?? null,
        f.endLsn ?? null,
        f.walStart ?? null,
        f.walEnd ?? null,
        JSON.stringify(f.checksums ?? {}),
        f.filesTotal ?? null,
        f.filesStored ?? null,
      ],
    );
  }

  async fail(name: string, error: string): Promise<void> {
    await this.pool.query(`UPDATE backups SET status = 'failed', finished_at = now(), error = $2 WHERE name = $1`, [
      name,
      error,
    ]);
  }

  async list(db?: DatabaseId): Promise<BackupRow[]> {
    const { rows } = await this.pool.query<BackupRow>(
      `SELECT name, db, kind, parent, status, started_at, finished_at, size_bytes, database_bytes, timeline, start_lsn, end_lsn,
              wal_start, wal_end, storage_prefix, files_total, files_stored, error
       FROM backups WHERE ($1::text IS NULL OR db = $1) ORDER BY started_at, name`,
      [db ?? null],
    );
    return rows;
  }

  async get(name: string): Promise<BackupRow | undefined> {
    return (await this.list()).find((r) => r.name === name);
  }

  /** The newest completed base backup (full or delta) of a database. */
  async latestBase(db: DatabaseId): Promise<BackupRow | undefined> {
    const { rows } = await this.pool.query<BackupRow>(
      `SELECT * FROM backups WHERE db = $1 AND kind IN ('full', 'delta') AND status = 'completed' ORDER BY started_at DESC, name DESC LIMIT 1`,
      [db],
    );
    return rows[0];
  }

  async markExpired(names: readonly string[]): Promise<void> {
    if (names.length) await this.pool.query(`UPDATE backups SET status = 'expired' WHERE name = ANY($1)`, [names]);
  }

  async recordWalSegment(db: DatabaseId, name: string, sizeBytes: number, sha256: string): Promise<void> {
    await this.pool.query(
      `INSERT INTO wal_segments (db, name, size_bytes, sha256) VALUES ($1, $2, $3, $4)
       ON CONFLICT (db, name) DO UPDATE SET size_bytes = EXCLUDED.size_bytes, sha256 = EXCLUDED.sha256, archived_at = now()`,
      [db, name, sizeBytes, sha256],
    );
  }

  async forgetWalSegments(db: DatabaseId, names: readonly string[]): Promise<void> {
    if (names.length) await this.pool.query(`DELETE FROM wal_segments WHERE db = $1 AND name = ANY($2)`, [db, names]);
  }

  async recordVerification(v: VerificationRecord): Promise<void> {
    await this.pool.query(
      `INSERT INTO backup_verifications (backup_name, db, mode, target_time, started_at, finished_at, ok, details, error)
       VALUES ($1, $2, $3, $4, $5, now(), $6, $7, $8)`,
      [v.backupName, v.db, v.mode, v.targetTime ?? null, v.startedAt, v.ok, JSON.stringify(v.details), v.error ?? null],
    );
  }

  /** For the metrics: last successful backup per database and kind, last verification per database. */
  async health(): Promise<{
    lastSuccess: Array<{ db: DatabaseId; kind: BackupKind; at: Date }>;
    verified: Array<{ db: DatabaseId; ok: boolean }>;
  }> {
    const last = await this.pool.query<{ db: DatabaseId; kind: BackupKind; at: Date }>(
      `SELECT db, kind, max(finished_at) AS at FROM backups WHERE status IN ('completed', 'expired') GROUP BY db, kind`,
    );
    const ver = await this.pool.query<{ db: DatabaseId; ok: boolean }>(
      `SELECT DISTINCT ON (db) db, ok FROM backup_verifications WHERE mode IN ('restore', 'scheduled') ORDER BY db, finished_at DESC`,
    );
    return { lastSuccess: last.rows, verified: ver.rows };
  }
}
