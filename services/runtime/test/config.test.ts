import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { EnvError, parseEnv } from '../src/config.js';
import { configServiceEnv } from './support/env.js';

describe('parseEnv', () => {
  it('fills the contract defaults (ports, shutdown timeout, TLS off)', () => {
    const env = parseEnv('config', configServiceEnv());
    expect(env.PRISM_METRICS_PORT).toBe(9080);
    expect(env.PRISM_GRPC_PORT).toBe(50052);
    expect(env.PRISM_SHUTDOWN_TIMEOUT_SECONDS).toBe(20);
    expect(env.PRISM_TLS_ENABLED).toBe(false);
    expect(env.PRISM_OPS_DB_PORT).toBe(5433);
  });

  it('names a missing variable in one line', () => {
    const { PRISM_OPS_DB_PASSWORD: _, ...rest } = configServiceEnv();
    expect(() => parseEnv('config', rest)).toThrowError(EnvError);
    expect(() => parseEnv('config', rest)).toThrowError(
      /^config: environment variable PRISM_OPS_DB_PASSWORD is required but not set \(Ops database password\)$/,
    );
  });

  it('names every missing variable, not only the first, and the invalid ones too, in one line', () => {
    const {
      PRISM_OPS_DB_PASSWORD: _,
      PRISM_NATS_URL: __,
      ...rest
    } = configServiceEnv({ PRISM_OPS_DB_HOST: '', PRISM_TLS_ENABLED: 'yes' });
    expect(() => parseEnv('config', rest)).toThrowError(
      /^config: environment variables PRISM_NATS_URL \(NATS URL\(s\), comma-separated\), PRISM_OPS_DB_HOST \(Ops PostgreSQL host\), PRISM_OPS_DB_PASSWORD \(Ops database password\) are required but not set; environment variable PRISM_TLS_ENABLED is invalid: expected true or false \(Serve TLS on the service port\)$/,
    );
  });

  it('leaves out the variables a command does not use (`except`): neither required nor read', () => {
    const env = parseEnv('config', configServiceEnv({ PRISM_OPS_DB_PASSWORD: '' }), {
      except: ['PRISM_OPS_DB_PASSWORD'],
    });
    expect(env.PRISM_OPS_DB_HOST).toBe('127.0.0.1');
    expect('PRISM_OPS_DB_PASSWORD' in env).toBe(false);
    expect(() =>
      parseEnv('config', configServiceEnv({ PRISM_OPS_DB_PASSWORD: '' }), { except: ['PRISM_OPS_DB_USER'] }),
    ).toThrowError(/PRISM_OPS_DB_PASSWORD is required/);
  });

  it('treats an empty value as missing', () => {
    expect(() => parseEnv('config', configServiceEnv({ PRISM_NATS_URL: '' }))).toThrowError(
      /PRISM_NATS_URL is required/,
    );
  });

  it('names an invalid variable and what was expected', () => {
    expect(() => parseEnv('config', configServiceEnv({ PRISM_METRICS_PORT: '99999' }))).toThrowError(
      /PRISM_METRICS_PORT is invalid/,
    );
    expect(() => parseEnv('config', configServiceEnv({ PRISM_TLS_ENABLED: 'yes' }))).toThrowError(
      /PRISM_TLS_ENABLED is invalid: expected true or false/,
    );
    expect(() => parseEnv('gateway', { ...configServiceEnv(), PRISM_REDIS_ADDRESS: 'redis' })).toThrowError(
      /PRISM_\w+ is/,
    );
  });
});

describe('a service process with a bad environment', () => {
  it('exits non-zero with one line naming the variable', () => {
    const { PRISM_NATS_URL: _, ...env } = configServiceEnv();
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'services/runtime/test/fixtures/slow-service.ts'], {
      env: { PATH: process.env.PATH, ...env, FIXTURE_HTTP_PORT: '0' },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(r.status).toBe(78);
    expect(r.stderr.trim().split('\n')).toEqual([
      'config: environment variable PRISM_NATS_URL is required but not set (NATS URL(s), comma-separated)',
    ]);
    expect(r.stdout).toBe('');
  });
});
