import { createHash } from 'node:crypto';
import { type Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  NoSuchKey,
  NotFound,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';

/** Where backups go: an S3-compatible bucket reached with a bucket-scoped user. */
export interface StorageConfig {
  readonly endpoint: string;
  readonly region: string;
  readonly bucket: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

export interface StoredObject {
  readonly key: string;
  readonly size: number;
  readonly lastModified: Date;
}

export interface PutResult {
  readonly size: number;
  readonly sha256: string;
}

export class StorageError extends Error {
  override readonly name = 'StorageError';
}

export function sha256Hex(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** What the backup engine needs of object storage: one bucket, or several written together. */
export interface BackupStore {
  /** Names the store in messages (a bucket, or the buckets a mirror writes to). */
  readonly bucket: string;
  checkAccess(): Promise<void>;
  putBuffer(key: string, body: Buffer, metadata?: Record<string, string>): Promise<PutResult>;
  putStream(key: string, body: Readable, onBytes?: (sent: number) => void): Promise<PutResult>;
  getStream(key: string): Promise<Readable>;
  getBuffer(key: string): Promise<Buffer>;
  head(key: string): Promise<{ size: number; metadata: Record<string, string>; lastModified: Date } | undefined>;
  list(prefix: string): AsyncGenerator<StoredObject>;
  delete(keys: readonly string[]): Promise<void>;
  destroy(): void;
}

/** A small wrapper of the AWS SDK: path-style addressing (MinIO), SHA-256 of everything written. */
export class ObjectStore implements BackupStore {
  readonly bucket: string;
  private readonly s3: S3Client;

  constructor(config: StorageConfig) {
    this.bucket = config.bucket;
    this.s3 = new S3Client({
      endpoint: config.endpoint,
      region: config.region,
      forcePathStyle: true,
      credentials: { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey },
      maxAttempts: 4,
    });
  }

  /** Fails with a clear message when the bucket is missing or the credentials cannot reach it. */
  async checkAccess(): Promise<void> {
    try {
      await this.s3.send(new HeadBucketCommand({ Bucket: this.bucket }));
    } catch (e) {
      const status = (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      const why =
        status === 404
          ? 'does not exist'
          : status === 403
            ? 'is not reachable with these credentials (403)'
            : `is not reachable: ${(e as Error).message}`;
      throw new StorageError(`bucket ${this.bucket} ${why}`);
    }
  }

  async putBuffer(key: string, body: Buffer, metadata: Record<string, string> = {}): Promise<PutResult> {
    const sha256 = sha256Hex(body);
    await this.s3.send(
      new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, Metadata: { sha256, ...metadata } }),
    );
    return { size: body.length, sha256 };
  }

  /** Streams `body` in multipart chunks, hashing on the way; `onBytes` reports progress. */
  async putStream(key: string, body: Readable, onBytes?: (sent: number) => void): Promise<PutResult> {
    const hash = createHash('sha256');
    let size = 0;
    const pass = new Transform({
      transform(chunk: Buffer, _enc, done) {
        hash.update(chunk);
        size += chunk.length;
        done(null, chunk);
      },
    });
    const piping = pipeline(body, pass);
    const upload = new Upload({
      client: this.s3,
      params: { Bucket: this.bucket, Key: key, Body: pass },
      partSize: 16 * 1024 * 1024,
      queueSize: 2,
    });
    if (onBytes) upload.on('httpUploadProgress', (p) => onBytes(p.loaded ?? 0));
    await Promise.all([piping, upload.done()]);
    return { size, sha256: hash.digest('hex') };
  }

  async getStream(key: string): Promise<Readable> {
    try {
      const out = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return out.Body as Readable;
    } catch (e) {
      if (e instanceof NoSuchKey) throw new StorageError(`object ${key} is missing from bucket ${this.bucket}`);
      throw e;
    }
  }

  async getBuffer(key: string): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const c of await this.getStream(key)) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  }

  /** The object's user metadata, or undefined when it does not exist. */
  async head(key: string): Promise<{ size: number; metadata: Record<string, string>; lastModified: Date } | undefined> {
    try {
      const h = await this.s3.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return { size: h.ContentLength ?? 0, metadata: h.Metadata ?? {}, lastModified: h.LastModified ?? new Date(0) };
    } catch (e) {
      if (e instanceof NotFound || (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404)
        return undefined;
      throw e;
    }
  }

  async *list(prefix: string): AsyncGenerator<StoredObject> {
    let token: string | undefined;
    do {
      const page = await this.s3.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }),
      );
      for (const o of page.Contents ?? []) {
        if (o.Key) yield { key: o.Key, size: o.Size ?? 0, lastModified: o.LastModified ?? new Date(0) };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async delete(keys: readonly string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += 1000) {
      const batch = keys.slice(i, i + 1000);
      const out = await this.s3.send(
        new DeleteObjectsCommand({
          Bucket: this.bucket,
          Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true },
        }),
      );
      if (out.Errors?.length)
        throw new StorageError(
          `could not delete ${out.Errors.length} object(s), first: ${out.Errors[0]?.Key}: ${out.Errors[0]?.Message}`,
        );
    }
  }

  destroy(): void {
    this.s3.destroy();
  }
}
