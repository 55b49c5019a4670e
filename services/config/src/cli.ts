// The operators' command line over the config service's gRPC API (`npm run config -- ...`):
//   get <key>                    the value in force, its version, who set it and when
//   set <key> <value>            a JSON value (5, true, "text"); anything that is not JSON is taken as a string
//   delete <key>                 remove the value (the service's default applies again)
//   list [--prefix P]            every value of the environment (of one service with --service)
//   history <key> [--limit N]    every version, newest first
//   rollback <key> <version>     make an earlier version's value current again (as a new version)
//   keys                         the keys the service accepts, with the services they apply to
// Options: --service S (global, gateway, auth, config, dbmanager; default global), --environment E,
// --address host:port, --by NAME, --comment TEXT. Without --address (and --environment) it talks to
// the local platform (.prism-local/endpoints.json, see npm run local:up).
import { existsSync, readFileSync } from 'node:fs';
import { userInfo, hostname } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { GRPC_APIS } from '../../../infra/contract/index.js';
import { grpc, loadProto, serviceClient } from '../../runtime/src/index.js';

class UsageError extends Error {}

const USAGE = `usage: npm run config -- <get|delete|history> <key> | set <key> <value> | rollback <key> <version> | list | keys
  options: --service S (default global) --environment E --address host:port --by NAME --comment TEXT --prefix P --limit N`;

const REPO = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
const out = (s: string) => process.stdout.write(`${s}\n`);

interface Target {
  readonly address: string;
  readonly environment: string;
}

function target(address: string | undefined, environment: string | undefined, dir: string): Target {
  if (address) return { address, environment: environment ?? 'dev' };
  const file = resolve(dir, 'endpoints.json');
  if (!existsSync(file)) throw new UsageError(`no --address and no local platform (${file} is missing; start it with npm run local:up)`);
  const e = JSON.parse(readFileSync(file, 'utf8')) as { config_grpc: string; environment: string };
  return { address: e.config_grpc, environment: environment ?? e.environment };
}

type Call = (method: string, req: object) => Promise<Record<string, unknown>>;

function client(t: Target): { call: Call; close: () => void } {
  const Ctor = serviceClient(loadProto(GRPC_APIS.config.proto), GRPC_APIS.config.service);
  const c = new Ctor(t.address, grpc.credentials.createInsecure()) as unknown as grpc.Client & Record<string, Function>;
  const call: Call = (method, req) =>
    new Promise((res, rej) => c[method]!.call(c, req, { deadline: Date.now() + 10_000 }, (err: grpc.ServiceError | null, r: Record<string, unknown>) => (err ? rej(err) : res(r))));
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

const entryLine = (e: Record<string, unknown>) => `${e.service}/${e.key} = ${e.valueJson || '(deleted)'}  (version ${e.version}, ${e.updatedBy}, ${e.updatedAt})`;

async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      service: { type: 'string', default: 'global' },
      environment: { type: 'string' },
      address: { type: 'string' },
      dir: { type: 'string', default: resolve(REPO, '.prism-local') },
      by: { type: 'string' },
      comment: { type: 'string' },
      prefix: { type: 'string', default: '' },
      limit: { type: 'string', default: '0' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command, key, arg] = positionals;
  if (values.help || !command) throw new UsageError(values.help ? '' : 'no command given');
  const needKey = () => {
    if (!key) throw new UsageError(`${command} needs a key (see: npm run config -- keys)`);
    return key;
  };
  const t = target(values.address, values.environment, values.dir);
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
        if (arg === undefined) throw new UsageError('set needs a value, for example: set rate_limit.requests_per_second 50');
        out(entryLine(await call('Set', { ...base, key: k, valueJson: parseValue(positionals.slice(2).join(' ')), ...change })));
        return;
      }
      case 'delete':
        out(entryLine(await call('Delete', { ...base, key: needKey(), ...change })));
        return;
      case 'list': {
        const r = await call('List', { environment: t.environment, service: values.service === 'global' && !argv.includes('--service') ? '' : values.service, keyPrefix: values.prefix });
        const entries = r.entries as Record<string, unknown>[];
        if (entries.length === 0) out(`no values in ${t.environment}`);
        for (const e of entries) out(entryLine(e));
        return;
      }
      case 'history': {
        const r = await call('History', { ...base, key: needKey(), limit: Number(values.limit) });
        for (const h of r.entries as Record<string, unknown>[]) {
          const what = h.action === 'rollback' ? `rollback to ${h.rolledBackTo}: ${h.valueJson}` : h.action === 'delete' ? 'delete' : `set ${h.valueJson}`;
          out(`  v${h.version}  ${what}  (${h.changedBy}, ${h.changedAt}${h.comment ? `, "${h.comment}"` : ''})`);
        }
        return;
      }
      case 'rollback': {
        const k = needKey();
        const v = Number(arg);
        if (!Number.isInteger(v) || v < 1) throw new UsageError(`rollback needs a version number, got ${arg === undefined ? 'nothing' : `"${arg}"`}`);
        out(entryLine(await call('Rollback', { ...base, key: k, toVersion: v, ...change })));
        return;
      }
      case 'keys': {
        const r = await call('ListKeys', {});
        for (const k of r.keys as Record<string, unknown>[]) out(`  ${k.key}  (${(k.services as string[]).join(', ')})  ${k.description}`);
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
  } else if (typeof (e as grpc.ServiceError).code === 'number') {
    const err = e as grpc.ServiceError;
    process.stderr.write(`config service: ${grpc.status[err.code]}: ${err.details}\n`);
    process.exitCode = 1;
  } else {
    process.stderr.write(`error: ${(e as Error).message}\n`);
    process.exitCode = 1;
  }
}
