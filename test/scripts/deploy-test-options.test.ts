import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SECRET_KEYS } from '#contract';

/**
 * `deploy-test.sh --existing-cluster` in download mode (the pull-request workflow's deploy step) asks for
 * kubectl, the Pulumi CLI and the Kubernetes provider plugin, and for nothing of a control plane of its own.
 * It once cut "kubernetes" out of every tool name, pulumi-resource-kubernetes included, and stopped with
 * "unknown tool pulumi-resource-" before reaching the cluster.
 */
describe('deploy-test.sh --existing-cluster, download mode', () => {
  const kubectl = spawnSync('bash', ['scripts/control-plane-tools.sh', '--print-path', 'kubectl'], {
    encoding: 'utf8',
    env: { ...process.env, PRISM_TOOLCHAIN: 'source' },
  }).stdout.trim();

  it.runIf(kubectl !== '')('installs the provider plugin the ordinary way, then goes on to the cluster', () => {
    const dir = mkdtempSync(join(tmpdir(), 'prism-deploy-options-'));
    try {
      // The Pulumi CLI as pulumi/actions puts it on PATH, recording what it is asked (no download here).
      const log = join(dir, 'pulumi.log');
      writeFileSync(
        join(dir, 'pulumi'),
        `#!/bin/sh\necho "$*" >> ${log}\n[ "$1 $2" != "plugin ls" ] || echo "kubernetes  resource  4.34.2  167 MB"\n`,
      );
      chmodSync(join(dir, 'pulumi'), 0o755);
      const kubeconfig = join(dir, 'kubeconfig');
      writeFileSync(
        kubeconfig,
        [
          'apiVersion: v1',
          'kind: Config',
          'clusters: [{ name: none, cluster: { server: "https://127.0.0.1:1" } }]',
          'users: [{ name: none, user: {} }]',
          'contexts: [{ name: none, context: { cluster: none, user: none } }]',
          'current-context: none',
        ].join('\n'),
      );
      const r = spawnSync('bash', ['scripts/deploy-test.sh', '--existing-cluster'], {
        encoding: 'utf8',
        env: {
          ...process.env,
          PRISM_TOOLCHAIN: 'download',
          PATH: `${dir}:${kubectl}:${process.env.PATH}`,
          // Stops it at the cluster's first question: a server on a port nothing listens on (without a kubeconfig
          // kubectl would ask localhost:8080, which a local Compose edge may answer slowly).
          KUBECONFIG: kubeconfig,
        },
      });
      expect(r.stderr).not.toContain('unknown tool');
      expect(readFileSync(log, 'utf8')).toMatch(/^plugin install resource kubernetes v\d+\.\d+\.\d+$/m);
      expect(r.stdout).toContain('cluster: the existing one $KUBECONFIG points at');
      expect(r.status).not.toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('deploy-test.sh, secrets mode pulumi (staging)', () => {
  // A source without a case sets nothing, and the stack's program then refuses the missing key (the MinIO
  // metrics token, derived from another key, once did: staging's preview failed only in CI's deploy test).
  it('gives every source of the secret catalogue a value', () => {
    const script = readFileSync('scripts/deploy-test.sh', 'utf8');
    const loop = script.slice(script.indexOf('while read -r key source'), script.indexOf('done < <(secret_keys)'));
    for (const source of new Set(SECRET_KEYS.map((k) => k.source)))
      expect(loop, source).toMatch(new RegExp(`^\\s+${source}\\)`, 'm'));
  });
});
