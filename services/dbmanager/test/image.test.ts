import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { DBMANAGER_CLI, PORTS } from '../../../infra/contract/index.js';
import { DATA_IMAGES } from '../../../infra/model/components/data.js';

const read = (p: string) => readFile(new URL(`../../../${p}`, import.meta.url), 'utf8');

describe('service images', () => {
  it('the DB manager image runs the PostgreSQL version of the databases, with the migrations beside the code', async () => {
    const file = await read('services/dbmanager/Dockerfile');
    // pg_basebackup refuses servers newer than itself, and a restore is verified with this server.
    expect(file).toContain(`ARG PG_IMAGE=${DATA_IMAGES.postgres.repository}:${DATA_IMAGES.postgres.tag}`);
    expect(file).toContain(`PATH=/usr/lib/postgresql/${DATA_IMAGES.postgres.tag.split('.')[0]}/bin:$PATH`);
    expect(file).toContain('COPY --from=build /app/services/dbmanager/migrations ./build/services/dbmanager/migrations');
    expect(file).toContain(`ENTRYPOINT ["/usr/bin/tini", "--", ${DBMANAGER_CLI.entry.map((s) => JSON.stringify(s)).join(', ')}]`);
    expect(file).toMatch(new RegExp(`EXPOSE ${PORTS.dbmanagerGrpc} ${PORTS.metrics}`));
    expect(file).toMatch(/^USER 10001:10001$/m);
  });

  it('the config image exposes the contract ports and runs as a non-root user', async () => {
    const file = await read('services/config/Dockerfile');
    expect(file).toMatch(new RegExp(`EXPOSE ${PORTS.configGrpc} ${PORTS.metrics}`));
    expect(file).toContain('CMD ["node", "build/services/config/src/main.js"]');
    expect(file).toMatch(/^USER 10001:10001$/m);
  });
});
