import { z } from 'zod';
import { SERVICE_NAMES, type ServiceName } from './services.js';

/**
 * The keys the config service accepts, each with the schema its value must satisfy. The config
 * service rejects any other key or value; a service reading a key can parse it with the same schema.
 * `feature.<name>` keys are boolean feature flags, open to every service.
 *
 * A key is declared only for the scopes a service actually reads (today the gateway's live config,
 * `services/gateway/src/live-config.ts`; a test holds the two together): a setting nobody reads would be
 * accepted, recorded and shown as in force while changing nothing. Auth's login throttling and the
 * backup retention are deployment settings (`throttle.ts` defaults, `backups.retentionDays` in the stack
 * config), not live ones.
 */
export interface ConfigKeySpec {
  readonly description: string;
  readonly schema: z.ZodType;
  /** Services the key applies to (`global` is the scope shared by all). */
  readonly services: readonly ConfigScope[];
}

export const CONFIG_SCOPES = ['global', ...SERVICE_NAMES] as const;
export type ConfigScope = 'global' | ServiceName;

const everywhere = CONFIG_SCOPES;

export const CONFIG_KEYS = {
  'log.level': {
    description: 'Log level',
    schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']),
    services: ['global', 'gateway'],
  },
  'maintenance.enabled': {
    description: 'Answer 503 to new requests with a maintenance message',
    schema: z.boolean(),
    services: ['global', 'gateway'],
  },
  'maintenance.message': {
    description: 'Message shown during maintenance',
    schema: z.string().min(1).max(500),
    services: ['global', 'gateway'],
  },
  'rate_limit.enabled': { description: 'Gateway rate limiting on or off', schema: z.boolean(), services: ['gateway'] },
  'rate_limit.requests_per_second': {
    description: 'Sustained requests per second per client',
    schema: z.number().int().min(1).max(100_000),
    services: ['gateway'],
  },
  'rate_limit.burst': {
    description: 'Requests a client may send at once above the rate',
    schema: z.number().int().min(1).max(100_000),
    services: ['gateway'],
  },
  'rate_limit.on_redis_failure': {
    description: 'open: per-instance fallback; closed: 503',
    schema: z.enum(['open', 'closed']),
    services: ['gateway'],
  },
} as const satisfies Record<string, ConfigKeySpec>;

const FEATURE_FLAG_KEY = /^feature\.[a-z0-9_]{1,64}$/;
export const FEATURE_FLAG: ConfigKeySpec = { description: 'Feature flag', schema: z.boolean(), services: everywhere };

/** The declaration of `key`, or undefined when the key is not declared. */
export function configKeySpec(key: string): ConfigKeySpec | undefined {
  if (FEATURE_FLAG_KEY.test(key)) return FEATURE_FLAG;
  return (CONFIG_KEYS as Record<string, ConfigKeySpec>)[key];
}
