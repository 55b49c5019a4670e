import { createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LocalSetupError, ensureKeyPair } from '../../infra/local/index.js';
import { mode } from './support.js';

function paths() {
  const dir = join(mkdtempSync(join(tmpdir(), 'prism-keys-')), 'keys');
  return { privateKey: join(dir, 'private.pem'), publicKey: join(dir, 'public.pem') };
}
const read = (p: string) => readFileSync(p, 'utf8');

describe('JWT key pair', () => {
  it('generates an RS256 pair: private 0600, public 0644, one verifies what the other signs', () => {
    const p = paths();
    expect(ensureKeyPair(p)).toBe('generated');
    expect(mode(statSync(p.privateKey).mode)).toBe('0600');
    expect(mode(statSync(p.publicKey).mode)).toBe('0644');
    const key = createPrivateKey(read(p.privateKey));
    expect(key.asymmetricKeyType).toBe('rsa');
    expect(key.asymmetricKeyDetails?.modulusLength).toBe(2048);
    const sig = sign('sha256', Buffer.from('token'), key);
    expect(verify('sha256', Buffer.from('token'), createPublicKey(read(p.publicKey)), sig)).toBe(true);
  });

  it('never overwrites a pair: a second run keeps both files byte for byte', () => {
    const p = paths();
    ensureKeyPair(p);
    const [priv, pub] = [read(p.privateKey), read(p.publicKey)];
    expect(ensureKeyPair(p)).toBe('kept');
    expect([read(p.privateKey), read(p.publicKey)]).toEqual([priv, pub]);
  });

  it('replaces both only when forced', () => {
    const p = paths();
    ensureKeyPair(p);
    const priv = read(p.privateKey);
    expect(ensureKeyPair(p, true)).toBe('replaced');
    expect(read(p.privateKey)).not.toBe(priv);
    expect(mode(statSync(p.privateKey).mode)).toBe('0600');
  });

  it('derives a missing public key from the private one', () => {
    const p = paths();
    ensureKeyPair(p);
    const pub = read(p.publicKey);
    writeFileSync(p.publicKey, '');
    // An empty public key does not match: refused, nothing changed.
    expect(() => ensureKeyPair(p)).toThrow(/does not belong/);
    expect(read(p.publicKey)).toBe('');
    const q = paths();
    ensureKeyPair(q);
    const qpub = read(q.publicKey);
    rmSync(q.publicKey);
    expect(ensureKeyPair(q)).toBe('public-derived');
    expect(read(q.publicKey)).toBe(qpub);
    expect(pub).not.toBe(qpub);
  });

  it('refuses a lone public key or a mismatched pair without touching them', () => {
    const a = paths();
    const b = paths();
    ensureKeyPair(a);
    ensureKeyPair(b);
    writeFileSync(a.publicKey, read(b.publicKey));
    const before = [read(a.privateKey), read(a.publicKey)];
    expect(() => ensureKeyPair(a)).toThrow(LocalSetupError);
    expect(() => ensureKeyPair(a)).toThrow(/FORCE=1/);
    expect([read(a.privateKey), read(a.publicKey)]).toEqual(before);

    const lone = paths();
    ensureKeyPair(lone);
    rmSync(lone.privateKey);
    expect(() => ensureKeyPair(lone)).toThrow(/exists without/);
    expect(existsSync(lone.privateKey)).toBe(false);
  });

  it('refuses an unreadable private key with the way out', () => {
    const p = paths();
    ensureKeyPair(p);
    writeFileSync(p.privateKey, 'not a key');
    expect(() => ensureKeyPair(p)).toThrow(/not a readable PEM private key.*FORCE=1/);
    expect(read(p.privateKey)).toBe('not a key');
  });
});
