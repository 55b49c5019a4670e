import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { writeFileAtomic } from './files.js';
import { LocalSetupError } from './dotenv.js';

/** The JWT signing key pair of local set-ups: RSA 2048 (RS256), PKCS#8 and SPKI PEM. */

const PRIVATE_KEY_MODE = 0o600;
const PUBLIC_KEY_MODE = 0o644;
const MODULUS_BITS = 2048;

export interface KeyPaths {
  readonly privateKey: string;
  readonly publicKey: string;
}

export type KeyResult = 'generated' | 'kept' | 'public-derived' | 'replaced';

function publicPemOf(privatePem: string, path: string): string {
  try {
    return createPublicKey(createPrivateKey(privatePem)).export({ type: 'spki', format: 'pem' }).toString();
  } catch (e) {
    throw new LocalSetupError(
      `${path} is not a readable PEM private key (${(e as Error).message}); replace it with make generate-keys FORCE=1`,
    );
  }
}

function samePublicKey(a: string, b: string): boolean {
  try {
    const der = (pem: string) => createPublicKey(pem).export({ type: 'spki', format: 'der' });
    return der(a).equals(der(b));
  } catch {
    return false;
  }
}

/**
 * Makes sure the key pair exists. Existing keys are never replaced unless `force`: a matching
 * pair is kept, a lone private key gets its public key derived, and anything that would need
 * a new private key (a lone public key, a pair that does not match) is an error that loses nothing.
 */
export function ensureKeyPair(paths: KeyPaths, force = false): KeyResult {
  const hasPrivate = existsSync(paths.privateKey);
  const hasPublic = existsSync(paths.publicKey);
  if (!force && hasPrivate) {
    const privatePem = readFileSync(paths.privateKey, 'utf8');
    const derived = publicPemOf(privatePem, paths.privateKey);
    if (!hasPublic) {
      writeFileAtomic(paths.publicKey, derived, PUBLIC_KEY_MODE, true);
      return 'public-derived';
    }
    if (!samePublicKey(derived, readFileSync(paths.publicKey, 'utf8'))) {
      throw new LocalSetupError(
        `${paths.publicKey} does not belong to ${paths.privateKey}; replace both with make generate-keys FORCE=1`,
      );
    }
    return 'kept';
  }
  if (!force && hasPublic) {
    throw new LocalSetupError(
      `${paths.publicKey} exists without ${paths.privateKey}; replace both with make generate-keys FORCE=1`,
    );
  }
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: MODULUS_BITS,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  writeFileAtomic(paths.privateKey, privateKey, PRIVATE_KEY_MODE);
  writeFileAtomic(paths.publicKey, publicKey, PUBLIC_KEY_MODE);
  return hasPrivate || hasPublic ? 'replaced' : 'generated';
}
