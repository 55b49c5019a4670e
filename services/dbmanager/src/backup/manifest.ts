/** PostgreSQL's backup manifest (JSON, written by pg_basebackup), the parts the DB manager reads. */
interface ManifestFile {
  readonly size: number;
  readonly algorithm: string;
  readonly checksum: string;
}

export interface Manifest {
  readonly files: ReadonlyMap<string, ManifestFile>;
  readonly walRanges: ReadonlyArray<{ readonly timeline: number; readonly startLsn: string; readonly endLsn: string }>;
}

interface RawManifest {
  'PostgreSQL-Backup-Manifest-Version': number;
  Files: Array<{
    Path?: string;
    'Encoded-Path'?: string;
    Size: number;
    'Checksum-Algorithm'?: string;
    Checksum?: string;
  }>;
  'WAL-Ranges': Array<{ Timeline: number; 'Start-LSN': string; 'End-LSN': string }>;
}

export function parseManifest(raw: Buffer): Manifest {
  const m = JSON.parse(raw.toString('utf8')) as RawManifest;
  if (m['PostgreSQL-Backup-Manifest-Version'] !== 1 || !Array.isArray(m.Files))
    throw new Error('not a PostgreSQL backup manifest (version 1)');
  const files = new Map<string, ManifestFile>();
  for (const f of m.Files) {
    const path = f.Path ?? Buffer.from(f['Encoded-Path'] ?? '', 'hex').toString('utf8');
    if (f['Checksum-Algorithm'] !== 'SHA256' || !f.Checksum)
      throw new Error(`manifest entry ${path} has no SHA-256 checksum (take backups with --manifest-checksums=SHA256)`);
    files.set(path, { size: f.Size, algorithm: f['Checksum-Algorithm'], checksum: f.Checksum });
  }
  return {
    files,
    walRanges: m['WAL-Ranges'].map((w) => ({ timeline: w.Timeline, startLsn: w['Start-LSN'], endLsn: w['End-LSN'] })),
  };
}
