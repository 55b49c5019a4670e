/**
 * Local secrets, run from the repository root (the Makefile and npm scripts do):
 *   env               create deploy/docker-compose/.env from .env.example (generated passwords, 0600, never overwritten)
 *   keys [--force]    create keys/private.pem (0600) and keys/public.pem; existing keys are kept unless --force
 *   secrets           write .secrets/prism-secrets.yaml (a Kubernetes Secret for a local cluster) from .env and keys/
 *   certs [--renew] [--dir DIR] [--operator NAME] [--host NAME]...
 *                     the private CA and mTLS certificates of the local platform and Compose (.secrets/mtls by default;
 *                     see infra/local/mtls-pki.ts); only what is missing or near expiry is issued unless --renew
 *   minio-metrics-token
 *                     prints Prometheus's bearer token for MinIO's metrics from the metrics user's secret key read on
 *                     stdin (for a secret store: the key is `minio-metrics-secret-key`, the token `minio-metrics-token`)
 */
import { parseArgs } from 'node:util';
import { ENV_EXAMPLE_FILE, ENV_FILE } from '../compose/index.js';
import { KEY_FILES, LOCAL_SECRET_FILE } from '../model/index.js';
import { LocalSetupError, ensureEnvFile, ensureKeyPair, writeLocalSecret } from '../local/index.js';
import { minioMetricsToken } from '../local/minio-token.js';

const KEYS = { privateKey: KEY_FILES['jwt-private-key'], publicKey: KEY_FILES['jwt-public-key'] };

function env(): void {
  const r = ensureEnvFile(ENV_EXAMPLE_FILE, ENV_FILE);
  if (r.created) console.log(`created ${r.path} (mode 0600) with generated ${r.filled.join(', ')}`);
  else console.log(`${r.path} exists: values kept`);
  if (!r.created && r.filled.length > 0) console.log(`  generated the empty ${r.filled.join(', ')}`);
  if (r.added.length > 0) console.log(`  added missing ${r.added.join(', ')}`);
  if (r.tightened) console.log('  mode tightened to 0600');
}

function keys(force: boolean): void {
  const r = ensureKeyPair(KEYS, force);
  const what = {
    generated: `generated ${KEYS.privateKey} (mode 0600) and ${KEYS.publicKey}`,
    replaced: `replaced ${KEYS.privateKey} and ${KEYS.publicKey} (FORCE)`,
    'public-derived': `derived ${KEYS.publicKey} from ${KEYS.privateKey}`,
    kept: `${KEYS.privateKey} and ${KEYS.publicKey} exist and match: kept (FORCE=1 replaces them)`,
  } as const;
  console.log(what[r]);
}

function secrets(): void {
  env();
  keys(false);
  const out = writeLocalSecret(ENV_FILE, LOCAL_SECRET_FILE);
  console.log(`wrote ${out} (mode 0600, git-ignored); apply it with: kubectl apply --server-side -f ${out}`);
}

async function certs(args: string[]): Promise<void> {
  // Loaded only here: the X.509 library is large and the other commands do not need it.
  const { LOCAL_PKI_DIR, ensureLocalPki } = await import('../local/mtls-pki.js');
  const { values } = parseArgs({
    args,
    options: {
      renew: { type: 'boolean' },
      dir: { type: 'string' },
      operator: { type: 'string' },
      host: { type: 'string', multiple: true },
    },
  });
  const pki = await ensureLocalPki({
    dir: values.dir ?? LOCAL_PKI_DIR,
    ...(values.renew ? { renew: true } : {}),
    ...(values.operator ? { operator: values.operator } : {}),
    ...(values.host ? { hosts: values.host } : {}),
  });
  console.log(
    pki.issued.length > 0
      ? `issued ${pki.issued.join(', ')} in ${pki.dir}`
      : `${pki.dir}: every certificate is current (kept)`,
  );
  console.log(`  CA ${pki.caCert}; operator ${pki.operator.identity}: ${pki.operator.cert}, ${pki.operator.key}`);
}

/** The key on stdin (never an argument: it would show in the process list and the shell's history). */
async function metricsToken(): Promise<void> {
  let key = '';
  for await (const chunk of process.stdin) key += String(chunk);
  key = key.trim();
  if (!key) throw new LocalSetupError("minio-metrics-token: give the metrics user's secret key on stdin");
  console.log(minioMetricsToken(key));
}

const [command, ...rest] = process.argv.slice(2);
try {
  if (command === 'certs') await certs(rest);
  else if (command === 'env') env();
  else if (command === 'keys') keys(rest.includes('--force'));
  else if (command === 'secrets') secrets();
  else if (command === 'minio-metrics-token') await metricsToken();
  else {
    console.error(
      'usage: tsx infra/cli/local.ts env | keys [--force] | secrets | certs [--renew] [--dir DIR] [--operator NAME] [--host NAME]... | minio-metrics-token',
    );
    process.exitCode = 2;
  }
} catch (e) {
  if (
    e instanceof LocalSetupError ||
    (e as Error).name === 'LocalPkiError' ||
    String((e as NodeJS.ErrnoException).code).startsWith('ERR_PARSE_ARGS')
  ) {
    console.error((e as Error).message);
    process.exitCode = 1;
  } else throw e;
}
