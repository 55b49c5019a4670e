/**
 * `redis.conf`. The password is not here: it is passed as `--requirepass` from the
 * secret at start-up, so this file holds no secret and can be committed.
 */
export function redisConf(port: number, maxMemoryBytes: number): string {
  return [
    '# Rendered from the Prism platform model; do not edit by hand.',
    `port ${port}`,
    'bind 0.0.0.0',
    'protected-mode yes',
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
