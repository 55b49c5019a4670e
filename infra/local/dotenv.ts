import { chmodSync, existsSync, readFileSync, statSync } from 'node:fs';
import { SECRET_KEYS, secretSpec } from '../contract/index.js';
import { writeFileAtomic } from './files.js';
import { DERIVED_SECRETS } from './minio-token.js';
import { generateConsulToken, generatePassword } from './passwords.js';

/** `.env` handling: created from `.env.example` with generated passwords, mode 0600, never overwritten. */

const ENV_MODE = 0o600;
const LINE = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=(.*)$/;

/** Variables whose value is generated: passwords, and Consul tokens (UUIDs), by their `.env` names. */
const GENERATORS = new Map<string, () => string>(
  SECRET_KEYS.flatMap((s) =>
    s.source === 'password'
      ? [[s.dotenv, generatePassword] as const]
      : s.source === 'consul-token'
        ? [[s.dotenv, generateConsulToken] as const]
        : [],
  ),
);
export const GENERATED: ReadonlySet<string> = new Set(GENERATORS.keys());
const generate = (name: string): string => GENERATORS.get(name)!();

/** Derived variables, by their `.env` names (see DERIVED_SECRETS). */
const DERIVED = DERIVED_SECRETS.map((d) => ({
  name: secretSpec(d.key).dotenv,
  from: secretSpec(d.from).dotenv,
  derive: d.derive,
}));

/**
 * `text` with every derived variable set from its source's value; the names it changed go to `filled`, except
 * those just appended (reported as added).
 */
function withDerived(text: string, filled: string[], added: readonly string[] = []): string {
  const values = parseDotenv(text);
  let out = text;
  for (const d of DERIVED) {
    const from = values.get(d.from);
    if (!from || !values.has(d.name)) continue;
    const want = d.derive(from);
    if (values.get(d.name) === want) continue;
    out = out
      .split('\n')
      .map((line) => (LINE.exec(line)?.[1] === d.name ? `${d.name}=${want}` : line))
      .join('\n');
    if (!added.includes(d.name)) filled.push(d.name);
  }
  return out;
}

/**
 * The variables of a `.env` text (Compose's format: `KEY=value`, optional quotes, `#` comments).
 * Not Node's util.parseEnv: it starts a comment at any `#` of an unquoted value, where Compose needs
 * whitespace before it, so `PASS=p#ss` would be `p` here and `p#ss` in Compose (test/local/dotenv.test.ts).
 */
export function parseDotenv(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = LINE.exec(line);
    if (!m) continue;
    let v = m[2]!.trim();
    const q = v[0];
    if ((q === '"' || q === "'") && v.length >= 2 && v.endsWith(q)) v = v.slice(1, -1);
    else v = v.replace(/(^|\s+)#.*$/, '');
    out.set(m[1]!, v);
  }
  return out;
}

/** The value of one `KEY=value` line as Compose reads it (see {@link parseDotenv}). */
const lineValue = (line: string): string => [...parseDotenv(line).values()][0] ?? '';

export interface EnvResult {
  readonly path: string;
  readonly created: boolean;
  /** Generated passwords written into variables that were empty. */
  readonly filled: readonly string[];
  /** Variables of `.env.example` that were missing and were appended. */
  readonly added: readonly string[];
  /** The file's mode was looser than 0600 and was tightened. */
  readonly tightened: boolean;
}

export class LocalSetupError extends Error {
  override name = 'LocalSetupError';
}

/**
 * Makes sure `.env` exists with every variable of `.env.example`. A new file gets generated
 * passwords; an existing one keeps every value it has: only empty password variables are
 * filled and missing variables appended, so `cp .env.example .env` followed by
 * `make dev-setup` also works.
 */
export function ensureEnvFile(examplePath: string, envPath: string): EnvResult {
  if (!existsSync(examplePath)) throw new LocalSetupError(`${examplePath} is missing: run npm run synth to render it`);
  const example = readFileSync(examplePath, 'utf8');
  if (!existsSync(envPath)) {
    const filled: string[] = [];
    const text = example
      .split('\n')
      .map((line) => {
        const m = LINE.exec(line);
        if (!m || !GENERATED.has(m[1]!)) return line;
        filled.push(m[1]!);
        return `${m[1]}=${generate(m[1]!)}`;
      })
      .join('\n');
    writeFileAtomic(envPath, withDerived(text, filled), ENV_MODE, true);
    return { path: envPath, created: true, filled, added: [], tightened: false };
  }

  const current = readFileSync(envPath, 'utf8');
  const filled: string[] = [];
  let text = current
    .split('\n')
    .map((line) => {
      const m = LINE.exec(line);
      if (!m || !GENERATED.has(m[1]!) || lineValue(line) !== '') return line;
      filled.push(m[1]!);
      return `${m[1]}=${generate(m[1]!)}`;
    })
    .join('\n');
  const have = parseDotenv(text);
  const added: string[] = [];
  for (const [name, value] of parseDotenv(example)) {
    if (have.has(name)) continue;
    added.push(name);
    if (!text.endsWith('\n')) text += '\n';
    text += `${name}=${GENERATED.has(name) ? generate(name) : value}\n`;
  }
  text = withDerived(text, filled, added);
  const tightened = (statSync(envPath).mode & 0o077) !== 0;
  if (filled.length > 0 || added.length > 0) writeFileAtomic(envPath, text, ENV_MODE);
  else if (tightened) chmodSync(envPath, ENV_MODE);
  return { path: envPath, created: false, filled, added, tightened };
}
