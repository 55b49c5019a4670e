import { createPrivateKey, createPublicKey, type KeyObject, type webcrypto } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { calculateJwkThumbprint, importPKCS8, importSPKI, type JWK } from 'jose';

/**
 * The RS256 key ring.
 *
 * - PRISM_JWT_PRIVATE_KEY_FILE: the one key that signs new tokens (PEM, PKCS#8 or PKCS#1).
 * - PRISM_JWT_PUBLIC_KEY_FILE: a PEM bundle of every key that still verifies: the current
 *   public key and the previous ones, concatenated. The current public key is derived from
 *   the private key, so it verifies even when the bundle omits it.
 *
 * Every key's `kid` is its RFC 7638 thumbprint: stable across replicas and restarts, no
 * numbering to keep in step. All keys are published in the JWKS. Rotation: generate a new pair,
 * put the new public key in the bundle beside the old one, roll out, then switch the private
 * key; once the access-token lifetime has passed, drop the old public key from the bundle.
 */
export interface KeyRing {
  readonly signing: { readonly kid: string; readonly key: webcrypto.CryptoKey };
  readonly verifying: ReadonlyMap<string, webcrypto.CryptoKey>;
  readonly jwks: { readonly keys: readonly JWK[] };
}

const PEM_BLOCK = /-----BEGIN ((?:RSA )?PUBLIC KEY)-----[\s\S]+?-----END \1-----/g;
const MIN_MODULUS_BITS = 2048;

export async function loadKeyRing(privateKeyFile: string, publicKeyFile?: string): Promise<KeyRing> {
  const privatePem = await readFile(privateKeyFile, 'utf8');
  const bundle = publicKeyFile ? await readFile(publicKeyFile, 'utf8') : '';
  return keyRingFromPem(privatePem, bundle, { privateKeyFile, publicKeyFile });
}

export async function keyRingFromPem(
  privatePem: string,
  publicBundle = '',
  origin: { privateKeyFile?: string; publicKeyFile?: string | undefined } = {},
): Promise<KeyRing> {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(privatePem);
  } catch (e) {
    throw new Error(`${origin.privateKeyFile ?? 'JWT private key'}: not a PEM private key (${(e as Error).message})`, {
      cause: e,
    });
  }
  checkRsa(privateKey, origin.privateKeyFile ?? 'JWT private key');
  const publicKeys = [createPublicKey(privateKey)];
  const blocks = publicBundle.match(PEM_BLOCK) ?? [];
  if (publicBundle.trim() && blocks.length === 0)
    throw new Error(`${origin.publicKeyFile ?? 'JWT public keys'}: no PEM public key found`);
  for (const pem of blocks) {
    const key = createPublicKey(pem);
    checkRsa(key, origin.publicKeyFile ?? 'JWT public keys');
    publicKeys.push(key);
  }

  const verifying = new Map<string, webcrypto.CryptoKey>();
  const jwks: JWK[] = [];
  for (const key of publicKeys) {
    const jwk = key.export({ format: 'jwk' }) as JWK;
    const kid = await calculateJwkThumbprint({ kty: jwk.kty!, n: jwk.n!, e: jwk.e! });
    if (verifying.has(kid)) continue;
    verifying.set(kid, await importSPKI(key.export({ type: 'spki', format: 'pem' }) as string, 'RS256'));
    jwks.push({ kty: 'RSA', n: jwk.n!, e: jwk.e!, kid, alg: 'RS256', use: 'sig' });
  }
  const signingKid = jwks[0]!.kid!;
  const signingKey = await importPKCS8(privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, 'RS256');
  return { signing: { kid: signingKid, key: signingKey }, verifying, jwks: { keys: jwks } };
}

function checkRsa(key: KeyObject, where: string): void {
  if (key.asymmetricKeyType !== 'rsa')
    throw new Error(`${where}: RS256 needs an RSA key, got ${key.asymmetricKeyType}`);
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (bits < MIN_MODULUS_BITS)
    throw new Error(`${where}: RSA key of ${bits} bits; at least ${MIN_MODULUS_BITS} are required`);
}
