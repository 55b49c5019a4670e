import { readFileSync, existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DBMANAGER_CLI, SERVICE_ENTRY, SERVICE_NAMES } from '../../infra/contract/index.js';
import { loadStack } from '../../infra/config/index.js';
import { buildPlatform, component, imageRef } from '../../infra/model/index.js';
import { DATA_IMAGES } from '../../infra/model/components/data.js';
import { IMAGE_ENTRYPOINT, pinnedTini } from '../../scripts/check-image.mjs';
import { PG_PROGRAMS } from '#services/dbmanager/src/backup/pg-programs';

// What services/Dockerfile declares, read as text. What the built images carry is checked on the images
// themselves by scripts/image-test.sh (scripts/check-image.mjs on their mounted root filesystems).
const file = readFileSync('services/Dockerfile', 'utf8');
const stages = [...file.matchAll(/^FROM (\S+)(?: AS (\S+))?$/gm)].map((m) => ({ from: m[1], as: m[2], at: m.index }));
/** The lines of a stage, up to the next FROM. */
function stage(name: string): string {
  const i = stages.findIndex((s) => s.as === name);
  expect(i, `stage ${name}`).toBeGreaterThanOrEqual(0);
  return file.slice(stages[i]!.at, stages[i + 1]?.at ?? file.length);
}
const json = (text: string, instruction: string) => {
  const m = text.match(new RegExp(`^${instruction} (\\[.*\\])$`, 'm'));
  return m ? (JSON.parse(m[1]!) as string[]) : undefined;
};

describe('the one service Dockerfile', () => {
  const stack = loadStack('stacks', 'dev');
  const platform = buildPlatform(stack.name, stack.config);

  it('the model builds every service from it, picking the service by argument and the DB manager by stage', () => {
    for (const name of SERVICE_NAMES) {
      const build = component(platform, name).image.build!;
      expect(build, name).toEqual({
        context: '.',
        dockerfile: 'services/Dockerfile',
        args: { SERVICE: name },
        target: name === 'dbmanager' ? 'dbmanager' : 'service',
      });
      expect(
        stages.map((s) => s.as),
        name,
      ).toContain(build.target);
    }
    // Without a target, a builder builds the last stage: the plain service, never the DB manager's.
    expect(stages.at(-1)?.as).toBe('service');
    expect(file).toMatch(/gateway\|auth\|config\|dbmanager\) ;;/);
  });

  it('every image runs node on its application directory under tini; the DB manager serves by default, its tasks replace CMD', () => {
    for (const name of ['service', 'dbmanager']) {
      expect(json(stage(name), 'ENTRYPOINT'), name).toEqual(IMAGE_ENTRYPOINT);
      expect(stage(name), name).toMatch(/^USER 10001:10001$/m);
    }
    expect(json(stage('dbmanager'), 'CMD')).toEqual(DBMANAGER_CLI.serve);
    expect(json(stage('service'), 'CMD')).toBeUndefined();
    // The application's package.json starts the contract's entry file, which has a source.
    expect(stage('app')).toContain('node /tmp/service-deps.mjs entry /app "${SERVICE}"');
    for (const name of SERVICE_NAMES) {
      const entry = component(platform, name).image.entrypoint!;
      expect(entry, name).toEqual(SERVICE_ENTRY[name]);
      const source = entry[1]!.replace(/^build\//, '').replace(/\.js$/, '.ts');
      expect(existsSync(source), `${name}: ${source}`).toBe(true);
    }
  });

  it("the DB manager gets the PostgreSQL programs of the databases' image, as files only (no VOLUME, STOPSIGNAL, EXPOSE 5432 or PGDATA)", () => {
    // pg_basebackup refuses servers newer than itself, and a restore is verified with this server.
    expect(file).toContain(`ARG PG_IMAGE=${imageRef(DATA_IMAGES.postgres)}\n`);
    expect(file).toContain(`ARG PG_MAJOR=${DATA_IMAGES.postgres.tag.split('.')[0]}`);
    expect(stages.find((s) => s.from === '${PG_IMAGE}')?.as).toBe('pg');
    expect(stages.find((s) => s.as === 'dbmanager')?.from).toBe('runtime');
    expect(stages.find((s) => s.as === 'service')?.from).toBe('runtime');
    expect(stages.find((s) => s.as === 'runtime')?.from).toBe('${BASE_IMAGE}');
    expect(stage('dbmanager')).toContain('COPY --from=pg /pg/ /');
    expect(stage('dbmanager')).toContain('PATH=/usr/lib/postgresql/${PG_MAJOR}/bin:$PATH');
    expect(stage('service')).not.toContain('--from=pg');
    expect(file).not.toMatch(/^(VOLUME|STOPSIGNAL)/m);
    expect(file).not.toMatch(/^ENV .*PGDATA/m);
  });

  it("the pg stage copies exactly the DB manager's programs (its code's PG_PROGRAMS, pg_waldump among them) and what they load", () => {
    // One list: the stage's default is the code's, and the copy loop and the ldd loop both walk it.
    const pg = stage('pg');
    expect(pg).toContain(`ARG PG_PROGRAMS="${PG_PROGRAMS.join(' ')}"`);
    expect(PG_PROGRAMS).toContain('pg_waldump'); // pg_verifybackup runs it from its own directory
    expect(pg).toContain('progs="${PG_PROGRAMS}"');
    expect(pg).toMatch(/for p in \$progs; do cp -a \$bin\/\$p/);
    expect(pg).toMatch(/for f in \$\(for p in \$progs; do echo \$bin\/\$p; done\) .*; do \\\n\s+ldd "\$f"/);
    // The program list is written nowhere else in the file.
    expect(file.match(/pg_basebackup pg_receivewal/g)).toHaveLength(1);
  });

  it('tini is pinned to a Debian package version and installed at exactly that version', () => {
    expect(pinnedTini()).toMatch(/^\d+\.\d+\.\d+-\d+(\+b\d+)?$/);
    expect(stage('runtime')).toContain('"tini=${TINI_VERSION}"');
  });
});
