import { spawnSync } from 'node:child_process';
import { chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ensureKeyPair } from '../../infra/local/index.js';
import { allServices, unescape } from './support.js';
import { mode } from '../local/support.js';

/**
 * The volume-init one-shots (fsGroup and Secret defaultMode for Compose), run for real: the
 * script Compose would run, under /init moved to a temporary directory, as root limited to the
 * capabilities the compose file grants (setpriv drops the rest, as cap_drop/cap_add do).
 */

const services = allServices();
const isRoot = process.getuid?.() === 0;

function runInit(name: string, root: string) {
  const s = services.get(name)!;
  const script = unescape(s.command![0]!).replaceAll('/init/', `${root}/init/`);
  const caps = ['-all', ...(s.cap_add ?? []).map((c) => `+${c.toLowerCase()}`)].join(',');
  return spawnSync(
    'setpriv',
    [`--bounding-set=${caps}`, '--inh-caps=-all', '--', s.entrypoint![0]!, s.entrypoint![1]!, script],
    { encoding: 'utf8' },
  );
}

/**
 * Creates every named volume the one-shot mounts, as Docker would: a data or scratch volume
 * owned by the image's own user (Docker copies the image's directory), a key volume by root.
 */
function makeVolumes(name: string, root: string): string[] {
  const vols = services
    .get(name)!
    .volumes!.filter((v) => !v.startsWith('.'))
    .map((v) => v.split(':')[1]!);
  for (const v of vols) {
    mkdirSync(join(root, v), { recursive: true, mode: 0o755 });
    if (!v.endsWith('-secret-files')) chownSync(join(root, v), 999, 999);
  }
  return vols;
}

describe('volume-init one-shots', () => {
  it('run as root with CHOWN (and DAC_READ_SEARCH for the keys) only, no network', () => {
    expect(isRoot).toBe(true);
    for (const name of ['data-volume-init', 'core-volume-init', 'observability-volume-init']) {
      const s = services.get(name)!;
      expect(s, name).toBeDefined();
      expect(s.user).toBe('0:0');
      expect(s.cap_drop).toEqual(['ALL']);
      expect(s.network_mode).toBe('none');
    }
    expect(services.get('data-volume-init')!.cap_add).toEqual(['CHOWN']);
    expect(services.get('core-volume-init')!.cap_add).toEqual(['CHOWN', 'DAC_READ_SEARCH']);
  });

  it('give each data volume, and the disk scratch of the DB manager, to the user of its component', () => {
    const root = mkdtempSync(join(tmpdir(), 'prism-init-'));
    const vols = makeVolumes('data-volume-init', root);
    const r = runInit('data-volume-init', root);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    for (const v of vols) expect(statSync(join(root, v)).uid, v).toBe(10001);

    const core = mkdtempSync(join(tmpdir(), 'prism-init-'));
    ensureKeyPair({ privateKey: join(core, 'init/keys/private.pem'), publicKey: join(core, 'init/keys/public.pem') });
    makeVolumes('core-volume-init', core);
    expect(runInit('core-volume-init', core).status).toBe(0);
    expect(statSync(join(core, 'init/dbmanager-scratch-var-lib-prism-scratch')).uid).toBe(10001);
  });

  it("copy the developer's 0600 key pair into each component's volume, owned by its user, mode 0440", () => {
    const root = mkdtempSync(join(tmpdir(), 'prism-init-'));
    const keys = join(root, 'init/keys');
    ensureKeyPair({ privateKey: join(keys, 'private.pem'), publicKey: join(keys, 'public.pem') });
    // Owned by a developer account, as on a Linux host: root needs DAC_READ_SEARCH to read it.
    for (const f of ['private.pem', 'public.pem']) chownSync(join(keys, f), 1000, 1000);
    makeVolumes('core-volume-init', root);
    const r = runInit('core-volume-init', root);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    for (const [dir, files] of [
      ['auth-secret-files', ['private.pem', 'public.pem']],
      ['gateway-secret-files', ['public.pem']],
    ] as const) {
      for (const f of files) {
        const p = join(root, 'init', dir, f);
        expect(readFileSync(p, 'utf8')).toBe(readFileSync(join(keys, f), 'utf8'));
        expect(statSync(p).uid).toBe(10001);
        expect(mode(statSync(p).mode)).toBe('0440');
      }
    }
    expect(() => statSync(join(root, 'init/gateway-secret-files/private.pem'))).toThrow();

    // Keys rotated: the next run replaces the copies.
    ensureKeyPair({ privateKey: join(keys, 'private.pem'), publicKey: join(keys, 'public.pem') }, true);
    expect(runInit('core-volume-init', root).status).toBe(0);
    expect(readFileSync(join(root, 'init/auth-secret-files/private.pem'), 'utf8')).toBe(
      readFileSync(join(keys, 'private.pem'), 'utf8'),
    );
  });

  it('stop with the way out when the keys were never generated', () => {
    const root = mkdtempSync(join(tmpdir(), 'prism-init-'));
    mkdirSync(join(root, 'init/keys'), { recursive: true });
    makeVolumes('core-volume-init', root);
    const r = runInit('core-volume-init', root);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('keys/public.pem is missing: run make generate-keys');
  });

  it('cannot read the private key without DAC_READ_SEARCH (the capability is needed, not decoration)', () => {
    const root = mkdtempSync(join(tmpdir(), 'prism-init-'));
    const keys = join(root, 'init/keys');
    ensureKeyPair({ privateKey: join(keys, 'private.pem'), publicKey: join(keys, 'public.pem') });
    chownSync(join(keys, 'private.pem'), 1000, 1000);
    makeVolumes('core-volume-init', root);
    const s = services.get('core-volume-init')!;
    const script = unescape(s.command![0]!).replaceAll('/init/', `${root}/init/`);
    const r = spawnSync('setpriv', ['--bounding-set=-all,+chown', '--inh-caps=-all', '--', '/bin/sh', '-c', script], {
      encoding: 'utf8',
    });
    expect(r.status).not.toBe(0);
    rmSync(root, { recursive: true });
  });
});
