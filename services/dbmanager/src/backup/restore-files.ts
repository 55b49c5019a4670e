import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { type Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import * as tar from 'tar-stream';
import type { DatabaseId } from '#contract';
import type { BackupStore } from '../storage/object-store.js';
import { type EngineContext, readMeta } from './basebackup.js';
import type { BackupMeta } from './layout.js';
import { keys } from './layout.js';
import { type Manifest, parseManifest } from './manifest.js';
import type { Reporter } from './progress.js';
import { RestoreError } from './restore-error.js';

/** A backup chain's files: resolved, read from the store, checked against the manifests, written or only hashed. */

/** Where the files of a verified chain go: nowhere (dry run) or a data directory. */
export interface Sink {
  dir(path: string): Promise<void>;
  file(path: string, content: Readable): Promise<void>;
}

export const hashOnly: Sink = {
  dir: async () => {},
  file: async (_p, content) => {
    content.resume();
    await new Promise((r, j) => content.on('end', r).on('error', j));
  },
};

export function dirSink(root: string): Sink {
  const inside = (p: string) => {
    const full = resolve(root, p);
    if (!full.startsWith(`${resolve(root)}/`))
      throw new RestoreError(`refusing archive entry outside the target: ${p}`);
    return full;
  };
  return {
    dir: async (p) => {
      await mkdir(inside(p), { recursive: true, mode: 0o700 });
    },
    file: async (p, content) => {
      const full = inside(p);
      await mkdir(dirname(full), { recursive: true, mode: 0o700 });
      await pipeline(content, createWriteStream(full, { mode: 0o600 }));
    },
  };
}

/** The backups a restore of `name` needs, newest first, ending at a full. */
export async function resolveChain(store: BackupStore, db: DatabaseId, name: string): Promise<BackupMeta[]> {
  const chain: BackupMeta[] = [];
  let next: string | undefined = name;
  while (next) {
    const meta = await readMeta(store, db, next);
    if (chain[0] && meta.systemIdentifier !== chain[0].systemIdentifier)
      throw new RestoreError(`backup ${meta.name} is of another cluster than ${chain[0].name}`);
    chain.push(meta);
    next = meta.kind === 'delta' ? meta.parent : undefined;
    if (chain.length > 1000) throw new RestoreError(`the chain of ${name} does not end at a full backup`);
  }
  return chain;
}

function hashingTap(onDone: (sha: string, size: number) => void): Transform {
  const h = createHash('sha256');
  let size = 0;
  return new Transform({
    transform(chunk: Buffer, _e, cb) {
      h.update(chunk);
      size += chunk.length;
      cb(null, chunk);
    },
    flush(cb) {
      onDone(h.digest('hex'), size);
      cb();
    },
  });
}

/**
 * Walks the chain newest first. Every file of the named backup's manifest is taken from the newest
 * backup that stored it and must match the manifest's size and SHA-256; each stored object must
 * match the SHA-256 recorded when it was written. Directories and pg_wal come from the newest.
 */
export async function walkChain(
  ctx: EngineContext,
  chain: BackupMeta[],
  sink: Sink,
  report: Reporter,
): Promise<{ files: number; bytes: number }> {
  const store = ctx.store;
  const db = chain[0]!.db;
  const manifests: Manifest[] = [];
  for (const link of chain) {
    const key = keys.manifest(db, link.name);
    const raw = await store.getBuffer(key);
    const sha = createHash('sha256').update(raw).digest('hex');
    if (sha !== link.objects[key]?.sha256)
      throw new RestoreError(
        `object ${key} is corrupt: sha256 ${sha.slice(0, 16)}…, recorded ${link.objects[key]?.sha256.slice(0, 16)}…`,
      );
    manifests.push(parseManifest(raw));
  }
  const wanted = manifests[0]!.files;
  const satisfied = new Set<string>();
  let bytes = 0;
  let total = 0;
  for (const f of wanted.values()) total += f.size;
  for (const [i, link] of chain.entries()) {
    const key = keys.data(db, link.name);
    const newest = i === 0;
    let objectSha = '';
    const extract = tar.extract();
    extract.on('entry', (header, entry, next) => {
      const stream = entry as unknown as Readable;
      const path = header.name.replace(/\/$/, '');
      const done = (p: Promise<void>) =>
        p.then(
          () => next(),
          (e: Error) => next(e),
        );
      if (header.type === 'directory') {
        stream.resume();
        return done(newest ? sink.dir(path) : Promise.resolve());
      }
      if (path.startsWith('pg_wal/')) return done(newest ? sink.file(path, stream) : hashOnly.file(path, stream));
      const expected = wanted.get(path);
      if (!expected || satisfied.has(path)) return done(hashOnly.file(path, stream));
      let got = { sha: '', size: 0 };
      const tap = hashingTap((sha, size) => (got = { sha, size }));
      void done(
        sink.file(path, stream.pipe(tap)).then(() => {
          if (got.sha !== expected.checksum || got.size !== expected.size) {
            throw new RestoreError(
              `file ${path} from backup ${link.name} does not match the manifest of ${chain[0]!.name}: sha256 ${got.sha.slice(0, 16)}…, expected ${expected.checksum.slice(0, 16)}…`,
            );
          }
          satisfied.add(path);
          bytes += got.size;
          report.progress('files verified', bytes, total);
        }),
      );
    });
    try {
      await pipeline(
        await store.getStream(key),
        hashingTap((sha) => (objectSha = sha)),
        createGunzip(),
        extract,
      );
    } catch (e) {
      if (e instanceof RestoreError) throw e;
      throw new RestoreError(`object ${key} cannot be read back (${(e as Error).message}); it is corrupt or truncated`);
    }
    if (objectSha !== link.objects[key]?.sha256)
      throw new RestoreError(
        `object ${key} is corrupt: sha256 ${objectSha.slice(0, 16)}…, recorded ${link.objects[key]?.sha256.slice(0, 16)}…`,
      );
  }
  const missing = [...wanted.keys()].filter((p) => !satisfied.has(p));
  if (missing.length)
    throw new RestoreError(
      `${missing.length} file(s) of the manifest of ${chain[0]!.name} are in no backup of its chain; first: ${missing[0]}`,
    );
  return { files: satisfied.size, bytes };
}
