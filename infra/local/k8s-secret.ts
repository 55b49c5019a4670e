import { mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { namespaceObject, platformNamespaceProps } from '../k8s/namespace.js';
import { SECRET_KEYS, SECRET_NAME } from '../contract/index.js';
import { KEY_FILES, LOCAL_SECRET_FILE, NAMESPACE, toYaml } from '../model/index.js';
import { LocalSetupError, parseDotenv } from './dotenv.js';
import { writeFileAtomic } from './files.js';

/**
 * `prism-secrets` for a local cluster (`prism:secrets.mode: local`), from the same `.env`
 * passwords and `keys/` pair as Compose. Written to a git-ignored directory with mode 0600
 * ({@link LOCAL_SECRET_FILE}), never next to the synthesized manifests.
 */
const LOCAL_SECRET_MODE = 0o600;

export interface SecretSources {
  /** Contents of `.env`. */
  readonly dotenv: string;
  readonly envPath: string;
  /** Reads a repository file (the key pair). */
  readonly readFile: (path: string) => string;
}

/**
 * The manifest: the platform Namespace, exactly as synthesized, then the Secret, so that `kubectl apply -f`
 * works on an empty cluster, before `pulumi up` (which adopts the namespace) starts any workload. A
 * `provided` credential left empty is left out, so the optional secretKeyRef leaves its variable unset.
 */
export function localSecretManifest(src: SecretSources, namespace = NAMESPACE): string {
  const env = parseDotenv(src.dotenv);
  const data: Record<string, string> = {};
  for (const s of SECRET_KEYS) {
    let value: string | undefined;
    if (s.source === 'jwt-private-key' || s.source === 'jwt-public-key') value = src.readFile(KEY_FILES[s.source]);
    else value = env.get(s.dotenv);
    if (s.source === 'provided' && !value) continue;
    if (!value)
      throw new LocalSetupError(
        `${src.envPath}: ${s.dotenv} is empty or missing; run make dev-setup (it generates it)`,
      );
    data[s.key] = Buffer.from(value, 'utf8').toString('base64');
  }
  const secret = toYaml({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: SECRET_NAME,
      namespace,
      labels: { 'app.kubernetes.io/part-of': 'prism', 'app.kubernetes.io/managed-by': 'prism-local-secrets' },
    },
    type: 'Opaque',
    data,
  });
  return `${toYaml(namespaceObject(platformNamespaceProps(namespace)))}---\n${secret}`;
}

export function writeLocalSecret(envPath: string, outPath = LOCAL_SECRET_FILE): string {
  const manifest = localSecretManifest({
    dotenv: readFileSync(envPath, 'utf8'),
    envPath,
    readFile: (p) => readFileSync(p, 'utf8'),
  });
  mkdirSync(dirname(outPath), { recursive: true, mode: 0o700 });
  writeFileAtomic(outPath, manifest, LOCAL_SECRET_MODE);
  return outPath;
}
