import type { SecretKey } from './secrets.js';

/**
 * Redis ACL users: one per workload that talks to Redis, each with only the keys and commands it
 * uses. The default user is disabled, so a connection without one of these names does nothing.
 * The key patterns follow the prefixes the services write (`prism:gw:` the gateway's cache and
 * failure counters, `prism:rl:` its rate-limit buckets, `prism:auth:` auth's revocation markers).
 */
export interface RedisAclUser {
  readonly name: string;
  /** Key patterns in ACL syntax (`~p` read-write, `%R~p` read only); none: no key at all. */
  readonly keys: readonly string[];
  /** Commands, added to nothing (`-@all` first): `+cmd` or `+cmd|sub`. */
  readonly commands: readonly string[];
  /** The catalogue key of its password. */
  readonly password: SecretKey;
}

/** What every client sends on connecting: a liveness PING, ioredis' ready check (INFO), a connection name. */
const CONNECTION = ['+ping', '+info', '+client|setname'] as const;

export const REDIS_USERS = {
  /** Rate limits (a Lua script per request), cached API-key validations, failed-authentication counts; auth's markers read only. */
  gateway: {
    name: 'gateway',
    keys: ['~prism:gw:*', '~prism:rl:*', '%R~prism:auth:*'],
    commands: [
      ...CONNECTION,
      '+get',
      '+set',
      '+exists',
      '+eval',
      '+evalsha',
      '+script|load',
      '+incr',
      '+pexpire',
      '+pttl',
      '+time',
    ],
    password: 'redis-gateway-password',
  },
  /** Revocation markers for the gateway, written in one MULTI. */
  auth: {
    name: 'auth',
    keys: ['~prism:auth:*'],
    commands: [...CONNECTION, '+multi', '+exec', '+discard', '+set', '+exists'],
    password: 'redis-auth-password',
  },
  /** redis_exporter: server statistics only, no key and no configuration. */
  exporter: {
    name: 'exporter',
    keys: [],
    commands: [...CONNECTION, '+slowlog|get', '+slowlog|len', '+latency|latest'],
    password: 'redis-exporter-password',
  },
  /** Operators (redis-cli in the pod); no workload holds its password. */
  admin: {
    name: 'prism-admin',
    keys: ['~*', '&*'],
    commands: ['+@all'],
    password: 'redis-password',
  },
} as const satisfies Record<string, RedisAclUser>;

export type RedisUserId = keyof typeof REDIS_USERS;

/** The ACL rules of a user but its password, as `ACL SETUSER` and redis.conf's `user` take them. */
export const redisAclRules = (u: RedisAclUser): string[] => [
  'on',
  'resetkeys',
  'resetchannels',
  ...u.keys,
  '-@all',
  ...u.commands,
];
