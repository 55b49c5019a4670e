import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { DBMANAGER_CLI, PORTS, SERVICE_NAMES } from '../../../infra/contract/index.js';
import { loadStack } from '../../../infra/config/index.js';
import { buildPlatform, component } from '../../../infra/model/index.js';
import { DATA_IMAGES } from '../../../infra/model/components/data.js';

const read = (p: string) => readFile(new URL(`../../../${p}`, import.meta.url), 'utf8');

describe('service images', () => {
  it("each Dockerfile runs what the model's image says it runs (tini, then the entrypoint, then the component's args), and its source exists", async () => {
    const stack = loadStack(new URL('../../../stacks', import.meta.url).pathname, 'dev');
    const platform = buildPlatform(stack.name, stack.config);
    for (const name of SERVICE_NAMES) {
      const c = component(platform, name);
      const file = await read(c.image.build!.dockerfile);
      const json = (m: RegExpMatchArray | null) => (m ? (JSON.parse(m[1]!) as string[]) : []);
      // The process the container starts: ENTRYPOINT followed by CMD (the component's args replace CMD).
      const entrypoint = json(file.match(/^ENTRYPOINT (\[.*\])$/m));
      const cmd = json(file.match(/^CMD (\[.*\])$/m));
      expect(entrypoint.slice(0, 2), name).toEqual(['/usr/bin/tini', '--']);
      expect(entrypoint.slice(2).concat(c.args ? [] : cmd), name).toEqual(c.image.entrypoint);
      if (c.args) expect(cmd, `${name}: CMD is the model's args`).toEqual(c.args);
      const source = c.image.entrypoint!.find((a) => a.startsWith('build/'))!.replace(/^build\//, '').replace(/\.js$/, '.ts');
      expect(existsSync(new URL(`../../../${source}`, import.meta.url)), `${name}: ${source}`).toBe(true);
    }
  });

  it('the DB manager image runs the PostgreSQL version of the databases, with the migrations beside the code', async () => {
    const file = await read('services/dbmanager/Dockerfile');
    // pg_basebackup refuses servers newer than itself, and a restore is verified with this server.
    expect(file).toContain(`ARG PG_IMAGE=${DATA_IMAGES.postgres.repository}:${DATA_IMAGES.postgres.tag}`);
    expect(file).toContain(`ARG PG_MAJOR=${DATA_IMAGES.postgres.tag.split('.')[0]}`);
    expect(file).toContain('PATH=/usr/lib/postgresql/${PG_MAJOR}/bin:$PATH');
    expect(file).toContain('COPY --from=build /app/services/dbmanager/migrations ./build/services/dbmanager/migrations');
    expect(file).toContain(`ENTRYPOINT ["/usr/bin/tini", "--", ${DBMANAGER_CLI.entry.map((s) => JSON.stringify(s)).join(', ')}]`);
    expect(file).toMatch(new RegExp(`EXPOSE ${PORTS.dbmanagerGrpc} ${PORTS.metrics}`));
    expect(file).toMatch(/^USER 10001:10001$/m);
  });

  it('the DB manager runs on Debian with node, not on the postgres image (no VOLUME, STOPSIGNAL, EXPOSE 5432 or PGDATA inherited)', async () => {
    const file = await read('services/dbmanager/Dockerfile');
    const stages = [...file.matchAll(/^FROM (\S+)(?: AS (\S+))?$/gm)].map((m) => ({ from: m[1], as: m[2] }));
    expect(stages.at(-1)).toEqual({ from: '${BASE_IMAGE}', as: undefined });
    // The postgres image is a build stage only, from which the programs are copied.
    expect(stages.find((s) => s.from === '${PG_IMAGE}')?.as).toBe('pg');
    expect(file).not.toMatch(/^(VOLUME|STOPSIGNAL)/m);
    expect(file).not.toMatch(/^ENV .*PGDATA/m);
  });

  it('the config image exposes the contract ports and runs as a non-root user', async () => {
    const file = await read('services/config/Dockerfile');
    expect(file).toMatch(new RegExp(`EXPOSE ${PORTS.configGrpc} ${PORTS.metrics}`));
    expect(file).toContain('CMD ["node", "build/services/config/src/main.js"]');
    expect(file).toMatch(/^USER 10001:10001$/m);
  });
});
