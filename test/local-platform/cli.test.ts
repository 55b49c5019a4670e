import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempCheckout } from '../local/support.js';

/** `npm run local:*` as a newcomer meets it: help, mistyped options, and a bad stack file. */
const cli = (args: string[], cwd = '.') =>
  spawnSync(process.execPath, ['--import', 'tsx', 'infra/cli/local-platform.ts', ...args], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, NODE_NO_WARNINGS: '1' },
  });

describe('npm run local:<command> -- ...', () => {
  it('--help lists the options of the command and exits 0', () => {
    const r = cli(['up', '--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^usage: npm run local:<command> -- \[options\]/);
    for (const o of ['--gateways N', '--fresh', '--port <component/port>=N', '--dir DIR'])
      expect(r.stdout).toContain(o);
    expect(r.stdout).not.toContain('--lines');
    const all = cli(['--help']);
    expect(all.status).toBe(0);
    for (const c of ['up', 'status', 'logs <process>', 'down', 'exec <service>'])
      expect(all.stdout).toMatch(new RegExp(`^  ${c.replace(/[<>]/g, '.')} `, 'm'));
  });

  it('an unknown option is named with the valid ones, not Node’s parseArgs advice', () => {
    const r = cli(['up', '--gatways', '2']);
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toBe(
      'unknown option --gatways for up; valid: --gateways N, --fresh, --port <component/port>=N, --dir DIR, --help',
    );
    expect(r.stderr).not.toContain("To specify a positional argument starting with a '-'");
    const misplaced = cli(['status', '--fresh']);
    expect(misplaced.status).toBe(1);
    expect(misplaced.stderr.trim()).toBe('status takes no --fresh; valid: --dir DIR, --help');
    const unknown = cli(['start']);
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toMatch(/^unknown command start\nusage: /);
  });

  it('a stack-file error prints what synth prints, one line per problem, no stack trace', () => {
    const dir = tempCheckout();
    const file = join(dir, 'stacks/Pulumi.dev.yaml');
    writeFileSync(file, readFileSync(file, 'utf8').replace('    tag: 0.1.0\n', '    tag: 0.1.0\n    colour: blue\n'));
    const synth = spawnSync(process.execPath, ['--import', './infra/cli/ts-loader.mjs', 'infra/cli/synth.ts'], {
      cwd: dir,
      encoding: 'utf8',
    });
    expect(synth.status).toBe(1);
    const up = cli(['up', '--dir', join(dir, 'state')], dir);
    expect(up.status).toBe(1);
    expect(up.stderr).toBe(synth.stderr);
    expect(up.stderr).toBe(
      'stacks/Pulumi.dev.yaml: invalid stack configuration\n  - prism:images.colour: unknown key; expected one of build, pullPolicy, registry, tag\n',
    );
  });
});
