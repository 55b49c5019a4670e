import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempCheckout } from './support.js';

describe('temporary checkouts of the local set-up tests', () => {
  it('copy only what git tracks: a git-ignored private key in this checkout (make generate-keys) is not copied', () => {
    // A file the .gitignore covers (keys/*.pem), as `make generate-keys` leaves behind.
    const name = `keys/test-ignored-${randomBytes(4).toString('hex')}.pem`;
    writeFileSync(name, '-----BEGIN PRIVATE KEY-----\nnot a real key\n-----END PRIVATE KEY-----\n', { mode: 0o600 });
    try {
      const dir = tempCheckout();
      expect(existsSync(join(dir, name))).toBe(false);
      expect(readdirSync(join(dir, 'keys'))).toEqual(['.gitkeep']);
      expect(existsSync(join(dir, 'deploy/docker-compose/.env'))).toBe(false);
      expect(existsSync(join(dir, 'Makefile'))).toBe(true);
      expect(existsSync(join(dir, 'deploy/backup/backup.sh'))).toBe(true);
    } finally {
      rmSync(name, { force: true });
    }
  });
});
