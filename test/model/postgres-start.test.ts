import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { loadStack } from '../../infra/config/index.js';
import { PG_TLS_DIR, PG_TLS_KEY_COPY, buildPlatform, component } from '../../infra/model/index.js';

const exec = promisify(execFile);

/**
 * The PostgreSQL start wrapper of the model (Kubernetes and Compose run it as the container's command), run
 * with sh: PostgreSQL refuses a key others may read, and a Compose bind mount gives it 0644, so the wrapper must
 * leave a 0600 copy where ssl_key_file points and hand the model's arguments, unchanged, to the image's entrypoint.
 */
describe('the PostgreSQL start wrapper', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('copies the mounted key to a private file and execs the entrypoint with the model arguments', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'prism-pg-start-'));
    dirs.push(dir);
    const c = component(buildPlatform('dev', loadStack('stacks', 'dev').config), 'postgres-auth');
    expect(c.args).toContain(`ssl_key_file=${PG_TLS_KEY_COPY}`);
    // The model's absolute paths, moved under the test's directory.
    const mounted = join(dir, 'mounted');
    const copy = join(dir, 'tmp', 'postgres-tls', 'tls.key');
    const local = (a: string) => a.replaceAll(dirname(PG_TLS_KEY_COPY), dirname(copy)).replaceAll(PG_TLS_DIR, mounted);
    await mkdir(mounted);
    await writeFile(join(mounted, 'tls.key'), 'the key\n', { mode: 0o644 });
    // The image's entrypoint, stood in for: it records what it was given and the umask it runs with.
    const bin = join(dir, 'bin');
    await mkdir(bin);
    await writeFile(
      join(bin, 'docker-entrypoint.sh'),
      `#!/bin/sh\nprintf '%s\\n' "$@" > ${join(dir, 'argv')}\numask > ${join(dir, 'umask')}\n`,
    );
    await chmod(join(bin, 'docker-entrypoint.sh'), 0o755);
    const [shell, ...rest] = c.command!.map(local);
    await exec(shell!, [...rest, ...(c.args ?? [])], {
      env: { PATH: `${bin}:${process.env.PATH}` },
    });
    expect((await stat(copy)).mode & 0o777).toBe(0o600);
    expect(await readFile(copy, 'utf8')).toBe('the key\n');
    expect((await readFile(join(dir, 'argv'), 'utf8')).trimEnd().split('\n')).toEqual(['postgres', ...(c.args ?? [])]);
    expect((await readFile(join(dir, 'umask'), 'utf8')).trim()).not.toBe('0077');
  });
});
