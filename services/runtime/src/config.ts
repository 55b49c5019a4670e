import { z } from 'zod';
import { ENV, type EnvName, type ServiceName, serviceEnvSchema } from '../../../infra/contract/index.js';

type Spec = (typeof ENV)[EnvName];
type Out<K extends EnvName> = z.output<(typeof ENV)[K]['schema']>;

/**
 * A service's validated environment, typed from the contract. Only the variables the
 * service's contract lists are populated; optional variables without a default are undefined.
 * Port variables default to the contract's ports for that service.
 */
export type ServiceEnv = {
  readonly [K in EnvName]: (typeof ENV)[K] extends { optional: true }
    ? (typeof ENV)[K]['schema'] extends z.ZodDefault ? Out<K> : Out<K> | undefined
    : Out<K>;
} & { readonly PRISM_HTTP_PORT: number; readonly PRISM_GRPC_PORT: number; readonly PRISM_METRICS_PORT: number };

/** A missing or invalid variable; `message` is one line naming it. */
export class EnvError extends Error {
  override readonly name = 'EnvError';
}

/** Parses the environment of `service`, throwing an {@link EnvError} that names the first bad variable. */
export function parseEnv(service: ServiceName, source: NodeJS.ProcessEnv = process.env): ServiceEnv {
  const schema = serviceEnvSchema(service);
  // Empty strings count as unset, as compose and Kubernetes write them for absent values.
  const raw: Record<string, string> = {};
  for (const key of Object.keys(schema.shape)) {
    const v = source[key];
    if (v !== undefined && v !== '') raw[key] = v;
  }
  const result = schema.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const name = String(issue.path[0] ?? '?');
    const spec = (ENV as Record<string, Spec>)[name];
    const what = raw[name] === undefined ? 'is required but not set' : `is invalid: ${issue.message}`;
    const more = result.error.issues.length > 1 ? ` (and ${result.error.issues.length - 1} more)` : '';
    throw new EnvError(`${service}: environment variable ${name} ${what}${spec ? ` (${spec.description})` : ''}${more}`);
  }
  return result.data as unknown as ServiceEnv;
}

/**
 * {@link parseEnv} for a process entry point: on a bad environment it writes the one-line
 * reason to stderr and exits with code 78 (EX_CONFIG), before anything else starts.
 */
export function loadEnv(service: ServiceName, source: NodeJS.ProcessEnv = process.env): ServiceEnv {
  try {
    return parseEnv(service, source);
  } catch (e) {
    if (!(e instanceof EnvError)) throw e;
    process.stderr.write(`${e.message}\n`);
    process.exit(78);
  }
}
