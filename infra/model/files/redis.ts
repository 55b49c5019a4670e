import { REDIS_USERS, redisAclRules, secretSpec, type RedisAclUser } from '../../contract/index.js';

/** The variable holding an ACL user's password in Redis's container (its `.env` name). */
export const redisPasswordVar = (u: RedisAclUser): string => secretSpec(u.password).dotenv;

/**
 * The ACL users as redis-server arguments (`--user <name> <rules> >$(VAR)`): Redis takes each user
 * in one declaration, so the rules and the password, which comes from the secret at start-up, go
 * together. `$(VAR)` is the container's variable, as Kubernetes and Compose expand it.
 */
export const redisUserArgs = (): string[] =>
  Object.values(REDIS_USERS).flatMap((u) => ['--user', u.name, ...redisAclRules(u), `>$(${redisPasswordVar(u)})`]);

/** The same users as redis.conf lines with their passwords (the local platform's private file). */
export const redisUserLines = (password: (u: RedisAclUser) => string): string[] =>
  Object.values(REDIS_USERS).map((u) => ['user', u.name, ...redisAclRules(u), `>${password(u)}`].join(' '));

/**
 * `redis.conf`. No password is here: the ACL users come with theirs as arguments at start-up
 * ({@link redisUserArgs}), so this file holds no secret and can be committed.
 */
export function redisConf(port: number, maxMemoryBytes: number): string {
  return [
    '# Rendered from the Prism platform model; do not edit by hand.',
    `port ${port}`,
    'bind 0.0.0.0',
    'protected-mode yes',
    '# Only the ACL users (one per workload, see the arguments) connect: the default user is off.',
    'user default off',
    '# Persistence: append-only file, fsync every second, plus periodic snapshots.',
    'dir /data',
    'appendonly yes',
    'appendfsync everysec',
    'save 900 1',
    'save 300 10',
    'save 60 10000',
    '# Below the container limit, so Redis evicts instead of being killed; tokens, sessions and',
    '# rate-limit counters all carry a TTL: evict among those first.',
    `maxmemory ${maxMemoryBytes}`,
    'maxmemory-policy volatile-lru',
    'tcp-keepalive 60',
    'timeout 0',
    '# Dangerous commands are off for clients.',
    'rename-command FLUSHALL ""',
    'rename-command FLUSHDB ""',
    'rename-command DEBUG ""',
    '',
  ].join('\n');
}
