import { join } from 'node:path';

/** Where one local platform keeps everything (`.prism-local/` of the checkout, or a test's own directory). */
export interface Layout {
  readonly root: string;
  /** Generated passwords (0600); never printed. */
  readonly secrets: string;
  readonly keysDir: string;
  readonly privateKey: string;
  readonly publicKey: string;
  /** The local CA and mutual-TLS certificates (see ensureLocalPki): `<mtlsDir>/<service|operator>/tls.crt, tls.key, ca.crt`. */
  readonly mtlsDir: string;
  readonly mtls: (workload: string) => string;
  /** Persistent data, kept by a second `up` unless `--fresh`. */
  readonly data: (component: string) => string;
  /** Rendered config files of a component. */
  readonly config: (component: string) => string;
  /** Sockets, private config with secrets, scratch space: recreated by every `up`. */
  readonly run: (component: string) => string;
  readonly log: (process: string) => string;
  readonly logsDir: string;
  readonly state: string;
  readonly endpoints: string;
}

export function layout(root: string): Layout {
  return {
    root,
    secrets: join(root, 'secrets.json'),
    keysDir: join(root, 'keys'),
    privateKey: join(root, 'keys', 'private.pem'),
    publicKey: join(root, 'keys', 'public.pem'),
    mtlsDir: join(root, 'mtls'),
    mtls: (w) => join(root, 'mtls', w),
    data: (c) => join(root, 'data', c),
    config: (c) => join(root, 'config', c),
    run: (c) => join(root, 'run', c),
    log: (p) => join(root, 'logs', `${p}.log`),
    logsDir: join(root, 'logs'),
    state: join(root, 'state.json'),
    endpoints: join(root, 'endpoints.json'),
  };
}
