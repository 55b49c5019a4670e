// The operators' command line over the config service's gRPC API (`npm run config -- ...`):
//   get <key>                    the value in force, its version, who set it and when
//   set <key> <value>            a JSON value (5, true, "text"); anything that is not JSON is taken as a string
//   delete <key>                 remove the value (the service's default applies again)
//   list [--prefix P]            every value of the environment (of one service with --service)
//   history <key> [--limit N]    every version, newest first
//   rollback <key> <version>     make an earlier version's value current again (as a new version)
//   keys                         the keys the service accepts, with the services they apply to
// Options: --service S (global, gateway, auth, config, dbmanager; default global), --environment E,
// --address host:port, --cert F --key F --ca F, --by NAME, --comment TEXT. Without --address (and
// --environment) it talks to the local platform (.prism-local/endpoints.json, see npm run local:up)
// with the operator certificate listed there. Mutual TLS is on in every environment: with --address,
// give the operator's certificate, key and the platform CA; --plaintext only for a service started
// without mTLS (PRISM_MTLS_ENABLED=false), where --by names who changes a value. With mTLS the
// service records the certificate's identity (operator/<name>) and ignores --by.
import { existsSync, readFileSync } from 'node:fs';
import { userInfo, hostname } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CONFIG_KEYS, configKeySpec, GRPC_APIS } from '#contract';
import { grpc, loadProto, MtlsFileProvider, mtlsClientCredentials } from '../../runtime/src/index.js';
import type { ConfigEntry__Output as ConfigEntry } from '../../runtime/src/proto/prism/config/v1/ConfigEntry.js';
import type { HistoryResponse__Output as HistoryResponse } from '../../runtime/src/proto/prism/config/v1/HistoryResponse.js';
import type { ListKeysResponse__Output as ListKeysResponse } from '../../runtime/src/proto/prism/config/v1/ListKeysResponse.js';
import type { ListResponse__Output as ListResponse } from '../../runtime/src/proto/prism/config/v1/ListResponse.js';

class UsageError extends Error {}
/** Not a usage mistake, but nothing to add to the message (exit 1, no usage text). */
class CliError extends Error {}

const USAGE = `usage: npm run config -- <get|delete|history> <key> | set <key> <value> | rollback <key> <version> | list | keys
  options: --service S (default global) --environment E --address host:port --cert F --key F --ca F | --plaintext
           --by NAME --comment TEXT --prefix P --limit N`;

const REPO = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
const out = (s: string) => process.stdout.write(`${s}\n`);

/** The operator's certificate files: mutual TLS with the config service. */
interface Tls {
  readonly cert: string;
  readonly key: string;
  readonly ca: string;
}

interface Target {
  readonly address: string;
  readonly environment: string;
  /** Absent only with --plaintext. */
  readonly tls?: Tls;
  /** The address came from the local platform's endpoints.json. */
  readonly fromLocalPlatform?: boolean;
}

interface TargetOptions {
  readonly address?: string | undefined;
  readonly environment?: string | undefined;
  readonly cert?: string | undefined;
  readonly key?: string | undefined;
  readonly ca?: string | undefined;
  readonly plaintext?: boolean | undefined;
}

function flagsTls(o: TargetOptions): Tls | undefined {
  const given = (['cert', 'key', 'ca'] as const).filter((k) => o[k]);
  if (given.length === 0) return undefined;
  if (o.plaintext) throw new UsageError('--plaintext and --cert/--key/--ca exclude each other');
  const missing = (['cert', 'key', 'ca'] as const).filter((k) => !o[k]);
  if (missing.length > 0)
    throw new UsageError(
      `mutual TLS needs --cert, --key and --ca together; missing ${missing.map((k) => `--${k}`).join(', ')}`,
    );
  return { cert: o.cert!, key: o.key!, ca: o.ca! };
}

function target(o: TargetOptions, dir: string): Target {
  const flags = flagsTls(o);
  if (o.address) {
    if (!flags && !o.plaintext)
      throw new UsageError(
        '--address needs the operator certificate (--cert, --key, --ca; the services require mutual TLS), or --plaintext for a service without mTLS',
      );
    return { address: o.address, environment: o.environment ?? 'dev', ...(flags ? { tls: flags } : {}) };
  }
  if (o.plaintext) throw new UsageError('--plaintext needs --address: the local platform requires mutual TLS');
  const file = resolve(dir, 'endpoints.json');
  if (!existsSync(file))
    throw new UsageError(`no --address and no local platform (${file} is missing; start it with npm run local:up)`);
  const e = JSON.parse(readFileSync(file, 'utf8')) as {
    config_grpc: string;
    environment: string;
    operator_mtls?: { cert_file: string; key_file: string; ca_file: string };
  };
  const m = e.operator_mtls;
  if (!flags && !m)
    throw new UsageError(`${file} lists no operator certificate; restart the local platform (npm run local:up)`);
  return {
    address: e.config_grpc,
    fromLocalPlatform: true,
    environment: o.environment ?? e.environment,
    tls: flags ?? { cert: m!.cert_file, key: m!.key_file, ca: m!.ca_file },
  };
}

/** The reply of each unary method of the config service (the commands map one to one onto them). */
interface Replies {
  Get: ConfigEntry;
  Set: ConfigEntry;
  Delete: ConfigEntry;
  Rollback: ConfigEntry;
  List: ListResponse;
  History: HistoryResponse;
  ListKeys: ListKeysResponse;
}
type Call = <M extends keyof Replies>(method: M, req: object) => Promise<Replies[M]>;

function credentials(t: Target): grpc.ChannelCredentials {
  if (!t.tls) return grpc.credentials.createInsecure();
  let provider: MtlsFileProvider;
  try {
    provider = new MtlsFileProvider({ enabled: true, certFile: t.tls.cert, keyFile: t.tls.key, caFile: t.tls.ca });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  // The server must prove it is the config service (its URI SAN), not only someone the CA knows.
  return mtlsClientCredentials(provider, 'config');
}

/** A service that does not answer, as an operator reads it: where it was looked for and what to check. */
function unreachable(err: grpc.ServiceError, t: Target): Error {
  if (err.code !== grpc.status.UNAVAILABLE && err.code !== grpc.status.DEADLINE_EXCEEDED) return err;
  // Without TLS, a service that requires mutual TLS also looks unavailable: that error stays as it is.
  if (!t.tls) return err;
  const check = t.fromLocalPlatform
    ? 'is the local platform running? npm run local:status (start it with npm run local:up)'
    : 'check --address and that the service runs there';
  return new CliError(`cannot reach the config service at ${t.address}: ${check}`);
}

function client(t: Target): { call: Call; close: () => void } {
  const { ConfigService } = loadProto(GRPC_APIS.config.proto).prism.config.v1;
  const c = new ConfigService(t.address, credentials(t));
  // By the method's definition: one call path for seven methods with different request and reply types.
  const call: Call = (method, req) => {
    const { path, requestSerialize, responseDeserialize } = ConfigService.service[method];
    return new Promise((res, rej) =>
      c.makeUnaryRequest<object, object>(
        path,
        requestSerialize,
        responseDeserialize,
        req,
        { deadline: Date.now() + 10_000 },
        (err, r) =>
          r ? res(r as Replies[typeof method]) : rej(err ? unreachable(err, t) : new Error(`${path}: no reply`)),
      ),
    );
  };
  return { call, close: () => c.close() };
}

/** JSON when it parses, a string otherwise (so `set maintenance.message Back soon` needs no quotes). */
export function parseValue(text: string): string {
  try {
    JSON.parse(text);
    return text;
  } catch {
    return JSON.stringify(text);
  }
}

const who = () => {
  try {
    return `${userInfo().username}@${hostname()}`;
  } catch {
    return `cli@${hostname()}`;
  }
};

/** How many arguments follow each command (set takes the rest of the line as its value). */
const ARITY: Record<string, { min: number; max: number; args: string }> = {
  get: { min: 1, max: 1, args: '<key>' },
  set: { min: 2, max: Infinity, args: '<key> <value>' },
  delete: { min: 1, max: 1, args: '<key>' },
  list: { min: 0, max: 0, args: '' },
  history: { min: 1, max: 1, args: '<key>' },
  rollback: { min: 2, max: 2, args: '<key> <version>' },
  keys: { min: 0, max: 0, args: '' },
};

/** The declared key closest to a mistyped one (edit distance), when it is close. */
function closestKey(key: string): string | undefined {
  const distance = (a: string, b: string) => {
    let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
    for (let i = 1; i <= a.length; i++) {
      const cur = [i];
      for (let j = 1; j <= b.length; j++)
        cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
    return prev[b.length]!;
  };
  const [best] = Object.keys(CONFIG_KEYS)
    .map((k) => [k, distance(key, k)] as const)
    .sort((x, y) => x[1] - y[1]);
  return best && best[1] <= Math.max(3, Math.floor(key.length / 4)) ? best[0] : undefined;
}

/** A key the service would refuse as undeclared, named with its likely spelling, before any call. */
function checkKey(key: string): string {
  if (configKeySpec(key)) return key;
  const near = closestKey(key);
  throw new CliError(
    `unknown key "${key}"${near ? `; did you mean ${near}?` : ''} (every key: npm run config -- keys; feature flags are feature.<name>)`,
  );
}

/**
 * Negative numbers are values, not options: `set some.key -5` needs no `--`. They pass parseArgs marked and come back
 * unmarked (an option's value such as `--limit -1` too).
 */
const NEGATIVE = /^-\d+(\.\d+)?$/;
const MARK = '\u0000';
const unmark = (v: string) => (v.startsWith(MARK) ? v.slice(1) : v);

const entryLine = (e: ConfigEntry) =>
  `${e.service}/${e.key} = ${e.valueJson || '(deleted)'}  (version ${e.version}, ${e.updatedBy}, ${e.updatedAt})`;

async function main(argv: string[]): Promise<void> {
  const parsed = parseArgs({
    args: argv.map((a) => (NEGATIVE.test(a) ? MARK + a : a)),
    allowPositionals: true,
    options: {
      service: { type: 'string', default: 'global' },
      environment: { type: 'string' },
      address: { type: 'string' },
      cert: { type: 'string' },
      key: { type: 'string' },
      ca: { type: 'string' },
      plaintext: { type: 'boolean' },
      dir: { type: 'string', default: process.env.PRISM_LOCAL_DIR ?? resolve(REPO, '.prism-local') },
      by: { type: 'string' },
      comment: { type: 'string' },
      prefix: { type: 'string', default: '' },
      limit: { type: 'string', default: '0' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const positionals = parsed.positionals.map(unmark);
  const values = Object.fromEntries(
    Object.entries(parsed.values).map(([k, v]) => [k, typeof v === 'string' ? unmark(v) : v]),
  ) as typeof parsed.values;
  const [command, key, arg] = positionals;
  if (values.help) {
    out(USAGE);
    return;
  }
  if (!command) throw new UsageError('no command given');
  const arity = ARITY[command];
  if (!arity) throw new UsageError(`unknown command "${command}"`);
  const given = positionals.length - 1;
  if (given > arity.max)
    throw new UsageError(
      `${command} takes ${arity.args || 'no arguments'}; extra: ${positionals.slice(1 + arity.max).join(' ')}`,
    );
  const needKey = () => {
    if (!key) throw new UsageError(`${command} needs a key (see: npm run config -- keys)`);
    return checkKey(key);
  };
  if (key !== undefined && command !== 'list' && command !== 'keys') checkKey(key);
  const t = target(values, values.dir);
  const { call, close } = client(t);
  const base = { environment: t.environment, service: values.service };
  const change = { changedBy: values.by ?? who(), ...(values.comment ? { comment: values.comment } : {}) };
  try {
    switch (command) {
      case 'get':
        out(entryLine(await call('Get', { ...base, key: needKey() })));
        return;
      case 'set': {
        const k = needKey();
        if (arg === undefined)
          throw new UsageError('set needs a value, for example: set rate_limit.requests_per_second 50');
        out(
          entryLine(
            await call('Set', { ...base, key: k, valueJson: parseValue(positionals.slice(2).join(' ')), ...change }),
          ),
        );
        return;
      }
      case 'delete':
        out(entryLine(await call('Delete', { ...base, key: needKey(), ...change })));
        return;
      case 'list': {
        const r = await call('List', {
          environment: t.environment,
          service: values.service === 'global' && !argv.includes('--service') ? '' : values.service,
          keyPrefix: values.prefix,
        });
        const { entries } = r;
        if (entries.length === 0) out(`no values in ${t.environment}`);
        for (const e of entries) out(entryLine(e));
        return;
      }
      case 'history': {
        const r = await call('History', { ...base, key: needKey(), limit: Number(values.limit) });
        for (const h of r.entries) {
          const what =
            h.action === 'rollback'
              ? `rollback to ${h.rolledBackTo}: ${h.valueJson}`
              : h.action === 'delete'
                ? 'delete'
                : `set ${h.valueJson}`;
          out(`  v${h.version}  ${what}  (${h.changedBy}, ${h.changedAt}${h.comment ? `, "${h.comment}"` : ''})`);
        }
        return;
      }
      case 'rollback': {
        const k = needKey();
        const v = Number(arg);
        if (!Number.isInteger(v) || v < 1)
          throw new UsageError(`rollback needs a version number, got ${arg === undefined ? 'nothing' : `"${arg}"`}`);
        out(entryLine(await call('Rollback', { ...base, key: k, toVersion: v, ...change })));
        return;
      }
      case 'keys': {
        const r = await call('ListKeys', {});
        for (const k of r.keys) out(`  ${k.key}  (${k.services.join(', ')})  ${k.description}`);
        return;
      }
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } finally {
    close();
  }
}

try {
  await main(process.argv.slice(2));
} catch (e) {
  if (e instanceof UsageError) {
    process.stderr.write(`${e.message ? `${e.message}\n` : ''}${USAGE}\n`);
    process.exitCode = 2;
  } else if (e instanceof CliError) {
    process.stderr.write(`${e.message}\n`);
    process.exitCode = 1;
  } else if (typeof (e as grpc.ServiceError).code === 'number') {
    const err = e as grpc.ServiceError;
    process.stderr.write(`config service: ${grpc.status[err.code]}: ${err.details}\n`);
    process.exitCode = 1;
  } else {
    process.stderr.write(`error: ${(e as Error).message}\n`);
    process.exitCode = 1;
  }
}
