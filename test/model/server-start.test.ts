import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { loadStack } from '../../infra/config/index.js';
import {
  NATS_TLS_DIR,
  PG_TLS_DIR,
  PG_TLS_KEY_COPY,
  TLS_RENEWAL_CHECK_SECONDS,
  buildPlatform,
  component,
} from '../../infra/model/index.js';
import { waitFor } from '../support/net.js';

const exec = promisify(execFile);

/** Tells the stand-in server to stop, then waits until it and the wrapper's check (whose script names `mounted`) are gone. */
async function stopAndWaitGone(dir: string, mounted: string): Promise<void> {
  await writeFile(join(dir, 'stop'), '');
  await waitFor(
    'the server and the check gone',
    async () => {
      const { stdout } = await exec('ps', ['-eo', 'args']).catch(() => ({ stdout: '' }));
      return stdout.includes(mounted) ? undefined : true;
    },
    10_000,
  );
}

/**
 * The PostgreSQL start wrapper of the model (Kubernetes and Compose run it as the container's command), run
 * with sh: PostgreSQL refuses a key others may read, and a Compose bind mount gives it 0644, so the wrapper must
 * leave a 0600 copy where ssl_key_file points and hand the model's arguments, unchanged, to the image's entrypoint.
 * PostgreSQL reads a renewed certificate only on SIGHUP, so the wrapper's check must copy the new key and signal
 * the server, and only the server (the image's entrypoint dies of a SIGHUP while it initialises).
 */
describe("the servers' start wrappers (PostgreSQL, NATS)", () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('copies the key private, execs the entrypoint with the model arguments, and reloads a renewed certificate', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'prism-pg-start-'));
    dirs.push(dir);
    const c = component(buildPlatform('dev', loadStack('stacks', 'dev').config), 'postgres-auth');
    expect(c.args).toContain(`ssl_key_file=${PG_TLS_KEY_COPY}`);
    // The model's absolute paths moved under the test's directory, and its check every second instead of every minute.
    const mounted = join(dir, 'mounted');
    const copy = join(dir, 'tmp', 'postgres-tls', 'tls.key');
    const local = (a: string) =>
      a
        .replaceAll(dirname(PG_TLS_KEY_COPY), dirname(copy))
        .replaceAll(PG_TLS_DIR, mounted)
        .replaceAll(`sleep ${TLS_RENEWAL_CHECK_SECONDS} `, 'sleep 1 ');
    await mkdir(mounted);
    await writeFile(join(mounted, 'tls.crt'), 'the certificate\n');
    await writeFile(join(mounted, 'tls.key'), 'the key\n', { mode: 0o644 });
    // The image's entrypoint, stood in for: it initialises for 3 s, then execs the server as the real one does
    // (`exec "$@"`). The server, stood in for by a script named postgres: it records its arguments, its umask and
    // each SIGHUP, and runs until told to stop.
    const bin = join(dir, 'bin');
    await mkdir(bin);
    await writeFile(join(bin, 'docker-entrypoint.sh'), '#!/bin/sh\nsleep 3\nexec "$@"\n');
    await writeFile(
      join(bin, 'postgres'),
      [
        '#!/bin/sh',
        `printf '%s\\n' "$@" > ${join(dir, 'argv')}`,
        `umask > ${join(dir, 'umask')}`,
        `trap 'echo hup >> ${join(dir, 'hups')}' HUP`,
        `while [ ! -e ${join(dir, 'stop')} ]; do sleep 0.1; done`,
        '',
      ].join('\n'),
    );
    await chmod(join(bin, 'docker-entrypoint.sh'), 0o755);
    await chmod(join(bin, 'postgres'), 0o755);
    const [shell, ...rest] = c.command!.map(local);
    const wrapper = spawn(shell!, [...rest, ...(c.args ?? [])], {
      env: { PATH: `${bin}:${process.env.PATH}` },
      stdio: 'ignore',
    });
    try {
      await waitFor('the key copied', async () => (existsSync(copy) ? true : undefined), 5_000);
      expect((await stat(copy)).mode & 0o777).toBe(0o600);
      expect(await readFile(copy, 'utf8')).toBe('the key\n');
      // Renewed while the entrypoint still initialises: not signalled (it would die), loaded once the server runs.
      await writeFile(join(mounted, 'tls.crt'), 'the renewed certificate\n');
      await writeFile(join(mounted, 'tls.key'), 'the renewed key\n', { mode: 0o644 });
      await waitFor('the server', async () => (existsSync(join(dir, 'argv')) ? true : undefined), 10_000);
      expect((await readFile(join(dir, 'argv'), 'utf8')).trimEnd().split('\n')).toEqual([...(c.args ?? [])]);
      expect((await readFile(join(dir, 'umask'), 'utf8')).trim()).not.toBe('0077');
      await waitFor('a SIGHUP', async () => (existsSync(join(dir, 'hups')) ? true : undefined), 10_000);
      expect(await readFile(copy, 'utf8')).toBe('the renewed key\n');
      expect((await stat(copy)).mode & 0o777).toBe(0o600);
      // Nothing changed since: no second reload.
      await new Promise((r) => setTimeout(r, 2_500));
      expect(await readFile(join(dir, 'hups'), 'utf8')).toBe('hup\n');
      expect(wrapper.exitCode).toBeNull();
      // The check ends with the server.
      await stopAndWaitGone(dir, mounted);
    } finally {
      wrapper.kill('SIGKILL');
    }
  }, 60_000);
  it("nats-server's wrapper reloads a renewed certificate once the server runs, and execs it with the model arguments", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'prism-nats-start-'));
    dirs.push(dir);
    const c = component(buildPlatform('dev', loadStack('stacks', 'dev').config), 'nats');
    const mounted = join(dir, 'mounted');
    const local = (a: string) =>
      a.replaceAll(NATS_TLS_DIR, mounted).replaceAll(`sleep ${TLS_RENEWAL_CHECK_SECONDS} `, 'sleep 1 ');
    await mkdir(mounted);
    await writeFile(join(mounted, 'tls.crt'), 'the certificate\n');
    // nats-server, stood in for by a script of that name: it records its arguments and each SIGHUP.
    const bin = join(dir, 'bin');
    await mkdir(bin);
    await writeFile(
      join(bin, 'nats-server'),
      [
        '#!/bin/sh',
        `printf '%s\\n' "$@" > ${join(dir, 'argv')}`,
        `trap 'echo hup >> ${join(dir, 'hups')}' HUP`,
        `while [ ! -e ${join(dir, 'stop')} ]; do sleep 0.1; done`,
        '',
      ].join('\n'),
    );
    await chmod(join(bin, 'nats-server'), 0o755);
    const [shell, ...rest] = c.command!.map(local);
    const wrapper = spawn(shell!, [...rest, ...(c.args ?? [])], {
      env: { PATH: `${bin}:${process.env.PATH}` },
      stdio: 'ignore',
    });
    try {
      await waitFor('the server', async () => (existsSync(join(dir, 'argv')) ? true : undefined), 5_000);
      expect((await readFile(join(dir, 'argv'), 'utf8')).trimEnd().split('\n')).toEqual([...(c.args ?? [])]);
      await new Promise((r) => setTimeout(r, 2_500));
      expect(existsSync(join(dir, 'hups')), 'no reload without a change').toBe(false);
      await writeFile(join(mounted, 'tls.crt'), 'the renewed certificate\n');
      await waitFor('a SIGHUP', async () => (existsSync(join(dir, 'hups')) ? true : undefined), 10_000);
      await new Promise((r) => setTimeout(r, 2_500));
      expect(await readFile(join(dir, 'hups'), 'utf8')).toBe('hup\n');
      await stopAndWaitGone(dir, mounted);
    } finally {
      wrapper.kill('SIGKILL');
    }
  }, 60_000);
});
