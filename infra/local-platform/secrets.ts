import { existsSync, readFileSync } from 'node:fs';
import { ensureKeyPair, generatePassword } from '../local/index.js';
import { DERIVED_SECRETS } from '../local/minio-token.js';
import { writeFileAtomic } from '../local/files.js';
import { SECRET_KEYS, type SecretKey } from '../contract/index.js';
import type { Layout } from './layout.js';

/**
 * The local platform's secrets: a password for every `password` secret of the model's catalog,
 * generated once and kept (0600, in the git-ignored state directory), and the JWT key pair.
 * Secrets only a person can provide (OAuth client credentials) stay unset: those features are off.
 */
export type LocalSecrets = Partial<Record<SecretKey, string>>;

export function ensureSecrets(l: Layout): LocalSecrets {
  const known: Record<string, string> = existsSync(l.secrets)
    ? (JSON.parse(readFileSync(l.secrets, 'utf8')) as Record<string, string>)
    : {};
  let changed = false;
  for (const s of SECRET_KEYS) {
    if (s.source === 'password' && !known[s.key]) {
      known[s.key] = generatePassword();
      changed = true;
    }
  }
  if (changed) writeFileAtomic(l.secrets, `${JSON.stringify(known, null, 2)}\n`, 0o600);
  ensureKeyPair({ privateKey: l.privateKey, publicKey: l.publicKey });
  const out: LocalSecrets = { ...known };
  out['jwt-private-key'] = readFileSync(l.privateKey, 'utf8');
  out['jwt-public-key'] = readFileSync(l.publicKey, 'utf8');
  // Derived, never stored: each follows its source.
  for (const d of DERIVED_SECRETS) out[d.key] = d.derive(known[d.from]!);
  return out;
}
