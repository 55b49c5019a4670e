import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface KeyFiles {
  readonly dir: string;
  readonly privateFile: string;
  readonly publicFile: string;
  readonly privatePem: string;
  readonly publicPem: string;
}

/** A fresh RSA-2048 pair in a temporary directory (PKCS#8 / SPKI PEM, as `make generate-keys` writes). */
export function makeKeyFiles(extraPublicPems: readonly string[] = []): KeyFiles {
  const dir = mkdtempSync(join(tmpdir(), 'prism-auth-keys-'));
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const privatePem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  const publicPem = publicKey.export({ type: 'spki', format: 'pem' }) as string;
  const privateFile = join(dir, 'private.pem');
  const publicFile = join(dir, 'public.pem');
  writeFileSync(privateFile, privatePem, { mode: 0o600 });
  writeFileSync(publicFile, [publicPem, ...extraPublicPems].join(''));
  return { dir, privateFile, publicFile, privatePem, publicPem };
}
