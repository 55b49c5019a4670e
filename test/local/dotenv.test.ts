import { mkdtempSync, readFileSync, statSync, writeFileSync, chmodSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseEnv } from 'node:util';
import { describe, expect, it } from 'vitest';
import { jwtVerify } from 'jose';
import { ENV_EXAMPLE_FILE, INTERPOLATION } from '../../infra/compose/index.js';
import { GENERATED, LocalSetupError, ensureEnvFile, generatePassword, parseDotenv } from '../../infra/local/index.js';
import { MINIO_METRICS_USER, SECRET_KEYS } from '../../infra/contract/index.js';
import { LAYERS, renderAll } from '../compose/support.js';
import { COMPOSE_FILES } from '../../infra/compose/index.js';
import { mode } from './support.js';

const GUIDE_TABLE = [
  'POSTGRES_AUTH_PASSWORD',
  'POSTGRES_OPS_PASSWORD',
  'REDIS_PASSWORD',
  'MINIO_ROOT_PASSWORD',
  'GRAFANA_ADMIN_PASSWORD',
  'GOOGLE_CLIENT_ID',
  'GOOGLE_CLIENT_SECRET',
  'GITHUB_CLIENT_ID',
  'GITHUB_CLIENT_SECRET',
];

function fresh() {
  const dir = mkdtempSync(join(tmpdir(), 'prism-env-'));
  const example = join(dir, '.env.example');
  writeFileSync(example, readFileSync(ENV_EXAMPLE_FILE, 'utf8'));
  return { dir, example, env: join(dir, '.env') };
}

describe('.env.example', () => {
  const example = parseDotenv(readFileSync(ENV_EXAMPLE_FILE, 'utf8'));

  it("lists every variable of the guide's table", () => {
    for (const name of GUIDE_TABLE) expect(example.has(name), name).toBe(true);
  });

  it('lists every variable the compose files interpolate, and no secret value', () => {
    const files = renderAll();
    for (const layer of LAYERS) {
      const text = files.get(COMPOSE_FILES[layer])!.replaceAll('$$', '');
      for (const m of text.matchAll(INTERPOLATION)) expect(example.has(m[1]!), `${m[1]} (${layer})`).toBe(true);
    }
    for (const s of SECRET_KEYS) if (example.has(s.dotenv)) expect(example.get(s.dotenv), s.dotenv).toBe('');
  });
});

describe('.env creation', () => {
  it('creates .env with mode 0600 and a distinct strong password for every generated variable', () => {
    const { example, env } = fresh();
    const r = ensureEnvFile(example, env);
    expect(r.created).toBe(true);
    expect(mode(statSync(env).mode)).toBe('0600');
    const values = parseDotenv(readFileSync(env, 'utf8'));
    const passwords = [...GENERATED].map((k) => values.get(k)!);
    expect(passwords.length).toBeGreaterThanOrEqual(6);
    // A password: 32 random bytes, base64url; a Consul token: a random UUID (Consul takes no other SecretID).
    for (const p of passwords)
      expect(p).toMatch(/^(?:[A-Za-z0-9_-]{43}|[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12})$/);
    expect(new Set(passwords).size).toBe(passwords.length);
    // Provided credentials stay empty; everything else keeps the example's value.
    expect(values.get('GOOGLE_CLIENT_ID')).toBe('');
    expect(values.get('COMPOSE_PROJECT_NAME')).toBe('prism');
  });

  it('never overwrites an existing .env: a second run changes nothing', () => {
    const { example, env } = fresh();
    ensureEnvFile(example, env);
    const before = readFileSync(env, 'utf8');
    const r = ensureEnvFile(example, env);
    expect(r).toMatchObject({ created: false, filled: [], added: [], tightened: false });
    expect(readFileSync(env, 'utf8')).toBe(before);
  });

  it('keeps every value of a hand-made .env, fills only empty passwords and appends missing variables', () => {
    const { example, env } = fresh();
    writeFileSync(env, 'REDIS_PASSWORD=mine\nPOSTGRES_AUTH_PASSWORD=\nGITHUB_CLIENT_ID="my-client"\n# a note\n', {
      mode: 0o644,
    });
    chmodSync(env, 0o644);
    const r = ensureEnvFile(example, env);
    expect(r.filled).toEqual(['POSTGRES_AUTH_PASSWORD']);
    expect(r.added).toContain('POSTGRES_OPS_PASSWORD');
    expect(r.added).not.toContain('REDIS_PASSWORD');
    const text = readFileSync(env, 'utf8');
    expect(text.startsWith('REDIS_PASSWORD=mine\n')).toBe(true);
    expect(text).toContain('GITHUB_CLIENT_ID="my-client"\n# a note\n');
    const values = parseDotenv(text);
    expect(values.get('GITHUB_CLIENT_ID')).toBe('my-client');
    expect(values.get('POSTGRES_AUTH_PASSWORD')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(mode(statSync(env).mode)).toBe('0600');
  });

  it("derives MinIO's metrics token from the metrics user's key, and follows the key when it is rotated", async () => {
    const { example, env } = fresh();
    ensureEnvFile(example, env);
    const verify = async (text: string) => {
      const v = parseDotenv(text);
      const key = new TextEncoder().encode(v.get('MINIO_METRICS_SECRET_KEY'));
      const { payload } = await jwtVerify(v.get('MINIO_METRICS_TOKEN')!, key, { algorithms: ['HS512'] });
      expect(payload).toMatchObject({ sub: MINIO_METRICS_USER, iss: 'prometheus' });
    };
    await verify(readFileSync(env, 'utf8'));
    writeFileSync(
      env,
      readFileSync(env, 'utf8').replace(/^MINIO_METRICS_SECRET_KEY=.*$/m, 'MINIO_METRICS_SECRET_KEY=rotated'),
    );
    expect(ensureEnvFile(example, env).filled).toEqual(['MINIO_METRICS_TOKEN']);
    await verify(readFileSync(env, 'utf8'));
    expect(ensureEnvFile(example, env).filled).toEqual([]);
  });

  it('tightens a world-readable .env to 0600 without touching its content', () => {
    const { example, env } = fresh();
    ensureEnvFile(example, env);
    chmodSync(env, 0o644);
    const before = readFileSync(env, 'utf8');
    expect(ensureEnvFile(example, env).tightened).toBe(true);
    expect(mode(statSync(env).mode)).toBe('0600');
    expect(readFileSync(env, 'utf8')).toBe(before);
  });

  it('says what to do when .env.example is missing, and creates nothing', () => {
    const { dir, env } = fresh();
    expect(() => ensureEnvFile(join(dir, 'nope'), env)).toThrow(LocalSetupError);
    expect(() => ensureEnvFile(join(dir, 'nope'), env)).toThrow(/npm run synth/);
    expect(existsSync(env)).toBe(false);
  });

  it('generates 256-bit passwords that need no quoting anywhere', () => {
    const seen = new Set(Array.from({ length: 200 }, generatePassword));
    expect(seen.size).toBe(200);
    for (const p of seen) expect(Buffer.from(p, 'base64url').length).toBe(32);
  });

  it("parses Compose's .env syntax: quotes, comments, spaces", () => {
    const v = parseDotenv('A=1\nB="two words"\nC=\'x#y\'\nD=plain # note\n# E=no\n  F = f \nG= # later\n');
    expect(Object.fromEntries(v)).toEqual({ A: '1', B: 'two words', C: 'x#y', D: 'plain', F: 'f', G: '' });
  });

  it('reads a `#` inside an unquoted value as Compose does: part of the value (why not util.parseEnv)', () => {
    // Compose starts an inline comment only after whitespace; Node's util.parseEnv at any `#`. A hand-set
    // password `p#ss` would reach Compose whole and the local Secret cut to `p` with Node's parser.
    expect(parseDotenv('PRISM_REDIS_PASSWORD=p#ss\n').get('PRISM_REDIS_PASSWORD')).toBe('p#ss');
    expect(parseEnv('PRISM_REDIS_PASSWORD=p#ss\n').PRISM_REDIS_PASSWORD).toBe('p');
  });
});
