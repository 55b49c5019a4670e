import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { AUTH_FAILURE_LIMIT_DEFAULTS } from '../../infra/contract/index.js';
import { DEFAULT_TRUSTED_PROXIES } from '../../infra/config/index.js';
import { MAX_ACTIVE_API_KEYS } from '../../services/auth/src/api-keys.js';
import { DEFAULT_THROTTLE } from '../../services/auth/src/throttle.js';

/** docs/security.md states the limits the code enforces and names files that exist. */
const TEXT = readFileSync('docs/security.md', 'utf8');

describe('docs/security.md', () => {
  it('quotes the limits in force', () => {
    expect(TEXT).toContain(`At most ${MAX_ACTIVE_API_KEYS} active API keys per account`);
    expect(TEXT).toContain(
      `(${AUTH_FAILURE_LIMIT_DEFAULTS.max_failures} per ${AUTH_FAILURE_LIMIT_DEFAULTS.window_seconds} s, then 429`,
    );
    expect(TEXT).toContain(
      `${DEFAULT_THROTTLE.freeFailures} free failures, then ${DEFAULT_THROTTLE.baseLockSeconds} s doubling up to ${DEFAULT_THROTTLE.maxLockSeconds / 60} minutes`,
    );
    expect(TEXT).toContain(`after ${DEFAULT_THROTTLE.accountFreeFailures} failures in the window`);
    for (const range of DEFAULT_TRUSTED_PROXIES) expect(TEXT).toContain(`\`${range}\``);
  });

  it('names source files that exist', () => {
    const named = [...TEXT.matchAll(/`([a-z-]+\.ts)`/g)].map((m) => m[1]!);
    expect(named.length).toBeGreaterThan(5);
    const dirs = ['services/gateway/src', 'services/auth/src', 'services/auth/src/http'];
    for (const file of named)
      expect(
        dirs.some((d) => existsSync(`${d}/${file}`)),
        file,
      ).toBe(true);
    for (const test of [
      'services/gateway/test/attacks.test.ts',
      'services/auth/test/attacks.test.ts',
      'services/gateway/test/auth.test.ts',
    ])
      expect(existsSync(test), test).toBe(true);
  });
});
