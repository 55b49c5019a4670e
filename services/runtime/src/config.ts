import { z } from 'zod';
import { ENV, type EnvName, type ServiceName, serviceEnvSchema } from '#contract';

type Spec = (typeof ENV)[EnvName];
type Out<K extends EnvName> = z.output<(typeof ENV)[K]['schema']>;

/**
 * A service's validated environment, typed from the contract. Only the variables the
 * service's contract lists are populated; optional variables without a default are undefined.
 * Port variables default to the contract's ports for that service.
 */
export type ServiceEnv = {
  readonly [K in EnvName]: (typeof ENV)[K] extends { optional: true }
    ? (typeof ENV)[K]['schema'] extends z.ZodDefault
      ? Out<K>
      : Out<K> | undefined
    : Out<K>;
} & { readonly PRISM_HTTP_PORT: number; readonly PRISM_GRPC_PORT: number; readonly PRISM_METRICS_PORT: number };

/** Missing or invalid variables; `message` is one line naming every one. */
export class EnvError extends Error {
  override readonly name = 'EnvError';
}

export interface ParseEnvOptions {
  /** Variables of the service's contract this command does not use: neither required nor read. */
  readonly except?: readonly EnvName[];
}

/** Parses the environment of `service`, throwing an {@link EnvError} that names every missing and every invalid variable. */
export function parseEnv(
  service: ServiceName,
  source: NodeJS.ProcessEnv = process.env,
  options: ParseEnvOptions = {},
): ServiceEnv {
  const full = serviceEnvSchema(service);
  const except = new Set<string>(options.except ?? []);
  const schema = except.size
    ? z.object(Object.fromEntries(Object.entries(full.shape).filter(([k]) => !except.has(k))))
    : full;
  // Empty strings count as unset, as compose and Kubernetes write them for absent values.
  const raw: Record<string, string> = {};
  for (const key of Object.keys(schema.shape)) {
    const v = source[key];
    if (v !== undefined && v !== '') raw[key] = v;
  }
  const result = schema.safeParse(raw);
  if (!result.success) {
    const about = (name: string) => {
      const spec = (ENV as Record<string, Spec>)[name];
      return spec ? ` (${spec.description})` : '';
    };
    const missing: string[] = [];
    const invalid: string[] = [];
    for (const issue of result.error.issues) {
      const name = String(issue.path[0] ?? '?');
      if (raw[name] === undefined) {
        if (!missing.includes(name)) missing.push(name);
      } else invalid.push(`environment variable ${name} is invalid: ${issue.message}${about(name)}`);
    }
    const parts = [
      ...(missing.length === 1
        ? [`environment variable ${missing[0]} is required but not set${about(missing[0]!)}`]
        : []),
      ...(missing.length > 1
        ? [`environment variables ${missing.map((n) => `${n}${about(n)}`).join(', ')} are required but not set`]
        : []),
      ...invalid,
    ];
    throw new EnvError(`${service}: ${parts.join('; ')}`);
  }
  return result.data as unknown as ServiceEnv;
}

/**
 * {@link parseEnv} for a process entry point: on a bad environment it writes the one-line
 * reason to stderr and exits with code 78 (EX_CONFIG), before anything else starts.
 */
export function loadEnv(
  service: ServiceName,
  source: NodeJS.ProcessEnv = process.env,
  options: ParseEnvOptions = {},
): ServiceEnv {
  try {
    return parseEnv(service, source, options);
  } catch (e) {
    if (!(e instanceof EnvError)) throw e;
    process.stderr.write(`${e.message}\n`);
    process.exit(78);
  }
}
