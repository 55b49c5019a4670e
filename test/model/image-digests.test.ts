import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { type Server, createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT, importPKCS8 } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkPins,
  setDigestInDockerfile,
  setDigestInPins,
  setDigestInReadme,
} from '../../infra/images/pin-digests.js';
import { RegistryClient, endpoints, repoRef } from '../../infra/images/registry.js';
import { THIRD_PARTY_IMAGES, type PinnedImage } from '../../infra/model/images.js';
import { freePort, waitFor } from '../support/net.js';
import { makePki } from '../../services/runtime/test/support/certs.js';

/**
 * `npm run images:digests` against a real registry (CNCF Distribution, `registry`, from scripts/install-tools.sh)
 * that demands Bearer tokens as Docker Hub does: its token service is this test's, signing with a key whose
 * certificate the registry trusts, and the registry checks every token's signature, audience and scope.
 */

const dir = mkdtempSync(join(tmpdir(), 'prism-registry-'));
const SERVICE = 'prism-test-registry';
let registry: ChildProcess;
let tokenServer: Server;
let base = '';
let log = '';
let sign: (scope: string) => Promise<string>;
let pki: ReturnType<typeof makePki>;

const sha256 = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

beforeAll(async () => {
  // The token service's signing key and certificate: a throw-away CA's (the registry trusts exactly that).
  pki = makePki();
  const key = await importPKCS8(readFileSync(pki.caKey, 'utf8'), 'ES256');
  const der = readFileSync(pki.caCert, 'utf8').replace(/-----[^-]+-----|\s/g, '');
  sign = (scope) => {
    const [, name, actions] = scope.split(':');
    return new SignJWT({ access: [{ type: 'repository', name, actions: actions!.split(',') }] })
      .setProtectedHeader({ alg: 'ES256', x5c: [der] })
      .setIssuer('prism-test-issuer')
      .setSubject('tester')
      .setAudience(SERVICE)
      .setIssuedAt()
      .setNotBefore('0s')
      .setExpirationTime('5m')
      .setJti(String(Math.random()))
      .sign(key);
  };
  // The token service: anonymous pulls only, as Docker Hub gives them; pushes are the test's own (signed below).
  const tokenPort = await freePort();
  tokenServer = createServer((req, res) => {
    const q = new URL(req.url!, 'http://x').searchParams;
    const scope = q.get('scope') ?? '';
    if (q.get('service') !== SERVICE || !/^repository:[\w./-]+:pull$/.test(scope)) return res.writeHead(400).end();
    void sign(scope).then((token) =>
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token })),
    );
  }).listen(tokenPort, '127.0.0.1');
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  writeFileSync(
    join(dir, 'config.yml'),
    [
      'version: 0.1',
      'log: { level: warn }',
      `storage: { filesystem: { rootdirectory: ${join(dir, 'data')} } }`,
      `http: { addr: 127.0.0.1:${port} }`,
      `auth: { token: { realm: http://127.0.0.1:${tokenPort}/token, service: ${SERVICE}, issuer: prism-test-issuer, rootcertbundle: ${pki.caCert} } }`,
    ].join('\n'),
  );
  registry = spawn('registry', ['serve', join(dir, 'config.yml')], { stdio: ['ignore', 'pipe', 'pipe'] });
  registry.stdout!.on('data', (d) => (log += d));
  registry.stderr!.on('data', (d) => (log += d));
  await waitFor('the registry', async () => (await fetch(`${base}/v2/`)).status === 401, 20_000).catch((e) => {
    throw new Error(`registry did not start: ${e}\n${log}`);
  });
});

afterAll(() => {
  registry?.kill();
  tokenServer?.close();
  rmSync(dir, { recursive: true, force: true });
  if (pki) rmSync(pki.dir, { recursive: true, force: true });
});

/** Pushes a one-layer image (and, with `index`, a multi-platform index of it) as `docker push` does. */
async function push(path: string, tag: string, seed: string, index = false): Promise<string> {
  const auth = { authorization: `Bearer ${await sign(`repository:${path}:pull,push`)}` };
  const blob = async (body: string) => {
    const start = await fetch(`${base}/v2/${path}/blobs/uploads/`, { method: 'POST', headers: auth });
    expect(start.status, log).toBe(202);
    const loc = new URL(start.headers.get('location')!, base);
    loc.searchParams.set('digest', sha256(body));
    expect((await fetch(loc, { method: 'PUT', headers: auth, body })).status).toBe(201);
    return { digest: sha256(body), size: Buffer.byteLength(body) };
  };
  const put = async (ref: string, mediaType: string, doc: object) => {
    const body = JSON.stringify(doc);
    const res = await fetch(`${base}/v2/${path}/manifests/${ref}`, {
      method: 'PUT',
      headers: { ...auth, 'content-type': mediaType },
      body,
    });
    expect(res.status, await res.text()).toBe(201);
    return { digest: sha256(body), size: Buffer.byteLength(body), mediaType };
  };
  const config = await blob(
    JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, seed }),
  );
  const layer = await blob(`layer of ${seed}`);
  const MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
  const manifest = await put(index ? `${tag}-amd64` : tag, MANIFEST, {
    schemaVersion: 2,
    mediaType: MANIFEST,
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...layer }],
  });
  if (!index) return manifest.digest;
  const INDEX = 'application/vnd.oci.image.index.v1+json';
  return (
    await put(tag, INDEX, {
      schemaVersion: 2,
      mediaType: INDEX,
      manifests: [{ ...manifest, platform: { architecture: 'amd64', os: 'linux' } }],
    })
  ).digest;
}

const pin = (repository: string, tag: string, digest?: string): PinnedImage => ({
  repository,
  tag,
  ...(digest ? { digest, digestSource: 'test' } : {}),
  tools: { httpCheck: 'none', shell: true },
  support: { kind: 'current', checked: '2026-12-06', source: 'test' },
  why: 'test',
});

describe('the registry client (OCI distribution API, Bearer challenge)', () => {
  it('resolves a tag to the digest of what was pushed, index or single manifest, through the token service', async () => {
    expect((await fetch(`${base}/v2/library/postgres/manifests/16`, { method: 'HEAD' })).status).toBe(401);
    const idx = await push('library/postgres', '16.14-trixie', 'pg', true);
    const one = await push('prism/tool', '1.0', 'tool');
    const client = new RegistryClient(endpoints(`docker.io=${base},example.io=${base}`));
    expect(await client.resolveTag(repoRef('postgres'), '16.14-trixie')).toBe(idx);
    expect(await client.resolveTag(repoRef('example.io/prism/tool'), '1.0')).toBe(one);
    expect(await client.resolveTag(repoRef('postgres'), 'no-such-tag')).toBeUndefined();
    expect(await client.hasDigest(repoRef('postgres'), idx)).toBe(true);
  });

  it("refuses a digest the repository does not hold: made up, or another repository's", async () => {
    const other = await push('library/redis', '7.4.11-alpine', 'redis');
    const client = new RegistryClient(endpoints(`docker.io=${base}`));
    expect(await client.hasDigest(repoRef('postgres'), sha256('made up'))).toBe(false);
    expect(await client.hasDigest(repoRef('postgres'), other)).toBe(false);
  });

  it('names Docker Hub, short names and registries as docker does; a malformed endpoint is refused', () => {
    expect(repoRef('postgres')).toEqual({ registry: 'docker.io', path: 'library/postgres' });
    expect(repoRef('grafana/loki')).toEqual({ registry: 'docker.io', path: 'grafana/loki' });
    expect(repoRef('ghcr.io/prism-platform/prism-auth')).toEqual({
      registry: 'ghcr.io',
      path: 'prism-platform/prism-auth',
    });
    expect(endpoints()('docker.io')).toBe('https://registry-1.docker.io');
    expect(() => endpoints('docker.io=127.0.0.1:5000')).toThrow('expected <registry>=<http(s)://host[:port]>');
  });
});

describe('checking and recording the pins', () => {
  it('ok for a digest the repository holds, tag-only with the current digest, failures named', async () => {
    const nats = await push('library/nats', '2.15.3-alpine', 'nats', true);
    const pg = await push('library/postgres', '16.14-trixie', 'pg', true);
    const client = new RegistryClient(endpoints(`docker.io=${base}`));
    const states = await checkPins(client, [
      ['postgres', pin('postgres', '16.14-trixie', pg)],
      ['nats', pin('nats', '2.15.3-alpine')],
      ['gone', pin('nats', '9.9.9')],
      ['forged', pin('nats', '2.15.3-alpine', sha256('forged'))],
    ]);
    expect(states).toEqual([
      { name: 'postgres', ref: 'postgres:16.14-trixie', kind: 'ok', current: pg },
      { name: 'nats', ref: 'nats:2.15.3-alpine', kind: 'tag-only', current: nats },
      { name: 'gone', ref: 'nats:9.9.9', kind: 'no-tag' },
      { name: 'forged', ref: 'nats:2.15.3-alpine', kind: 'unknown-digest', current: nats },
    ]);
  });

  it('npm run images:digests check: exit 1 naming a forged or missing pin, tag-only pins with their digest', async () => {
    const nats = await push('library/nats', THIRD_PARTY_IMAGES.nats.tag, 'nats', true);
    // Not spawnSync: the token service answers from this process.
    const r = await new Promise<{ status: number | null; stdout: string; stderr: string }>((res) => {
      execFile(
        'node',
        ['--import', 'tsx', 'infra/cli/image-digests.ts', 'check'],
        { env: { ...process.env, PRISM_REGISTRY_ENDPOINTS: `docker.io=${base}`, GITHUB_ACTIONS: '' } },
        (e, stdout, stderr) => res({ status: e ? ((e as { code?: number }).code ?? null) : 0, stdout, stderr }),
      );
    });
    expect(r.status, r.stderr).toBe(1);
    expect(r.stdout).toContain(`tag-only   nats:${THIRD_PARTY_IMAGES.nats.tag}: the tag points at ${nats}`);
    // The pushed postgres is not the image the pin's digest names: refused.
    const p = THIRD_PARTY_IMAGES.postgres;
    expect(r.stdout).toContain(`FAIL       postgres:${p.tag}@${p.digest}: the repository holds no such digest`);
    expect(r.stdout).toContain(`FAIL       redis:${THIRD_PARTY_IMAGES.redis.tag}@`);
  });

  it('record writes the digest into the pin, the Dockerfile ARG and the README row, and nothing else', () => {
    const d = sha256('recorded');
    const pins = readFileSync('infra/model/images.ts', 'utf8');
    const after = setDigestInPins(pins, 'nats', d, 'the registry (docker.io) for this tag on 2026-12-06');
    const diff = after.split('\n').filter((l) => !pins.split('\n').includes(l));
    expect(diff).toEqual([
      `    digest: '${d}',`,
      "    digestSource: 'the registry (docker.io) for this tag on 2026-12-06',",
    ]);
    // A recorded digest is replaced with its source, however many lines the source spanned.
    const again = setDigestInPins(after, 'traefik', d, 'src');
    expect(again).toContain(
      `  traefik: {\n    repository: 'traefik',\n    tag: '${THIRD_PARTY_IMAGES.traefik.tag}',\n    digest: '${d}',\n    digestSource: 'src',\n    tools: `,
    );
    expect(again.split('\n').length).toBe(after.split('\n').length - 2);
    const docker = readFileSync('services/Dockerfile', 'utf8');
    const node = THIRD_PARTY_IMAGES.node;
    expect(setDigestInDockerfile(docker, node, d)).toContain(`ARG NODE_IMAGE=${node.repository}:${node.tag}@${d}\n`);
    const readme = readFileSync('README.md', 'utf8');
    const row = (t: string) =>
      t.split('\n').find((l) => l.startsWith(`| \`nats\` | \`${THIRD_PARTY_IMAGES.nats.tag}\` | `));
    expect(row(readme)).toContain('| none found |');
    expect(row(setDigestInReadme(readme, THIRD_PARTY_IMAGES.nats, d))).toContain(`| \`${d.slice(0, 19)}…\` |`);
  });
});
