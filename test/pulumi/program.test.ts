import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as pulumi from '@pulumi/pulumi';
import { parseAllDocuments } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StackConfigError } from '../../infra/config/index.js';
import { SECRET_KEYS, SECRET_NAME } from '../../infra/contract/index.js';
import { imageTag } from '../../infra/pulumi/images.js';
import { ENVIRONMENT_TYPE, Environment } from '../../infra/pulumi/program.js';
import { objectKey, type ManifestObject } from '../../infra/manifest/index.js';
import { TYPED_CLASSES, kubernetesResource, waveOf } from '../../infra/pulumi/resources.js';
import {
  fakeDigest,
  isSecretEnvelope,
  mockStack,
  settle,
  stackFileConfig,
  value,
  type MockRun,
  type Registration,
} from './harness.js';

const STACKS = ['dev', 'staging', 'prod'] as const;
const REVISION = '0123456789ab';
const SERVICES = ['gateway', 'auth', 'config', 'dbmanager'];

/** What `npm run synth` writes, read back from the YAML files (the cdk8s.yaml app, in a temp dir). */
let synthDir: string;
const synthesized = (stack: string): ManifestObject[] =>
  readdirSync(join(synthDir, stack))
    .sort()
    .flatMap((f) =>
      parseAllDocuments(readFileSync(join(synthDir, stack, f), 'utf8')).map((d) => d.toJS() as ManifestObject),
    )
    .filter((o) => o !== null);

beforeAll(() => {
  synthDir = mkdtempSync(join(tmpdir(), 'prism-synth-'));
  execFileSync('node', ['--import', './infra/cli/ts-loader.mjs', 'charts/main.ts'], {
    env: { ...process.env, CDK8S_OUTDIR: synthDir },
    stdio: 'pipe',
  });
}, 60_000);
afterAll(() => rmSync(synthDir, { recursive: true, force: true }));

async function run(
  stack: string,
  overrides: Record<string, string> = {},
  secrets: Record<string, string> = {},
  revision: string | (() => string) = REVISION,
) {
  const config = { ...stackFileConfig(`stacks/Pulumi.${stack}.yaml`), ...overrides, ...secrets };
  const mock = await mockStack(stack, config, Object.keys(secrets));
  const deployment = new Environment(stack, { revision });
  await settle([
    ...deployment.resources,
    ...deployment.images.map((i) => i.image),
    ...(deployment.secret ? [deployment.secret] : []),
  ]);
  return { mock, deployment };
}

/** Kubernetes objects registered (every kubernetes: type except the provider), by object key. */
function kubernetesObjects(mock: MockRun): Map<string, Registration> {
  const objects = mock.registrations.filter((r) => r.type.startsWith('kubernetes:'));
  return new Map(objects.map((r) => [objectKey(r.inputs as unknown as ManifestObject), r]));
}

const digestOf = (stack: string, service: string) =>
  fakeDigest(`ghcr.io/prism-platform/prism-${service}:${imageTag(stack, REVISION)}`);

/** The synthesized object as it should reach the engine: service containers on the pushed digest. */
function withDigests(o: ManifestObject, stack: string): unknown {
  const rendered = new Map(SERVICES.map((s) => [`ghcr.io/prism-platform/prism-${s}:0.1.0`, digestOf(stack, s)]));
  return JSON.parse(JSON.stringify(o), (key, v) =>
    key === 'image' && typeof v === 'string' && rendered.has(v) ? rendered.get(v) : v,
  );
}

describe.each(STACKS)('pulumi program, stack %s', (stack) => {
  let mock: MockRun;
  beforeAll(async () => {
    ({ mock } = await run(stack));
  });

  it('registers exactly the synthesized objects, each with the synthesized content', () => {
    const expected = synthesized(stack);
    const registered = kubernetesObjects(mock);
    expect([...registered.keys()].sort()).toEqual(expected.map(objectKey).sort());
    for (const o of expected) expect(registered.get(objectKey(o))!.inputs, objectKey(o)).toEqual(withDigests(o, stack));
  });

  it('uses typed resources for built-in kinds and a CustomResource only for CRD kinds', () => {
    const types = new Set([...kubernetesObjects(mock).values()].map((r) => r.type));
    expect(types).toContain('kubernetes:apps/v1:Deployment');
    expect(types).toContain('kubernetes:core/v1:Service');
    expect(types).toContain('kubernetes:networking.k8s.io/v1:NetworkPolicy');
    for (const t of types)
      expect(t).toMatch(
        /^kubernetes:(core|apps|batch|policy|autoscaling|networking\.k8s\.io|rbac\.authorization\.k8s\.io|external-secrets\.io|cert-manager\.io|policy\.cert-manager\.io)\/v\d+(alpha\d+)?:/,
      );
  });

  it('deploys through one explicit provider, namespaces first, Certificates after their approval, workloads after what they read', () => {
    const providers = mock.byType('pulumi:providers:kubernetes');
    expect(providers).toHaveLength(1);
    const objects = [...kubernetesObjects(mock).values()];
    for (const r of objects) expect(r.provider, r.name).toBe(`${providers[0]!.urn}::${providers[0]!.name}-id`);
    const namespaces = objects.filter((r) => r.type === 'kubernetes:core/v1:Namespace');
    expect(namespaces.length).toBeGreaterThan(0);
    const nsUrns = namespaces.map((r) => r.urn);
    for (const r of objects) {
      // The first wave: namespaces and the cluster-scoped objects Certificates wait for.
      if (/:(Namespace|CertificateRequestPolicy|ClusterRole|ClusterRoleBinding)$/.test(r.type))
        expect(r.dependencies, r.name).toEqual([]);
      else expect(r.dependencies, r.name).toEqual(expect.arrayContaining(nsUrns));
    }
    // Every Certificate after every approval policy and the roles to use them (a request seen by other identities'
    // policies alone is Denied, for good).
    const approval = objects
      .filter((r) => /:(CertificateRequestPolicy|ClusterRole|ClusterRoleBinding)$/.test(r.type))
      .map((r) => r.urn);
    expect(approval.length).toBeGreaterThanOrEqual(10);
    const certificates = objects.filter((r) => r.type === 'kubernetes:cert-manager.io/v1:Certificate');
    expect(certificates.length).toBeGreaterThanOrEqual(10);
    for (const c of certificates) expect(c.dependencies, c.name).toEqual(expect.arrayContaining(approval));
    const configMaps = objects.filter((r) => r.type === 'kubernetes:core/v1:ConfigMap').map((r) => r.urn);
    for (const w of objects.filter((r) => /:(Deployment|StatefulSet|CronJob|Job|DaemonSet)$/.test(r.type))) {
      expect(w.dependencies, w.name).toEqual(expect.arrayContaining(configMaps));
    }
  });

  it('is one prism:platform:Environment component named for the stack, the parent of every resource it registers', () => {
    const components = mock.byType(ENVIRONMENT_TYPE);
    expect(components.map((c) => [c.name, c.urn])).toEqual([
      [stack, `urn:pulumi:${stack}::prism::${ENVIRONMENT_TYPE}::${stack}`],
    ]);
    const component = components[0]!;
    const children = mock.registrations.filter((r) => r !== component);
    expect(children.map((r) => r.type)).toEqual(
      expect.arrayContaining([
        'pulumi:providers:kubernetes',
        'docker:index/image:Image',
        'kubernetes:apps/v1:Deployment',
      ]),
    );
    for (const r of children) expect(r.parent, `${r.type} ${r.name}`).toBe(component.urn);
    for (const r of mock.reads) expect(r.name).toBe('prism/prism-secrets');
  });

  it('moves a stack deployed before the component without replacing anything: every child aliases its former top-level URN', () => {
    // Before the component, each resource was registered at the top level: urn:pulumi:<stack>::prism::<type>::<name>.
    const children = mock.registrations.filter((r) => r.type !== ENVIRONMENT_TYPE);
    for (const r of children) {
      expect(r.urn, r.name).toBe(`urn:pulumi:${stack}::prism::${ENVIRONMENT_TYPE}$${r.type}::${r.name}`);
      expect(r.aliases, `${r.type} ${r.name}`).toContain(`urn:pulumi:${stack}::prism::${r.type}::${r.name}`);
    }
    // The provider too: resources keep their provider reference through its alias (no replace for a provider change).
    expect(mock.byType('pulumi:providers:kubernetes')[0]!.aliases).toEqual([
      `urn:pulumi:${stack}::prism::pulumi:providers:kubernetes::prism-${stack}`,
    ]);
  });

  it('registers each Namespace by its bare name, cluster-scoped (no metadata.namespace)', () => {
    const namespaces = mock.byType('kubernetes:core/v1:Namespace');
    expect(namespaces.map((n) => n.name).sort()).toEqual(stack === 'dev' ? ['prism'] : ['prism', 'prism-logging']);
    for (const n of namespaces) expect(n.inputs.metadata, n.name).not.toHaveProperty('namespace');
  });

  it('builds the four service images from the one Dockerfile (the service and stage as build arguments), tagged with stack and revision, pushed, not on preview', () => {
    const images = mock.byType('docker:index/image:Image');
    expect(images.map((i) => i.name).sort()).toEqual(SERVICES.map((s) => `prism-${s}`).sort());
    for (const s of SERVICES) {
      const i = images.find((x) => x.name === `prism-${s}`)!;
      expect(i.inputs).toMatchObject({
        imageName: `ghcr.io/prism-platform/prism-${s}:${stack}-${REVISION}`,
        build: {
          context: '.',
          dockerfile: 'services/Dockerfile',
          args: { SERVICE: s },
          target: s === 'dbmanager' ? 'dbmanager' : 'service',
        },
        buildOnPreview: false,
        skipPush: false,
      });
    }
  });

  it('runs every service container (deployments, jobs, cron jobs) on the pushed digest', () => {
    const images = [...kubernetesObjects(mock).values()].flatMap(
      (r) =>
        JSON.stringify(r.inputs)
          .match(/"image":"[^"]+"/g)
          ?.map((m) => m.slice(9, -1)) ?? [],
    );
    for (const s of SERVICES) expect(images).toContain(digestOf(stack, s));
    expect(images.filter((i) => /prism-(gateway|auth|config|dbmanager):/.test(i))).toEqual([]);
  });
});

describe("images.build off: the stack's pinned images, nothing built", () => {
  it.each(STACKS)(
    '%s: no image resource, every object exactly as synthesized, the revision never asked for',
    async (stack) => {
      const noRevision = () => {
        throw new Error('the revision was asked for although nothing is built');
      };
      const images = JSON.stringify({ tag: '0.1.0', build: false });
      const { mock, deployment } = await run(stack, { 'prism:images': images }, {}, noRevision);
      expect(mock.registrations.filter((r) => r.type.startsWith('docker:'))).toEqual([]);
      expect(deployment.images).toEqual([]);
      const expected = synthesized(stack);
      const registered = kubernetesObjects(mock);
      expect([...registered.keys()].sort()).toEqual(expected.map(objectKey).sort());
      for (const o of expected) expect(registered.get(objectKey(o))!.inputs, objectKey(o)).toEqual(o);
      expect(deployment.serviceImages).toEqual(
        Object.fromEntries(SERVICES.map((s) => [s, `ghcr.io/prism-platform/prism-${s}:0.1.0`])),
      );
    },
  );

  it('the pinned tag comes from the stack: another tag and registry reach every service container', async () => {
    const images = JSON.stringify({ registry: 'registry.example.com/prism', tag: '2.0.1', build: false });
    const { mock } = await run('prod', { 'prism:images': images });
    const refs = new Set(
      [...kubernetesObjects(mock).values()].flatMap(
        (r) =>
          JSON.stringify(r.inputs)
            .match(/"image":"[^"]+"/g)
            ?.map((m) => m.slice(9, -1)) ?? [],
      ),
    );
    for (const s of SERVICES) expect(refs).toContain(`registry.example.com/prism/prism-${s}:2.0.1`);
    // No service image is a pushed digest (third-party pins may carry their recorded digest: infra/model/images.ts).
    expect([...refs].filter((r) => r.includes('/prism-') && r.includes('@sha256:'))).toEqual([]);
  });

  it('a non-boolean images.build is a config error naming the key', async () => {
    await mockStack('dev', {
      ...stackFileConfig('stacks/Pulumi.dev.yaml'),
      'prism:images': JSON.stringify({ tag: '0.1.0', build: 'no' }),
    });
    expect(() => new Environment('dev', { revision: REVISION })).toThrow(/prism:images\.build: .*boolean/);
  });
});

describe('image build contexts', () => {
  it('every built image has its Dockerfile in the repository', async () => {
    const { deployment } = await run('dev');
    for (const i of deployment.images) {
      const build = deployment.platform.components.find((c) => c.name === i.component)!.image.build!;
      expect(existsSync(join(build.context, build.dockerfile)), build.dockerfile).toBe(true);
    }
  });

  it('the root .dockerignore (all @pulumi/docker 4 reads) keeps dependencies and secrets out of the context', () => {
    const patterns = readFileSync('.dockerignore', 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    for (const p of ['**/node_modules', '.git', '.env', '**/.env', 'keys/*.pem', '.secrets', '.prism-local'])
      expect(patterns).toContain(p);
  });
});

describe('secrets', () => {
  const values = Object.fromEntries(
    SECRET_KEYS.map((s) => [`prism:${s.pulumiKey}`, `value-of-${s.key}-${s.pulumiKey.length}`]),
  );

  it('pulumi mode: creates prism-secrets from secret config, every value a secret in state, none elsewhere', async () => {
    const { mock, deployment } = await run('dev', { 'prism:secrets': JSON.stringify({ mode: 'pulumi' }) }, values);
    const secrets = mock.byType('kubernetes:core/v1:Secret');
    expect(secrets).toHaveLength(1);
    const s = secrets[0]!;
    expect(s.inputs.metadata).toMatchObject({ name: SECRET_NAME, namespace: 'prism' });
    // The whole stringData map is sent to the engine as a secret.
    expect(isSecretEnvelope(s.inputs.stringData)).toBe(true);
    const data = (s.inputs.stringData as { value: Record<string, unknown> }).value;
    expect(Object.keys(data).sort()).toEqual(SECRET_KEYS.map((k) => k.key).sort());
    for (const spec of SECRET_KEYS) {
      const v = data[spec.key];
      expect(isSecretEnvelope(v) ? v.value : v).toBe(values[`prism:${spec.pulumiKey}`]);
    }
    expect(await new Promise((r) => deployment.secret!.stringData.apply(() => r(true)))).toBe(true);
    expect(await pulumi.isSecret(deployment.secret!.stringData)).toBe(true);
    // No secret value in any other registration (the manifests only reference the Secret).
    const others = JSON.stringify(mock.registrations.filter((r) => r !== s).map((r) => r.inputs));
    for (const v of Object.values(values)) expect(others).not.toContain(v);
    // Workloads wait for the Secret.
    const gateway = mock.registrations.find(
      (r) => r.type === 'kubernetes:apps/v1:Deployment' && r.name === 'prism/gateway',
    )!;
    expect(gateway.dependencies).toContain(s.urn);
  });

  it('pulumi mode: OAuth client credentials may be absent; they are left out of the Secret', async () => {
    const required = Object.fromEntries(
      SECRET_KEYS.filter((s) => s.source !== 'provided').map((s) => [
        `prism:${s.pulumiKey}`,
        values[`prism:${s.pulumiKey}`]!,
      ]),
    );
    const { mock } = await run('dev', { 'prism:secrets': JSON.stringify({ mode: 'pulumi' }) }, required);
    const data = (mock.byType('kubernetes:core/v1:Secret')[0]!.inputs.stringData as { value: Record<string, unknown> })
      .value;
    expect(Object.keys(data).sort()).toEqual(
      SECRET_KEYS.filter((s) => s.source !== 'provided')
        .map((k) => k.key)
        .sort(),
    );
  });

  it('pulumi mode: every missing required secret is named with the command that sets it', async () => {
    await mockStack(
      'dev',
      {
        ...stackFileConfig('stacks/Pulumi.dev.yaml'),
        'prism:secrets': JSON.stringify({ mode: 'pulumi' }),
        'prism:redisPassword': 'x',
      },
      ['prism:redisPassword'],
    );
    const error = (() => {
      try {
        new Environment('dev', { revision: REVISION });
      } catch (e) {
        return e as Error;
      }
      throw new Error('expected a missing-secret error');
    })();
    expect(error).toBeInstanceOf(StackConfigError);
    expect(error.message).toContain('stack dev: invalid stack configuration');
    expect(error.message).toContain('prism:postgresAuthPassword: required in secrets mode pulumi');
    expect(error.message).toContain('pulumi config set --secret prism:jwtPrivateKey');
    expect(error.message).not.toContain('prism:redisPassword');
    expect(error.message).not.toContain('prism:googleClientId');
  });

  it('local mode: prism-secrets is read from the cluster after the namespace, and every workload waits for it', async () => {
    const { mock, deployment } = await run('dev');
    expect(mock.byType('kubernetes:core/v1:Secret')).toEqual([]); // not created: its values never reach Pulumi's inputs
    expect(mock.reads.map((r) => [r.type, r.name, r.id])).toEqual([
      ['kubernetes:core/v1:Secret', `prism/${SECRET_NAME}`, `prism/${SECRET_NAME}`],
    ]);
    const read = mock.reads[0]!;
    expect(read.secretOutputs).toEqual(expect.arrayContaining(['data', 'stringData'])); // the values read stay encrypted in the state
    const [provider] = mock.byType('pulumi:providers:kubernetes');
    expect(read.provider).toBe(`${provider!.urn}::${provider!.name}-id`);
    const namespace = mock.byType('kubernetes:core/v1:Namespace').find((n) => n.name === 'prism')!;
    expect(read.dependencies).toContain(namespace.urn);
    const secretUrn = await value(deployment.secret!.urn);
    const workloads = [...kubernetesObjects(mock).values()].filter((r) =>
      /:(Deployment|StatefulSet|CronJob|Job|DaemonSet)$/.test(r.type),
    );
    expect(workloads.length).toBeGreaterThan(10);
    for (const w of workloads) expect(w.dependencies, w.name).toContain(secretUrn);
  });

  it('pulumi mode: the credential of a configured receiver is required (its file mount would keep Alertmanager down)', async () => {
    const required = Object.fromEntries(
      SECRET_KEYS.filter((s) => s.source !== 'provided').map((s) => [
        `prism:${s.pulumiKey}`,
        values[`prism:${s.pulumiKey}`]!,
      ]),
    );
    // prod routes to PagerDuty and Slack; neither credential is set.
    await mockStack(
      'prod',
      {
        ...stackFileConfig('stacks/Pulumi.prod.yaml'),
        'prism:secrets': JSON.stringify({ mode: 'pulumi' }),
        ...required,
      },
      Object.keys(required),
    );
    let error: Error | undefined;
    try {
      new Environment('prod', { revision: REVISION });
    } catch (e) {
      error = e as Error;
    }
    expect(error).toBeInstanceOf(StackConfigError);
    expect(error!.message).toContain('prism:alertmanagerPagerdutyRoutingKey: required in secrets mode pulumi');
    expect(error!.message).toContain('prism:alertmanagerSlackApiUrl: required in secrets mode pulumi');
    expect(error!.message).not.toContain('prism:alertmanagerSmtpPassword');
    expect(error!.message).not.toContain('prism:googleClientId');
  });

  it('external mode: the synthesized ExternalSecret is deployed as is, Pulumi creates no Secret', async () => {
    const { mock } = await run('prod');
    expect(mock.byType('kubernetes:core/v1:Secret')).toEqual([]);
    expect(mock.reads).toEqual([]);
    const es = mock.byType('kubernetes:external-secrets.io/v1:ExternalSecret');
    expect(es).toHaveLength(1);
    expect(es[0]!.inputs).toEqual(synthesized('prod').find((o) => o.kind === 'ExternalSecret'));
  });
});

describe('one resource per object', () => {
  /** The type token @pulumi/kubernetes registers a kind under (`core` for the core group). */
  const typeToken = (apiVersion: string, kind: string) =>
    `kubernetes:${apiVersion.includes('/') ? apiVersion : `core/${apiVersion}`}:${kind}`;

  it('maps each built-in kind to its typed class, other groups to a CustomResource', async () => {
    const mock = await mockStack('dev', {});
    const meta = { name: 'x', namespace: 'prism' };
    const made = [
      kubernetesResource({ apiVersion: 'v1', kind: 'ConfigMap', metadata: meta, data: { a: 'b' } }, {}),
      kubernetesResource(
        { apiVersion: 'cert-manager.io/v1', kind: 'Certificate', metadata: meta, spec: { secretName: 'tls' } },
        {},
      ),
    ];
    await settle(made);
    expect(mock.registrations.map((r) => [r.type, r.name]).sort()).toEqual([
      ['kubernetes:cert-manager.io/v1:Certificate', 'prism/x'],
      ['kubernetes:core/v1:ConfigMap', 'prism/x'],
    ]);
    expect(mock.byType('kubernetes:cert-manager.io/v1:Certificate')[0]!.inputs).toEqual({
      apiVersion: 'cert-manager.io/v1',
      kind: 'Certificate',
      metadata: meta,
      spec: { secretName: 'tls' },
    });
    expect(waveOf({ kind: 'CustomResourceDefinition' })).toBe('foundation');
    expect(waveOf({ kind: 'CronJob' })).toBe('workloads');
    expect(waveOf({ kind: 'ExternalSecret' })).toBe('configuration');
  });

  it('every entry of the kind table is the class of that kind (its registered type token)', async () => {
    const mock = await mockStack('dev', {});
    const made = [...TYPED_CLASSES.keys()].map((key, i) => {
      const kind = key.slice(key.lastIndexOf('/') + 1);
      return kubernetesResource(
        { apiVersion: key.slice(0, key.lastIndexOf('/')), kind, metadata: { name: `o${i}` }, spec: {}, roleRef: {} },
        {},
      );
    });
    await settle(made);
    const expected = [...TYPED_CLASSES.keys()].map((key, i) => [
      typeToken(key.slice(0, key.lastIndexOf('/')), key.slice(key.lastIndexOf('/') + 1)),
      `o${i}`,
    ]);
    expect(mock.registrations.map((r) => [r.type, r.name])).toEqual(expect.arrayContaining(expected));
    expect(mock.registrations).toHaveLength(expected.length);
  });

  it('refuses a built-in kind missing from the table, a misspelt one, or a built-in group it does not deploy', async () => {
    await mockStack('dev', {});
    const meta = { name: 'x', namespace: 'prism' };
    expect(() => kubernetesResource({ apiVersion: 'apps/v1', kind: 'Deploymnet', metadata: meta }, {})).toThrow(
      'no typed resource for apps/v1 Deploymnet (object prism/x): add its @pulumi/kubernetes class to TYPED_CLASSES in infra/pulumi/resources.ts',
    );
    expect(() =>
      kubernetesResource(
        { apiVersion: 'flowcontrol.apiserver.k8s.io/v1', kind: 'FlowSchema', metadata: { name: 'x' }, spec: {} },
        {},
      ),
    ).toThrow('no typed resource for flowcontrol.apiserver.k8s.io/v1 FlowSchema (object x)');
  });
});

describe('cluster', () => {
  it('the provider takes kubeconfig and context from prism:cluster', async () => {
    const cluster = { kubeconfig: '/etc/prism/kubeconfig-prod', context: 'prod-admin' };
    // The stack file's API server addresses stay (observability needs them); they are no provider input.
    const apiServer = JSON.parse(stackFileConfig('stacks/Pulumi.prod.yaml')['prism:cluster']!).apiServer;
    const { mock } = await run('prod', { 'prism:cluster': JSON.stringify({ ...cluster, apiServer }) });
    const [provider] = mock.byType('pulumi:providers:kubernetes');
    expect(provider!.name).toBe('prism-prod');
    expect(provider!.inputs).toMatchObject(cluster);
  });

  it('without prism:cluster the provider uses the ambient kubeconfig (no kubeconfig or context input)', async () => {
    const { mock } = await run('dev');
    const [provider] = mock.byType('pulumi:providers:kubernetes');
    expect(provider!.inputs).not.toHaveProperty('kubeconfig');
    expect(provider!.inputs).not.toHaveProperty('context');
  });
});

describe('stack configuration errors', () => {
  async function failure(overrides: Record<string, string>): Promise<Error> {
    await mockStack('dev', { ...stackFileConfig('stacks/Pulumi.dev.yaml'), ...overrides });
    try {
      new Environment('dev', { revision: REVISION });
    } catch (e) {
      return e as Error;
    }
    throw new Error('expected the program to reject the stack config');
  }

  it('a bad value fails with its key path, before any resource is registered', async () => {
    const e = await failure({ 'prism:nats': JSON.stringify({ replicas: 2 }) });
    expect(e).toBeInstanceOf(StackConfigError);
    expect(e.message).toMatch(/^stack dev: invalid stack configuration/);
    expect(e.message).toContain('prism:nats.replicas: expected 1 or an odd number of at least 3; found 2');
  });

  it('a nested bad value and a missing required key are both named', async () => {
    const e = await failure({
      'prism:images': JSON.stringify({ tag: 'latest' }),
      'prism:services': JSON.stringify({ gateway: { replicas: 0 } }),
    });
    expect(e.message).toContain('prism:images.tag: expected a pinned tag, not latest');
    expect(e.message).toContain('prism:services.gateway.replicas');
  });

  it('an unknown prism: key is rejected as the synth rejects it', async () => {
    const e = await failure({ 'prism:replicas': '3' });
    expect(e.message).toContain('prism:replicas: unknown key');
  });

  it('a secret key set without --secret is refused, naming the key but never its value', async () => {
    const e = await failure({
      'prism:redisPassword': 'plain-text-value',
      'prism:secrets': JSON.stringify({ mode: 'pulumi' }),
    });
    expect(e).toBeInstanceOf(StackConfigError);
    expect(e.message).toContain(
      'prism:redisPassword: stored in plain text; remove it and set it with pulumi config set --secret prism:redisPassword',
    );
    expect(e.message).not.toContain('plain-text-value');
  });

  it('a structured key that is not JSON names the key', async () => {
    const e = await failure({ 'prism:images': 'tag=0.1.0' });
    expect(e.message).toContain('prism:images');
  });
});
