/**
 * The whole platform as processes on 127.0.0.1, no Docker:
 *   npm run local:up [-- --gateways N] [--fresh] [--port <component/port>=N ...] [--dir DIR]
 *   npm run local:status | npm run local:logs -- <process> [--lines N] | npm run local:down
 *   npm run local:restart -- <process>   (gateway: every gateway instance, one after another)
 *   tsx infra/cli/local-platform.ts exec <service> -- <command...>   (a command with that service's environment)
 * State (data, generated secrets and keys, logs, endpoints.json) lives in .prism-local/ (git-ignored).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { spawnSync } from 'node:child_process';
import {
  down,
  layout,
  LocalPlatformError,
  restart,
  serviceEnvironment,
  status,
  up,
  type Endpoints,
} from '../local-platform/platform.js';
import { PrerequisiteError } from '../local-platform/prerequisites.js';
import { stackProblems } from './stack-problems.js';

const REPO = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const out = (s: string) => process.stdout.write(`${s}\n`);
/** A path as the user can type it: relative to the working directory when below it. */
const shown = (p: string) => (relative(process.cwd(), p).startsWith('..') ? p : relative(process.cwd(), p) || '.');

function table(e: Endpoints): string {
  const rows: [string, string][] = [
    ['environment', e.environment],
    ...e.gateways.map((g, i): [string, string] => [e.gateways.length > 1 ? `gateway ${i + 1}` : 'gateway', g]),
    ['echo (auth required)', `${e.gateways[0]}${e.routes.echo}/`],
    ['echo (public)', `${e.gateways[0]}${e.routes.echo_public}/`],
    ['auth HTTP', e.auth],
    ['auth gRPC', e.auth_grpc],
    ['config gRPC', e.config_grpc],
    ['dbmanager gRPC', e.dbmanager_grpc],
    [
      'rate limit',
      `${e.rate_limit.enabled ? 'on' : 'off'}: ${e.rate_limit.requests_per_second}/s, burst ${e.rate_limit.burst}, on Redis failure ${e.rate_limit.on_redis_failure}`,
    ],
    // gRPC needs mutual TLS: grpcurl -cert ... -key ... -cacert ... (npm run config finds them itself).
    ...(e.operator_mtls
      ? [
          [
            'operator mTLS',
            `${shown(e.operator_mtls.cert_file)}, ${shown(e.operator_mtls.key_file)}, CA ${shown(e.operator_mtls.ca_file)}`,
          ] as [string, string],
        ]
      : []),
    ['logs', shown(e.logs)],
  ];
  const w = Math.max(...rows.map((r) => r[0].length));
  return rows.map(([k, v]) => `  ${k.padEnd(w)}  ${v}`).join('\n');
}

function parsePorts(list: readonly string[]): Record<string, number> {
  const ports: Record<string, number> = {};
  for (const item of list) {
    const m = /^([a-z0-9-]+\/[a-z0-9-]+)=(\d{1,5})$/.exec(item);
    if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535)
      throw new LocalPlatformError(
        `--port ${item}: expected <component/port>=<1-65535>, for example gateway-1/http=8080`,
      );
    ports[m[1]!] = Number(m[2]);
  }
  return ports;
}

const PARSE_OPTIONS = {
  gateways: { type: 'string' },
  fresh: { type: 'boolean' },
  port: { type: 'string', multiple: true },
  dir: { type: 'string' },
  lines: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;
type Option = keyof typeof PARSE_OPTIONS;
/** Each option as help shows it. */
const OPTION_HELP: Record<Option, [string, string]> = {
  gateways: ['--gateways N', 'gateways sharing Redis (default 1)'],
  fresh: ['--fresh', 'delete the data first'],
  port: ['--port <component/port>=N', 'a fixed port instead of a free one, e.g. gateway-1/http=8080 (repeatable)'],
  dir: ['--dir DIR', 'the state directory (default $PRISM_LOCAL_DIR, else .prism-local)'],
  lines: ['--lines N', 'how many lines (default 100)'],
  help: ['--help', 'this help'],
};

/** Each command with its arguments and the options it takes. */
const COMMANDS: Record<string, { args: string; help: string; options: readonly Option[] }> = {
  up: {
    args: '',
    help: 'start the platform and print its endpoints',
    options: ['gateways', 'fresh', 'port', 'dir', 'help'],
  },
  status: { args: '', help: 'every process, running or not, and the endpoints', options: ['dir', 'help'] },
  logs: { args: ' <process>', help: "a process's log (names: see status)", options: ['lines', 'dir', 'help'] },
  restart: {
    args: ' <process>',
    help: 'restart one process (gateway: every gateway instance, one after another)',
    options: ['dir', 'help'],
  },
  down: { args: '', help: 'stop every process; the data is kept', options: ['dir', 'help'] },
  exec: {
    args: ' <service> -- <command...>',
    help: "a command with that service's environment",
    options: ['dir', 'help'],
  },
};

function usage(only?: string): string {
  const lines = [
    'usage: npm run local:<command> -- [options]   (or: tsx infra/cli/local-platform.ts <command> [options])',
  ];
  for (const [name, c] of Object.entries(COMMANDS)) {
    if (only !== undefined && name !== only) continue;
    lines.push(`  ${`${name}${c.args}`.padEnd(36)}  ${c.help}`);
    for (const o of c.options) lines.push(`      ${OPTION_HELP[o][0].padEnd(32)}  ${OPTION_HELP[o][1]}`);
  }
  return lines.join('\n');
}

const valid = (command: string) => COMMANDS[command]!.options.map((o) => OPTION_HELP[o][0]).join(', ');

/** The command line; an unknown or misplaced option is named with the command's valid ones. */
function parseCommandLine(argv: string[]) {
  // Options may come before the command (`--dir DIR status`): the command is the first positional.
  const guess = argv.find((a) => a in COMMANDS);
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: PARSE_OPTIONS });
  } catch (e) {
    const unknown = /Unknown option '([^']+)'/.exec((e as Error).message)?.[1];
    const what = unknown ? `unknown option ${unknown}` : (e as Error).message.split('. ')[0];
    throw new LocalPlatformError(guess ? `${what} for ${guess}; valid: ${valid(guess)}` : `${what}\n${usage()}`);
  }
  const { values, positionals } = parsed;
  const first = positionals[0];
  const command = first !== undefined && first in COMMANDS ? first : undefined;
  if (values.help) return { help: usage(command), values, positionals };
  if (!command)
    throw new LocalPlatformError(
      `${first === undefined ? 'no command given' : `unknown command ${first}`}\n${usage()}`,
    );
  const misplaced = (Object.keys(values) as Option[]).filter((o) => !COMMANDS[command]!.options.includes(o));
  if (misplaced.length > 0)
    throw new LocalPlatformError(
      `${command} takes no ${misplaced.map((o) => `--${o}`).join(', ')}; valid: ${valid(command)}`,
    );
  return { help: undefined, values, positionals };
}

async function main(argv: string[]): Promise<number> {
  const { help, values, positionals } = parseCommandLine(argv);
  if (help !== undefined) {
    out(help);
    return 0;
  }
  const [command, arg] = positionals;
  // PRISM_LOCAL_DIR as deploy/backup/dbmanager-cli.sh reads it: one variable points every local command elsewhere.
  const dir = resolve(values.dir ?? process.env.PRISM_LOCAL_DIR ?? join(REPO, '.prism-local'));
  switch (command) {
    case 'up': {
      const t0 = Date.now();
      out(`Starting the Prism platform (dev stack) on 127.0.0.1, state in ${shown(dir)}/`);
      const gateways = values.gateways === undefined ? 1 : Number(values.gateways);
      // The processes run in their own process groups, so Ctrl-C reaches only us: stop what was started.
      const interrupt = new AbortController();
      const onSignal = (sig: NodeJS.Signals) => {
        if (!interrupt.signal.aborted) out(`${sig}: stopping what was started ...`);
        interrupt.abort();
      };
      process.on('SIGINT', onSignal).on('SIGTERM', onSignal);
      let e: Endpoints;
      try {
        e = await up({
          repoRoot: REPO,
          dir,
          gateways,
          fresh: !!values.fresh,
          ports: parsePorts(values.port ?? []),
          progress: out,
          signal: interrupt.signal,
        });
      } catch (err) {
        if (!interrupt.signal.aborted) throw err;
        out('stopped; nothing is left running (npm run local:up starts it again)');
        return 130;
      } finally {
        process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
      }
      out(`Ready in ${((Date.now() - t0) / 1000).toFixed(1)} s (endpoints: ${shown(join(dir, 'endpoints.json'))}):`);
      out(table(e));
      // The gateway serves HTTPS with the local CA: curl must be given it (and errors stay visible: no -s).
      out(`Try: curl --cacert ${shown(e.operator_mtls.ca_file)} ${e.gateways[0]}${e.routes.echo_public}/hello?x=1`);
      return 0;
    }
    case 'status': {
      const s = status(dir);
      if (s.lines.length === 0) {
        out('not running (start it with npm run local:up)');
        return 3;
      }
      const w = Math.max(...s.lines.map((l) => l.name.length));
      for (const l of s.lines)
        out(
          `  ${l.name.padEnd(w)}  ${l.running ? 'running' : 'STOPPED'}  pid ${l.pid}${l.restarts ? `  restarts ${l.restarts}` : ''}`,
        );
      if (s.endpoints) out(table(s.endpoints));
      return s.lines.every((l) => l.running) ? 0 : 1;
    }
    case 'logs': {
      const l = layout(dir);
      if (!arg)
        throw new LocalPlatformError(
          `usage: npm run local:logs -- <process>; one of: ${logNames(l.logsDir).join(', ') || '(none yet)'}`,
        );
      // `gateway` names the first instance (gateway-1, gateway-2, ... with --gateways N).
      const file = existsSync(l.log(arg)) ? l.log(arg) : l.log(`${arg}-1`);
      if (!existsSync(file))
        throw new LocalPlatformError(`no log for ${arg}; one of: ${logNames(l.logsDir).join(', ') || '(none yet)'}`);
      const n = Number(values.lines ?? 100);
      out(readFileSync(file, 'utf8').trimEnd().split('\n').slice(-n).join('\n'));
      return 0;
    }
    case 'exec': {
      // Runs a command with a service's environment (for example the DB manager's CLI for backups);
      // the secrets pass in the environment only, never on a command line or in output.
      const service = arg;
      if (service !== 'gateway' && service !== 'auth' && service !== 'config' && service !== 'dbmanager') {
        throw new LocalPlatformError(
          'usage: local-platform.ts exec <gateway|auth|config|dbmanager> -- <command> [args...]',
        );
      }
      const cmd = positionals.slice(2);
      if (cmd.length === 0) throw new LocalPlatformError('exec needs a command after --');
      const env = serviceEnvironment({ repoRoot: REPO, dir }, service);
      const r = spawnSync(cmd[0]!, cmd.slice(1), { stdio: 'inherit', env, cwd: REPO });
      if (r.error) throw new LocalPlatformError(`cannot run ${cmd[0]}: ${r.error.message}`);
      return r.status ?? 1;
    }
    case 'restart': {
      const names = processNames(dir).filter((n) => n === arg || (arg === 'gateway' && /^gateway-\d+$/.test(n)));
      if (!arg || names.length === 0)
        throw new LocalPlatformError(
          `usage: npm run local:restart -- <process>; one of: ${processNames(dir).join(', ') || '(not running)'}`,
        );
      for (const name of names) {
        out(`  ${name}: restarting ...`);
        const ms = await restart(dir, name);
        out(`  ${name}: running again (${(ms / 1000).toFixed(1)} s)`);
      }
      return 0;
    }
    case 'down': {
      const results = await down(dir);
      if (results.length === 0) {
        out('not running');
        return 0;
      }
      for (const r of results)
        out(`  ${r.name}: ${r.outcome}${r.outcome === 'not running' ? '' : ` (${(r.ms / 1000).toFixed(1)} s)`}`);
      const killed = results.filter((r) => r.outcome === 'killed');
      out(
        killed.length
          ? `stopped; ${killed.length} did not exit in time and were killed`
          : 'stopped; data kept (npm run local:up -- --fresh starts afresh)',
      );
      return killed.length ? 1 : 0;
    }
    default:
      throw new LocalPlatformError(usage());
  }
}

/** The processes of the running platform (the supervisor is restarted by `down` and `up`, not here). */
const processNames = (dir: string) =>
  status(dir)
    .lines.map((l) => l.name)
    .filter((n) => n !== 'supervisor');

function logNames(dir: string): string[] {
  try {
    return readdirSync(dir).map((f) => f.replace(/\.log$/, ''));
  } catch {
    return [];
  }
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (e) {
  const err = e as Error;
  const problems = stackProblems(e);
  if (problems !== undefined) process.stderr.write(`${problems}\n`);
  else if (
    e instanceof PrerequisiteError ||
    e instanceof LocalPlatformError ||
    String((e as { code?: string }).code).startsWith('ERR_PARSE_ARGS')
  )
    process.stderr.write(`${err.message}\n`);
  else process.stderr.write(`error: ${err.stack ?? err.message}\n`);
  process.exitCode = 1;
}
