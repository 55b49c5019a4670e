import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { grpc, loadProto } from '../../services/runtime/src/index.js';

/**
 * The commands the README and the runbook give for the local platform, run as written against one started
 * the README's way (`local:up`, in a directory of its own: `.prism-local` in a command stands for it).
 */

const REPO = process.cwd();
/** The fenced sh block of `markdown` that follows `heading` (first one after it), or that contains `needle`. */
function shBlock(markdown: string, find: { heading?: string; needle?: string }): string {
  const from = find.heading ? markdown.indexOf(`\n${find.heading}\n`) : 0;
  expect(from, find.heading).toBeGreaterThanOrEqual(0);
  const blocks = [...markdown.slice(from).matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
  const block = find.needle ? blocks.find((b) => b.includes(find.needle!)) : blocks[0];
  expect(block, JSON.stringify(find)).toBeDefined();
  return block!;
}

/** Shell lines joined where they continue (a trailing backslash, or a pipe). */
function commands(block: string): string[] {
  return block
    .replace(/\\\n\s*/g, '')
    .replace(/\|\n\s*/g, '| ')
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.trimStart().startsWith('#'));
}

let dir: string;
let upOutput = '';
const env = () => ({ ...process.env, PRISM_LOCAL_DIR: dir, NODE_NO_WARNINGS: '1' });
const bash = (script: string, timeout = 60_000) => {
  const r = spawnSync(
    'bash',
    ['-eo', 'pipefail', '-c', script.replaceAll('./.prism-local', dir).replaceAll('.prism-local', dir)],
    { cwd: REPO, encoding: 'utf8', env: env(), timeout },
  );
  return { status: r.status, out: r.stdout, err: r.stderr };
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'prism-runbook-local-'));
  // Asynchronously: the platform's start-up takes a while, and the CLI exits once it is ready.
  upOutput = await new Promise<string>((resolve, reject) => {
    const c = spawn(process.execPath, ['--import', 'tsx', 'infra/cli/local-platform.ts', 'up'], {
      cwd: REPO,
      env: env(),
    });
    let out = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.stderr.on('data', (d: Buffer) => (out += d.toString()));
    c.on('error', reject).on('close', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`local:up exited ${code}:\n${out}`)),
    );
  });
}, 240_000);

afterAll(() => {
  if (dir && existsSync(join(dir, 'endpoints.json'))) {
    spawnSync(process.execPath, ['--import', 'tsx', 'infra/cli/local-platform.ts', 'down'], {
      cwd: REPO,
      env: env(),
      encoding: 'utf8',
    });
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 120_000);

describe("the README's local run, as written", () => {
  it("local:up's Try: line works: the CA is given, nothing hides an error", () => {
    const line = /^Try: (.+)$/m.exec(upOutput)?.[1];
    expect(line).toMatch(
      /^curl --cacert \S+\/mtls\/operator\/ca\.crt https:\/\/127\.0\.0\.1:\d+\/api\/echo-public\/hello\?x=1$/,
    );
    expect(line).not.toMatch(/ -s\b/);
    const r = bash(`${line!} 2>/dev/null`);
    expect(r.status).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ method: 'GET', path: '/hello', query: { x: '1' } });
  });

  it('register, log in, and call a protected route through the gateway: the README block', () => {
    const block = shBlock(readFileSync('README.md', 'utf8'), { needle: '/api/auth/register' });
    const r = bash(block);
    expect(r.err).toBe('');
    expect(r.status).toBe(0);
    const [pub, registered, me, echoed] = r.out.trim().split(/(?<=\})(?=\{)|\n/);
    expect(JSON.parse(pub!)).toMatchObject({ path: '/hello' });
    expect(JSON.parse(registered!)).toMatchObject({ status: 'accepted' });
    const user = JSON.parse(me!) as { id: string; email: string };
    expect(user.email).toBe('me@example.com');
    const protectedCall = JSON.parse(echoed!) as { path: string; headers: Record<string, string> };
    expect(protectedCall.path).toBe('/hello');
    expect(protectedCall.headers['x-prism-user-id']).toBe(user.id);
    expect(protectedCall.headers['x-prism-auth-method']).toBe('jwt');
  });

  it('the config CLI block: every line runs as written, in order, and each change takes effect', () => {
    const block = shBlock(readFileSync('README.md', 'utf8'), { needle: 'npm run config -- keys' });
    const cmds = commands(block);
    expect(cmds.every((c) => c.startsWith('npm run config -- '))).toBe(true);
    const r = bash(cmds.map((c) => c.replace('npm run config', 'npm run -s config')).join('\n'), 240_000);
    expect(r.status, r.err).toBe(0);
    // One answer per command, and what each set, rolled back or deleted shows in the answers after it.
    expect(r.out).toMatch(/^ {2}rate_limit\.requests_per_second +\(gateway\)/m);
    expect(r.out).toMatch(/^gateway\/rate_limit\.requests_per_second = 50 +\(version 1, operator\/local, /m);
    expect(r.out).toMatch(/^global\/maintenance\.message = "Back at noon" /m);
    expect(r.out).toMatch(/^ {2}v1 +set 50 +\(operator\/local, \S+, "load test"\)$/m);
    expect(r.out).toMatch(/^gateway\/rate_limit\.requests_per_second = 50 +\(version 2, /m);
    expect(r.out).toMatch(/^global\/maintenance\.enabled = \(deleted\) /m);
  }, 300_000);

  it('the gateway starts without the DEP0123 TLS warning', () => {
    const log = readFileSync(join(dir, 'logs/gateway-1.log'), 'utf8');
    expect(log).toContain('mutual TLS on');
    expect(log).not.toContain('DEP0123');
  });
});

describe("the runbook's troubleshooting commands for the local platform, as written", () => {
  const block = shBlock(readFileSync('docs/operations/runbook.md', 'utf8'), { heading: '### On the local platform' });
  const cmds = commands(block);
  /** What each command must print, by a word of it. */
  const expected: [RegExp, RegExp][] = [
    [/^npm run local:status/, /^ {2}gateway-1 +running/m],
    [/^npm run local:logs -- auth/, /"service":"auth"/],
    [/psql .*SELECT 1/, /\(1 row\)/],
    [/cli\.ts status/, /^== prism_auth\n {2}001_initial_schema\.sql {2}applied/m],
    [/redis-cli .* ping/, /^PONG$/m],
    [/redis-cli .* info memory/, /^used_memory:\d+/m],
    [/\/varz/, /"server_id"/],
    [/\/jsz/, /"streams": *\d+/],
    [/s3_console/, /^200$/m],
  ];

  it('lists a command for each of the guide’s checks, and no -plaintext', () => {
    expect(cmds).toHaveLength(expected.length + 1); // + grpcurl, below
    for (const [which] of expected)
      expect(
        cmds.filter((c) => which.test(c)),
        String(which),
      ).toHaveLength(1);
    expect(block).not.toContain('-plaintext');
    expect(readFileSync('docs/operations/runbook.md', 'utf8')).not.toMatch(/grpcurl -plaintext/);
  });

  for (const [which, output] of expected) {
    it(`runs: ${String(which)}`, () => {
      const cmd = cmds.find((c) => which.test(c))!;
      const r = bash(cmd);
      expect(r.status, r.err).toBe(0);
      expect(r.out).toMatch(output);
    });
  }

  it('the grpcurl health check: its files, address and service answer SERVING over mutual TLS', async () => {
    const cmd = cmds.find((c) => c.startsWith('grpcurl '))!;
    if (spawnSync('sh', ['-c', 'command -v grpcurl']).status === 0) {
      const r = bash(cmd);
      expect(r.status, r.err).toBe(0);
      expect(r.out).toContain('"status": "SERVING"');
      return;
    }
    // No grpcurl on this machine: the same call, made with exactly the command's flags.
    const flag = (f: string) => new RegExp(`-${f} (\\S+)`).exec(cmd)![1]!.replaceAll('.prism-local', dir);
    const address = bash(`echo ${/("\$\(node -p .*?\)")/.exec(cmd)![1]!}`).out.trim();
    expect(address).toMatch(/^127\.0\.0\.1:\d+$/);
    const request = JSON.parse(/-d '([^']+)'/.exec(cmd)![1]!) as { service: string };
    const { Health } = loadProto('grpc/health/v1/health.proto').grpc.health.v1;
    const client = new Health(
      address,
      grpc.credentials.createSsl(readFileSync(flag('cacert')), readFileSync(flag('key')), readFileSync(flag('cert'))),
    );
    try {
      const reply = await new Promise<unknown>((resolve, reject) =>
        client.Check(request, { deadline: Date.now() + 10_000 }, (e, r) =>
          e || !r ? reject(e ?? new Error('no reply')) : resolve(r),
        ),
      );
      expect(reply).toMatchObject({ status: 'SERVING' });
    } finally {
      client.close();
    }
  });
});
