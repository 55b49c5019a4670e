import { describe, expect, it } from 'vitest';
import { diffEnvironment, formatEnvironment, formatReport } from '../../infra/diff/index.js';
import { maskText } from '../../infra/diff/mask.js';
import { objectKey, type ManifestObject } from '../../infra/manifest/index.js';

const env = (...objects: ManifestObject[]) => new Map(objects.map((o) => [objectKey(o), o]));
const report = (before: ManifestObject[], after: ManifestObject[]) =>
  formatEnvironment(diffEnvironment('dev', env(...before), env(...after))).join('\n');

const SECRETS = ['s3cr3t-old', 's3cr3t-new', 'hunter2', 'tok-123', 'pem-body', 'oauth-secret', '424242'];

function deployment(
  envVars: { name: string; value?: string; valueFrom?: unknown }[],
  extra: Record<string, unknown> = {},
): ManifestObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'gateway', namespace: 'prism' },
    spec: {
      template: {
        spec: {
          automountServiceAccountToken: false,
          containers: [{ name: 'gateway', image: 'gw:1', env: envVars, ...extra }],
        },
      },
    },
  };
}

describe('manifest diff: secret values are never shown', () => {
  it("a Secret's data and stringData changes are reported with their key, values hidden", () => {
    const secret = (data: Record<string, string>, stringData: Record<string, string>): ManifestObject => ({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'prism-secrets', namespace: 'prism' },
      data,
      stringData,
    });
    const out = report(
      [secret({ 'redis-password': 's3cr3t-old' }, { a: 'hunter2' })],
      [secret({ 'redis-password': 's3cr3t-new', extra: 'tok-123' }, { a: 'pem-body' })],
    );
    expect(out).toContain('~ v1 Secret prism/prism-secrets');
    expect(out).toContain('    data.redis-password: (hidden) → (hidden) (value changed)');
    expect(out).toContain('    data.extra: (none) → (hidden)');
    expect(out).toContain('    stringData.a: (hidden) → (hidden) (value changed)');
    for (const s of SECRETS) expect(out).not.toContain(s);
  });

  it('password/secret/token-named keys, env values of such names and added structures are hidden; references stay visible', () => {
    const before = deployment([
      { name: 'PRISM_REDIS_PASSWORD', valueFrom: { secretKeyRef: { name: 'prism-secrets', key: 'redis-password' } } },
      { name: 'PRISM_LOG_LEVEL', value: 'info' },
    ]);
    const after = deployment(
      [
        { name: 'PRISM_REDIS_PASSWORD', value: 'hunter2' },
        { name: 'PRISM_LOG_LEVEL', value: 'debug' },
        { name: 'PRISM_API_TOKEN', value: 'tok-123' },
      ],
      { clientSecret: 'oauth-secret', credentials: { pin: 424242, enabled: true } },
    );
    const out = report([before], [after]);
    const c = 'spec.template.spec.containers[name=gateway]';
    expect(out).toContain(`    ${c}.env[name=PRISM_REDIS_PASSWORD].value: (none) → (hidden)`);
    // The reference that went away is not a secret: shown.
    expect(out).toContain(
      `    ${c}.env[name=PRISM_REDIS_PASSWORD].valueFrom: {"secretKeyRef":{"name":"prism-secrets","key":"redis-password"}} → (none)`,
    );
    expect(out).toContain(`    ${c}.env[name=PRISM_LOG_LEVEL].value: "info" → "debug"`);
    expect(out).toContain(`    ${c}.env[name=PRISM_API_TOKEN]: (none) → {"name":"PRISM_API_TOKEN","value":"(hidden)"}`);
    expect(out).toContain(`    ${c}.clientSecret: (none) → (hidden)`);
    expect(out).toContain(`    ${c}.credentials: (none) → {"pin":"(hidden)","enabled":true}`);
    for (const s of SECRETS) expect(out).not.toContain(s);
  });

  it('secret-looking lines of a changed config file are masked; the others are shown', () => {
    const cm = (text: string): ManifestObject => ({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'redis', namespace: 'prism' },
      data: { 'redis.conf': text },
    });
    const out = report(
      [cm('port 6379\nrequirepass hunter2\nmaxmemory 100mb\n')],
      [cm('port 6380\nrequirepass s3cr3t-new\nmaxmemory 100mb\n')],
    );
    expect(out).toContain('    data["redis.conf"]: text changed');
    expect(out).toContain(
      '      - port 6379\n      - requirepass (hidden)\n      + port 6380\n      + requirepass (hidden)',
    );
    expect(out).not.toContain('maxmemory');
    for (const s of SECRETS) expect(out).not.toContain(s);
    expect(maskText('  password: "x y"')).toBe('  password: (hidden)');
    expect(maskText('client_secret=abc')).toBe('client_secret=(hidden)');
    expect(maskText('secretName: prism-tls')).toBe('secretName: prism-tls');
  });
});

describe('manifest diff: structure', () => {
  const svc = (name: string, port: number): ManifestObject => ({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: 'prism', annotations: { 'prism.io/x': 'a' } },
    spec: { ports: [{ name: 'http', port }] },
  });
  const ns: ManifestObject = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'prism' } };

  it('added, removed and changed objects are keyed by apiVersion/kind/namespace/name and sorted', () => {
    const out = report([ns, svc('b', 80), svc('c', 80)], [svc('a', 80), svc('b', 81), ns]);
    expect(out).toBe(
      [
        'dev: 1 added, 1 removed, 1 changed',
        '+ v1 Service prism/a',
        '- v1 Service prism/c',
        '~ v1 Service prism/b',
        '    spec.ports[name=http].port: 80 → 81',
      ].join('\n'),
    );
  });

  it('an apiVersion change is a removal and an addition; unnamed lists are compared by position', () => {
    const es = (apiVersion: string, keys: string[]): ManifestObject => ({
      apiVersion,
      kind: 'ExternalSecret',
      metadata: { name: 'prism-secrets', namespace: 'prism' },
      spec: { keys },
    });
    expect(report([es('external-secrets.io/v1beta1', ['a'])], [es('external-secrets.io/v1', ['a'])])).toBe(
      [
        'dev: 1 added, 1 removed, 0 changed',
        '+ external-secrets.io/v1 ExternalSecret prism/prism-secrets',
        '- external-secrets.io/v1beta1 ExternalSecret prism/prism-secrets',
      ].join('\n'),
    );
    expect(report([es('v1', ['a', 'b'])], [es('v1', ['a', 'c', 'd'])])).toBe(
      [
        'dev: 0 added, 0 removed, 1 changed',
        '~ v1 ExternalSecret prism/prism-secrets',
        '    spec.keys[1]: "b" → "c"',
        '    spec.keys[2]: (none) → "d"',
      ].join('\n'),
    );
  });

  it('an environment only on one side is reported as new or removed; the summary names changed environments', () => {
    const diffs = [
      diffEnvironment('dev', env(ns), env(ns)),
      diffEnvironment('qa', undefined, env(ns)),
      diffEnvironment('old', env(ns), undefined),
    ];
    const text = formatReport(diffs, 'main (abc)', 'working tree');
    expect(text).toContain('dev: no changes\n');
    expect(text).toContain('qa: new environment (1 added, 0 removed, 0 changed)\n+ v1 Namespace prism');
    expect(text).toContain('old: environment removed (0 added, 1 removed, 0 changed)\n- v1 Namespace prism');
    expect(text.endsWith('Changes in 2 of 3 environments (qa, old) between main (abc) and working tree.')).toBe(true);
  });
});
