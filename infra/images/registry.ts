/**
 * Just enough of the OCI distribution API to pin images by digest: resolve what a tag points at, and whether a
 * digest exists in a repository. Registries answer anonymous pulls with a Bearer challenge (Docker Hub, GHCR,
 * Quay): the token is fetched from the realm the challenge names, for exactly the repository's pull scope.
 */

/** Index and manifest media types, so the registry answers with the multi-platform index where there is one. */
const ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

/** A registry that has not answered in this long is reported, not waited for. */
const TIMEOUT_MS = 30_000;

export interface RepoRef {
  /** The registry as references name it (docker.io, ghcr.io, …). */
  readonly registry: string;
  /** The repository path on it (library/postgres for postgres). */
  readonly path: string;
}

/** A reference's registry and repository path, as Docker resolves a short name. */
export function repoRef(repository: string): RepoRef {
  const first = repository.split('/')[0]!;
  const hasHost = repository.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
  const registry = hasHost ? first : 'docker.io';
  const path = hasHost ? repository.slice(first.length + 1) : repository;
  return { registry, path: registry === 'docker.io' && !path.includes('/') ? `library/${path}` : path };
}

/**
 * The base URL each registry is reached at: https://<registry>, Docker Hub's API host for docker.io, or the
 * endpoint given for it (`docker.io=http://127.0.0.1:5000,ghcr.io=https://mirror.example`: a pull-through
 * mirror, or a test registry).
 */
export function endpoints(spec = ''): (registry: string) => string {
  const given = new Map<string, string>();
  for (const part of spec.split(',').filter((p) => p.trim())) {
    const [name, url] = part.split('=').map((s) => s.trim());
    if (!name || !url || !/^https?:\/\/[^/]+$/.test(url))
      throw new Error(`registry endpoint "${part}": expected <registry>=<http(s)://host[:port]>`);
    given.set(name, url);
  }
  return (r) => given.get(r) ?? (r === 'docker.io' ? 'https://registry-1.docker.io' : `https://${r}`);
}

/** The parameters of a `WWW-Authenticate: Bearer realm="…",service="…",scope="…"` challenge. */
function bearerChallenge(header: string | null): Record<string, string> | undefined {
  if (!header || !/^Bearer\s/i.test(header)) return undefined;
  return Object.fromEntries([...header.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
}

export class RegistryClient {
  private readonly tokens = new Map<string, string>();

  constructor(private readonly base: (registry: string) => string) {}

  /** The digest a tag points at now (the index for a multi-platform image), or undefined if there is no such tag. */
  resolveTag(ref: RepoRef, tag: string): Promise<string | undefined> {
    return this.manifestDigest(ref, tag);
  }

  /** Whether the repository holds a manifest (or index) with this digest. */
  async hasDigest(ref: RepoRef, digest: string): Promise<boolean> {
    return (await this.manifestDigest(ref, digest)) === digest;
  }

  private async manifestDigest(ref: RepoRef, reference: string): Promise<string | undefined> {
    const url = `${this.base(ref.registry)}/v2/${ref.path}/manifests/${reference}`;
    const res = await this.request(ref, url);
    if (res.status === 404) return undefined;
    if (!res.ok) throw new Error(`${ref.registry}/${ref.path}:${reference}: the registry answered ${res.status}`);
    const digest = res.headers.get('docker-content-digest');
    if (!digest) throw new Error(`${ref.registry}/${ref.path}:${reference}: no Docker-Content-Digest in the answer`);
    return digest;
  }

  /** HEAD with the repository's pull token; on a Bearer challenge, fetch the token once and retry. */
  private async request(ref: RepoRef, url: string): Promise<Response> {
    const key = `${ref.registry}/${ref.path}`;
    const head = () => {
      const token = this.tokens.get(key);
      return fetch(url, {
        method: 'HEAD',
        signal: AbortSignal.timeout(TIMEOUT_MS),
        headers: { accept: ACCEPT, ...(token ? { authorization: `Bearer ${token}` } : {}) },
      });
    };
    let res = await head().catch((e: Error) => {
      throw new Error(`${ref.registry}: ${(e.cause as Error | undefined)?.message ?? e.message} (${url})`);
    });
    const challenge = res.status === 401 ? bearerChallenge(res.headers.get('www-authenticate')) : undefined;
    if (challenge?.realm) {
      this.tokens.set(key, await this.token(challenge, `repository:${ref.path}:pull`));
      res = await head();
    }
    return res;
  }

  private async token(challenge: Record<string, string>, scope: string): Promise<string> {
    const q = new URLSearchParams({ ...(challenge.service ? { service: challenge.service } : {}), scope });
    const res = await fetch(`${challenge.realm}?${q.toString()}`, { signal: AbortSignal.timeout(TIMEOUT_MS) });
    if (!res.ok) throw new Error(`token from ${challenge.realm}: ${res.status}`);
    const body = (await res.json()) as { token?: string; access_token?: string };
    const token = body.token ?? body.access_token;
    if (!token) throw new Error(`token from ${challenge.realm}: the answer holds no token`);
    return token;
  }
}
