import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { SECRET_KEYS } from '../../infra/contract/index.js';
import { synth } from '../support/synth.js';

/** Runs the real `cdk8s synth` entry point into a fresh directory; returns file name → content. */
function synthToDisk(cwd = process.cwd()): Record<string, string> {
  const out = mkdtempSync(join(tmpdir(), 'prism-out-'));
  execFileSync(resolve('node_modules/.bin/tsx'), [resolve('charts/main.ts')], {
    cwd,
    env: { ...process.env, CDK8S_OUTDIR: out },
    stdio: 'pipe',
  });
  const files: Record<string, string> = {};
  for (const env of readdirSync(out).sort()) {
    for (const f of readdirSync(join(out, env)).sort()) files[`${env}/${f}`] = readFileSync(join(out, env, f), 'utf8');
  }
  return files;
}

describe('synthesized output', () => {
  const first = synthToDisk();

  it('has every environment and chart', () => {
    expect(Object.keys(first)).toEqual(
      ['dev', 'prod', 'staging'].flatMap((e) =>
        ['0000-base', '0001-data', '0002-core', '0003-observability', '0004-edge'].map((c) => `${e}/${c}.k8s.yaml`),
      ),
    );
  });

  it('is byte-identical across two runs', () => {
    expect(synthToDisk()).toEqual(first);
  });

  it.each(['0000-base', '0001-data', '0002-core', '0003-observability', '0004-edge'])(
    'matches the dev snapshot: %s',
    async (chart) => {
      await expect(first[`dev/${chart}.k8s.yaml`]).toMatchFileSnapshot(`__snapshots__/dev/${chart}.k8s.yaml`);
    },
  );
});

describe('secret values', () => {
  it('never reach the output, whatever the stack file holds', () => {
    const dir = mkdtempSync(join(tmpdir(), 'prism-canary-'));
    mkdirSync(join(dir, 'stacks'));
    const canaries = SECRET_KEYS.map((k) => `CANARY-${k.key}-7f3a9c`);
    const config: Record<string, unknown> = {
      'prism:domain': 'api.canary.example.com',
      'prism:images': { tag: '9.9.9' },
      'prism:secrets': { mode: 'pulumi' },
      'prism:cluster': { apiServer: { cidrs: ['10.0.0.1/32'], port: 443 } },
      // Every receiver kind, so every notification credential is mounted somewhere.
      'prism:alerting': {
        receivers: [
          { name: 'chat', slack: { channel: '#alerts' } },
          { name: 'pager', pagerduty: {} },
          {
            name: 'mail',
            email: {
              to: 'ops@example.com',
              from: 'am@example.com',
              smarthost: 'smtp.example.com:587',
              authUsername: 'am',
            },
          },
        ],
        defaultReceiver: 'chat',
        egressCidrs: ['10.0.8.0/24'],
      },
    };
    SECRET_KEYS.forEach((k, i) => (config[`prism:${k.pulumiKey}`] = { secure: canaries[i] }));
    writeFileSync(join(dir, 'stacks', 'Pulumi.canary.yaml'), stringify({ config }));

    const rendered =
      JSON.stringify(synth('canary', join(dir, 'stacks')).objects) + Object.values(synthToDisk(dir)).join('\n');
    expect(rendered).toContain('api.canary.example.com');
    for (const canary of canaries) expect(rendered).not.toContain(canary);
  });
});
