import { describe, expect, it } from 'vitest';
import { parseStackFile, StackConfigError } from '../../infra/config/index.js';
import { OFFSITE_SECRET_KEYS } from '../../infra/contract/index.js';
import { find, synth } from '../support/synth.js';

const FILE = 'stacks/Pulumi.test.yaml';
const base = { 'prism:domain': 'api.test.example.com', 'prism:images': { tag: '1.2.3' } };
function problems(offsite: unknown): string[] {
  try {
    parseStackFile({ config: { ...base, 'prism:backups': { offsite } } }, FILE);
  } catch (e) {
    expect(e).toBeInstanceOf(StackConfigError);
    return [...(e as StackConfigError).problems];
  }
  throw new Error('expected the configuration to be rejected');
}

const container = (o: any) =>
  (o.kind === 'CronJob' ? o.spec.jobTemplate.spec.template.spec : o.spec.template.spec).containers[0];
const envOf = (o: any) => Object.fromEntries(container(o).env.map((e: any) => [e.name, e.value ?? e.valueFrom]));
const publicEgressPorts = (objects: any[], app: string) =>
  (find(objects, 'NetworkPolicy', `${app}-flows`) as any).spec.egress
    .filter((r: any) => r.to.some((t: any) => t.ipBlock))
    .flatMap((r: any) => r.ports.map((p: any) => p.port));

describe('off-site backup store (prod: backups.offsite)', () => {
  const { objects, stack } = synth('prod');
  const offsite = stack.config.backups.offsite!;

  it('the DB manager and every backup and verification task get the store, its credentials by secret reference only', () => {
    for (const [kind, name] of [
      ['Deployment', 'dbmanager'],
      ['CronJob', 'backup-auth'],
      ['CronJob', 'wal-ops'],
      ['CronJob', 'verify-auth'],
    ] as const) {
      const env = envOf(find(objects, kind, name));
      expect(env.PRISM_OFFSITE_S3_ENDPOINT).toBe(offsite.endpoint);
      expect(env.PRISM_OFFSITE_S3_BUCKET).toBe(offsite.bucket);
      expect(env.PRISM_OFFSITE_S3_REGION).toBe(offsite.region);
      expect(env.PRISM_OFFSITE_S3_ACCESS_KEY).toEqual({
        secretKeyRef: expect.objectContaining({ name: 'prism-secrets', key: 'backup-offsite-access-key' }),
      });
      expect(env.PRISM_OFFSITE_S3_SECRET_KEY).toEqual({
        secretKeyRef: expect.objectContaining({ name: 'prism-secrets', key: 'backup-offsite-secret-key' }),
      });
    }
  });

  it('may leave the cluster to the store’s port (public addresses only); the migration job may not', () => {
    for (const app of ['dbmanager', 'backup-auth', 'backup-ops', 'wal-auth', 'wal-ops', 'verify-auth', 'verify-ops'])
      expect(publicEgressPorts(objects, app)).toEqual([443]);
    expect(publicEgressPorts(objects, 'db-migrate')).toEqual([]);
  });

  it('syncs the off-site credentials into prism-secrets only in a stack that has an off-site store', () => {
    const keysOf = (objs: any[]) =>
      (find(objs, 'ExternalSecret', 'prism-secrets') as any).spec.data.map((d: any) => d.secretKey);
    expect(keysOf(objects)).toEqual(expect.arrayContaining([...OFFSITE_SECRET_KEYS]));
    expect(keysOf(synth('staging').objects)).not.toEqual(expect.arrayContaining([OFFSITE_SECRET_KEYS[0]]));
    expect(envOf(find(synth('staging').objects, 'Deployment', 'dbmanager')).PRISM_OFFSITE_S3_ENDPOINT).toBeUndefined();
  });
});

describe('a wrong off-site configuration is refused with the reason', () => {
  it('credentials written into the stack file', () => {
    const found = problems({
      endpoint: 'https://s3.example.com',
      bucket: 'offsite-bucket',
      secretKey: 'AKIA-very-secret',
    }).join('\n');
    expect(found).toMatch(
      /prism:backups\.offsite\.secretKey: credentials are not stack configuration: set the secret keys backup-offsite-access-key and backup-offsite-secret-key/,
    );
    expect(found).not.toContain('AKIA-very-secret');
  });

  it('an endpoint that is not an http(s) URL, and a bucket name S3 refuses', () => {
    const found = problems({ endpoint: 'ftp://backups.example.com', bucket: 'Bad_Bucket' }).join('\n');
    expect(found).toMatch(/prism:backups\.offsite\.endpoint: expected an http\(s\) URL/);
    expect(found).toMatch(/prism:backups\.offsite\.bucket: expected an S3 bucket name/);
  });
});
