import { chmodSync, closeSync, mkdirSync, openSync, renameSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';

/**
 * Writes a file atomically with the given mode: a temporary file beside it, then a rename,
 * so an interrupted run never leaves a half-written key or `.env`. With `exclusive`, an
 * existing file is never replaced (the rename is replaced by a hard-link-free exclusive create).
 */
export function writeFileAtomic(path: string, content: string, mode: number, exclusive = false): void {
  mkdirSync(dirname(path), { recursive: true });
  if (exclusive) {
    const fd = openSync(path, 'wx', mode);
    try {
      writeSync(fd, content);
    } finally {
      closeSync(fd);
    }
    chmodSync(path, mode);
    return;
  }
  const tmp = join(dirname(path), `.${randomBytes(6).toString('hex')}.tmp`);
  const fd = openSync(tmp, 'wx', mode);
  try {
    writeSync(fd, content);
  } finally {
    closeSync(fd);
  }
  chmodSync(tmp, mode);
  renameSync(tmp, path);
}
