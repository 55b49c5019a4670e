import type { SecretSource } from '../contract/index.js';

/**
 * Where the local set-ups (Compose, the local platform, a local cluster) keep what is generated on
 * the machine and never committed: repository paths, shared by the renderers, the local secret
 * tools and the Pulumi program's hints.
 */

/** The JWT key pair written by `make generate-keys`. */
export const KEY_FILES: Readonly<Record<Extract<SecretSource, 'jwt-private-key' | 'jwt-public-key'>, string>> = {
  'jwt-private-key': 'keys/private.pem',
  'jwt-public-key': 'keys/public.pem',
};

/**
 * The local mesh CA and workload certificates (`npm run local-certs`, git-ignored): each Prism
 * service's `<dir>/<service>/` is mounted read-only where the model puts its certificate.
 */
export const MTLS_CERT_DIR = '.secrets/mtls';
/** The local CA's certificate (infra/local/mtls-pki.ts): its key beside it is never mounted. */
export const MTLS_CA_CERT = `${MTLS_CERT_DIR}/ca/ca.crt`;

/** `prism-secrets` for a local cluster (`prism:secrets.mode: local`), mode 0600, never beside the manifests. */
export const LOCAL_SECRET_FILE = '.secrets/prism-secrets.yaml';
