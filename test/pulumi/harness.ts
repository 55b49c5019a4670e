import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as pulumi from '@pulumi/pulumi';
import { parse } from 'yaml';

/**
 * Runs the Pulumi program under Pulumi's own mock monitor (`pulumi.runtime.setMocks`): no CLI,
 * no cluster, no Docker. Records what the program registers with the engine (type, name, inputs
 * and declared dependencies) exactly as the engine would receive it.
 */

export interface Registration {
  readonly type: string;
  readonly name: string;
  readonly urn: string;
  /** Inputs as serialized to the engine (secret values keep Pulumi's secret envelope). */
  readonly inputs: Record<string, unknown>;
  readonly dependencies: readonly string[];
  /** Provider reference (`<urn>::<id>`) for custom resources; empty for the default provider. */
  readonly provider: string;
  /** The parent's URN (the stack's own resource for a top-level resource). */
  readonly parent: string;
  /** The URNs the engine derives from the resource's aliases (its former URNs). */
  readonly aliases: readonly string[];
}

/** Whether a serialized value is wrapped in Pulumi's secret envelope (as the engine stores secrets). */
export function isSecretEnvelope(v: unknown): v is { value: unknown } {
  return (
    typeof v === 'object' &&
    v !== null &&
    (v as Record<string, unknown>)[pulumi.runtime.specialSigKey] === pulumi.runtime.specialSecretSig
  );
}

/** Fake registry digest of a pushed image, derived from its name so tests can predict it. */
export function fakeDigest(imageName: string): string {
  const repository = imageName.replace(/:[^:/]+$/, '');
  return `${repository}@sha256:${createHash('sha256').update(imageName).digest('hex')}`;
}

/** The `prism:` config of a stack file as the Pulumi engine passes it: strings as is, the rest as JSON. */
export function stackFileConfig(file: string): Record<string, string> {
  const doc = parse(readFileSync(file, 'utf8')) as { config?: Record<string, unknown> };
  return Object.fromEntries(
    Object.entries(doc.config ?? {}).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]),
  );
}

/** A read of an existing resource (`Resource.get`): what the engine is asked to look up, after what. */
interface Read {
  readonly type: string;
  readonly name: string;
  readonly id: string;
  readonly dependencies: readonly string[];
  readonly provider: string;
  /** Outputs the engine must store encrypted. */
  readonly secretOutputs: readonly string[];
}

export interface MockRun {
  readonly registrations: Registration[];
  readonly reads: Read[];
  byType(type: string): Registration[];
}

/**
 * Sets the mock monitor and the stack config for one run; returns the recorder. Call the program
 * afterwards, then `settle` with its resources.
 */
export async function mockStack(
  stack: string,
  config: Record<string, string>,
  secretKeys: string[] = [],
  preview = false,
): Promise<MockRun> {
  const registrations: Registration[] = [];
  const reads: Read[] = [];
  const pending = new Map<string, string[]>();
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        const state: Record<string, unknown> = { ...args.inputs };
        if (args.type === 'docker:index/image:Image') state.repoDigest = fakeDigest(String(args.inputs.imageName));
        return { id: `${args.name}-id`, state };
      },
      call(args) {
        return args.inputs;
      },
    },
    'prism',
    stack,
    preview,
  );
  pulumi.runtime.setAllConfig(config, secretKeys);
  // Observe the dependencies each registration declares, then let the mock monitor answer it.
  const monitor = pulumi.runtime.getMonitor() as unknown as {
    registerResource(req: RegisterRequest, cb: (err: unknown, resp?: { getUrn(): string }) => void): void;
    readResource(req: ReadRequest, cb: (err: unknown, resp?: unknown) => void): void;
  };
  const originalRead = monitor.readResource.bind(monitor);
  monitor.readResource = (req, cb) => {
    reads.push({
      type: req.getType(),
      name: req.getName(),
      id: req.getId(),
      dependencies: req.getDependenciesList(),
      provider: req.getProvider(),
      secretOutputs: req.getAdditionalsecretoutputsList(),
    });
    originalRead(req, cb);
  };
  const original = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req, cb) => {
    pending.set(`${req.getType()}::${req.getName()}`, req.getDependenciesList());
    original(req, (err, resp) => {
      if (resp) {
        registrations.push({
          type: req.getType(),
          name: req.getName(),
          urn: resp.getUrn(),
          inputs: req.getObject().toJavaScript() as Record<string, unknown>,
          dependencies: pending.get(`${req.getType()}::${req.getName()}`) ?? [],
          provider: req.getProvider(),
          parent: req.getParent(),
          aliases: req.getAliasesList().map((a) => aliasUrn(a, req, stack)),
        });
      }
      cb(err, resp);
    });
  };
  return { registrations, reads, byType: (type) => registrations.filter((r) => r.type === type) };
}

interface AliasSpec {
  getName(): string;
  getType(): string;
  getStack(): string;
  getProject(): string;
  getParenturn(): string;
  getNoparent(): boolean;
}

/**
 * The URN the engine derives from one alias of a registration, by its rules: name, type, stack and
 * project default to the resource's own; `noParent` means a top-level resource (parented by the stack,
 * whose type is not part of its children's URNs), a parent URN contributes the parent's type.
 */
function aliasUrn(
  alias: { getUrn(): string; getSpec(): AliasSpec | undefined },
  req: RegisterRequest,
  stack: string,
): string {
  const spec = alias.getSpec();
  if (!spec) return alias.getUrn();
  const type = spec.getType() || req.getType();
  const parentUrn = spec.getNoparent() ? '' : spec.getParenturn() || req.getParent();
  const parentType = parentUrn === '' ? '' : parentUrn.split('::')[2]!;
  const qualified = parentType === '' || parentType === 'pulumi:pulumi:Stack' ? type : `${parentType}$${type}`;
  return `urn:pulumi:${spec.getStack() || stack}::${spec.getProject() || 'prism'}::${qualified}::${spec.getName() || req.getName()}`;
}

interface RegisterRequest {
  getParent(): string;
  getAliasesList(): { getUrn(): string; getSpec(): AliasSpec | undefined }[];
  getType(): string;
  getName(): string;
  getDependenciesList(): string[];
  getProvider(): string;
  getObject(): { toJavaScript(): unknown };
}

interface ReadRequest {
  getType(): string;
  getName(): string;
  getId(): string;
  getDependenciesList(): string[];
  getProvider(): string;
  getAdditionalsecretoutputsList(): string[];
}

/** Resolves when every given resource has been registered (its URN is known). */
export function settle(resources: readonly pulumi.Resource[]): Promise<unknown> {
  return new Promise((resolve) => pulumi.all(resources.map((r) => r.urn)).apply(resolve));
}

export function value<T>(o: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) => o.apply(resolve));
}
