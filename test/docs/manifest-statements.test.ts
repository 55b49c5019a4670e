import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { find, synth } from '../support/synth.js';

/**
 * What the README and docs/security.md say about the log shipper's host access and about MinIO's
 * transport, derived from prod's rendered objects: a manifest change the text does not follow fails here.
 */

const { objects } = synth('prod');
// Line breaks inside a paragraph are spaces.
const README = readFileSync('README.md', 'utf8').replace(/\s+/g, ' ');
const SECURITY = readFileSync('docs/security.md', 'utf8').replace(/\s+/g, ' ');

interface Mount {
  name: string;
  mountPath: string;
  readOnly?: boolean;
}

describe("the docs' statements about privileged and plaintext paths match the manifests", () => {
  const alloy = find(objects, 'DaemonSet', 'alloy') as any;
  const pod = alloy.spec.template.spec;
  const container = pod.containers[0];
  const hostPaths = (pod.volumes as { name: string; hostPath?: { path: string } }[])
    .filter((v) => v.hostPath)
    .map((v) => {
      const mount = (container.volumeMounts as Mount[]).find((m) => m.name === v.name)!;
      return { path: v.hostPath!.path, mode: mount.readOnly ? 'read-only' : 'writable' };
    });

  it('Alloy: UID 0, each hostPath with its mode, the service-account token, in both documents', () => {
    expect(hostPaths.length).toBeGreaterThan(0);
    expect(container.securityContext.runAsUser).toBe(0);
    expect(SECURITY).toContain(
      `DaemonSet \`${alloy.metadata.name}\` in \`${alloy.metadata.namespace}\`), runs as UID 0`,
    );
    for (const h of hostPaths) {
      expect(SECURITY).toContain(`\`${h.path}\` (${h.mode}`);
      expect(README).toContain(`\`${h.path}\` (${h.mode})`);
    }
    const token = pod.automountServiceAccountToken !== false;
    expect(SECURITY).toContain(token ? 'It mounts its service-account token' : 'It mounts no service-account token');
    expect(README).toContain(token ? 'mounts its service-account token' : 'mounts no service-account token');
    // The claims the hardening makes.
    expect(container.securityContext).toMatchObject({ readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    expect(SECURITY).toContain('every capability is dropped and its root file system is read-only');
  });

  it('MinIO: the scheme the DB manager and the backup jobs reach it with', () => {
    const endpoints = new Set<string>();
    for (const o of objects as any[]) {
      const spec = o.kind === 'CronJob' ? o.spec.jobTemplate.spec.template.spec : o.spec?.template?.spec;
      for (const c of spec?.containers ?? [])
        for (const e of c.env ?? []) if (e.name === 'PRISM_S3_ENDPOINT') endpoints.add(e.value);
    }
    expect(endpoints.size).toBe(1);
    const [endpoint] = [...endpoints] as [string];
    const plain = endpoint.startsWith('http://');
    expect(SECURITY).toContain(
      plain
        ? `MinIO serves backups over plain HTTP (\`PRISM_S3_ENDPOINT\` \`${endpoint}\`)`
        : 'MinIO serves backups over HTTPS',
    );
    expect(README).toContain(plain ? 'serves backups over plain HTTP' : 'serves backups over HTTPS');
  });
});
