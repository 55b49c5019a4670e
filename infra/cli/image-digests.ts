/**
 * `npm run images:digests -- [check|record] [--require-digests]`: the third-party image pins
 * (infra/model/images.ts) against their registries, where a registry answers (GitHub's runners, a laptop;
 * not the offline CI machine).
 *   check   every recorded digest must exist in its pin's repository; a tag-only pin is reported with the digest
 *           its tag points at now (with --require-digests it fails instead)
 *   record  writes the digest of each tag-only pin (and of a recorded digest the repository does not hold) into
 *           infra/model/images.ts, services/Dockerfile's ARG defaults and the README's pin table; then run
 *           `npm run synth` and update the k8s snapshots (the rendered references change)
 * PRISM_REGISTRY_ENDPOINTS=docker.io=http://127.0.0.1:5000,… sends a registry's requests elsewhere (a
 * pull-through mirror). Exit codes: 0 all good, 1 a pin failed, 2 usage or a registry that cannot be asked.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import {
  type PinState,
  checkPins,
  registrySource,
  setDigestInDockerfile,
  setDigestInPins,
  setDigestInReadme,
} from '#infra/images/pin-digests';
import { RegistryClient, endpoints, repoRef } from '#infra/images/registry';
import { THIRD_PARTY_IMAGES, type PinnedImage } from '#infra/model/index';

const USAGE = 'usage: npm run images:digests -- [check|record] [--require-digests]';
const FILES = { pins: 'infra/model/images.ts', dockerfile: 'services/Dockerfile', readme: 'README.md' };

async function main(): Promise<number> {
  let command: string;
  let requireDigests: boolean;
  let client: RegistryClient;
  try {
    const { positionals, values } = parseArgs({
      allowPositionals: true,
      options: { 'require-digests': { type: 'boolean', default: false } },
    });
    command = positionals[0] ?? 'check';
    if (positionals.length > 1 || !['check', 'record'].includes(command))
      throw new Error(`unknown command ${positionals.join(' ')}`);
    requireDigests = values['require-digests'];
    client = new RegistryClient(endpoints(process.env.PRISM_REGISTRY_ENDPOINTS));
  } catch (e) {
    console.error(`${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  const pins = Object.entries(THIRD_PARTY_IMAGES) as [string, PinnedImage][];
  let states;
  try {
    states = await checkPins(client, pins);
  } catch (e) {
    console.error(`images:digests: ${(e as Error).message}`);
    return 2;
  }
  const gh = process.env.GITHUB_ACTIONS === 'true';
  let failed = 0;
  for (const s of states) {
    const line = describe(s);
    const bad = s.kind === 'no-tag' || s.kind === 'unknown-digest' || (s.kind === 'tag-only' && requireDigests);
    if (bad) failed++;
    console.log(gh && (bad || s.kind === 'tag-only') ? `::${bad ? 'error' : 'warning'}::${line}` : line);
  }
  if (command === 'record') {
    const day = new Date().toISOString().slice(0, 10);
    let text = { pins: read(FILES.pins), dockerfile: read(FILES.dockerfile), readme: read(FILES.readme) };
    let n = 0;
    for (const s of states) {
      if (!('current' in s) || !s.current || s.kind === 'ok') continue;
      const p = pinOf(s.name);
      text = {
        pins: setDigestInPins(text.pins, s.name, s.current, registrySource(repoRef(p.repository).registry, day)),
        dockerfile: setDigestInDockerfile(text.dockerfile, p, s.current),
        readme: setDigestInReadme(text.readme, p, s.current),
      };
      n++;
    }
    for (const k of Object.keys(FILES) as (keyof typeof FILES)[]) writeFileSync(FILES[k], text[k]);
    console.log(`recorded ${n} digest(s); now: npm run synth && npx vitest run test/k8s -u (read the diff)`);
    return 0;
  }
  return failed ? 1 : 0;
}

/** One line per pin: what the registry said, and what to do about it. */
function describe(s: PinState): string {
  const pin = pinOf(s.name);
  switch (s.kind) {
    case 'ok':
      return `ok         ${s.ref}${s.current && s.current !== pin.digest ? ` (the tag now points at ${s.current}: rebuilt since; re-pin for its base's fixes)` : ''}`;
    case 'tag-only':
      return `tag-only   ${s.ref}: the tag points at ${s.current} (record it: npm run images:digests -- record)`;
    case 'no-tag':
      return `FAIL       ${s.ref}: no such tag in ${repoRef(pin.repository).registry}`;
    case 'unknown-digest':
      return `FAIL       ${s.ref}@${pin.digest}: the repository holds no such digest`;
  }
}

const pinOf = (name: string) => THIRD_PARTY_IMAGES[name as keyof typeof THIRD_PARTY_IMAGES] as PinnedImage;
const read = (f: string) => readFileSync(f, 'utf8');

process.exitCode = await main();
