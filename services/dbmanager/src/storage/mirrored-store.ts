import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { type BackupStore, type PutResult, StorageError, type StoredObject } from './object-store.js';

/**
 * The in-cluster store and an off-site copy, written together: a backup or WAL segment counts as
 * stored only once both hold it (a failed write fails the backup, and the WAL archiver retries the
 * segment, which stays on the server's replication slot until then). Reads, listings and heads go
 * to the in-cluster store; a restore after losing it reads the off-site store alone.
 */
export class MirroredStore implements BackupStore {
  readonly bucket: string;

  constructor(
    readonly primary: BackupStore,
    readonly offsite: BackupStore,
  ) {
    this.bucket = `${primary.bucket} (mirrored to off-site ${offsite.bucket})`;
  }

  async checkAccess(): Promise<void> {
    await Promise.all([
      this.primary.checkAccess(),
      this.offsite.checkAccess().catch((e: Error) => {
        throw new StorageError(`off-site store: ${e.message}`);
      }),
    ]);
  }

  async putBuffer(key: string, body: Buffer, metadata: Record<string, string> = {}): Promise<PutResult> {
    const [a, b] = await Promise.all([
      this.primary.putBuffer(key, body, metadata),
      this.offsite.putBuffer(key, body, metadata),
    ]);
    return same(key, a, b);
  }

  /** One read of `body` feeds both uploads; the slower one sets the pace (backpressure). */
  async putStream(key: string, body: Readable, onBytes?: (sent: number) => void): Promise<PutResult> {
    const toPrimary = new PassThrough();
    const toOffsite = new PassThrough();
    const fanOut = new PassThrough();
    fanOut.pipe(toPrimary);
    fanOut.pipe(toOffsite);
    const uploads = Promise.all([
      this.primary.putStream(key, toPrimary, onBytes),
      this.offsite.putStream(key, toOffsite),
    ]);
    // A failed upload must not leave the other (and the producer) waiting forever.
    uploads.catch((e: Error) => {
      toPrimary.destroy(e);
      toOffsite.destroy(e);
      fanOut.destroy(e);
    });
    const [[a, b]] = await Promise.all([uploads, pipeline(body, fanOut)]);
    return same(key, a, b);
  }

  getStream(key: string): Promise<Readable> {
    return this.primary.getStream(key);
  }

  getBuffer(key: string): Promise<Buffer> {
    return this.primary.getBuffer(key);
  }

  head(key: string) {
    return this.primary.head(key);
  }

  list(prefix: string): AsyncGenerator<StoredObject> {
    return this.primary.list(prefix);
  }

  async delete(keys: readonly string[]): Promise<void> {
    await Promise.all([this.primary.delete(keys), this.offsite.delete(keys)]);
  }

  destroy(): void {
    this.primary.destroy();
    this.offsite.destroy();
  }
}

function same(key: string, a: PutResult, b: PutResult): PutResult {
  if (a.sha256 !== b.sha256 || a.size !== b.size)
    throw new StorageError(`object ${key} differs between the in-cluster and the off-site store after writing it`);
  return a;
}
