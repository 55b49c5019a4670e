import { describe, expect, it } from 'vitest';
import { COMPOSE_FILES, renderLocal } from '../../infra/compose/index.js';
import { loadStack, parseStackFile } from '../../infra/config/index.js';
import { buildPlatform, component } from '../../infra/model/index.js';
import { parse } from 'yaml';
import { readFileSync } from 'node:fs';

/** Every size is stack configuration: an override reaches the model and both renderers, and what is derived from it follows. */
describe('sizing from the stack configuration', () => {
  const dev = loadStack('stacks', 'dev');
  const file = 'stacks/Pulumi.dev.yaml';
  const sized = (resources: Record<string, unknown>) => {
    const doc = parse(readFileSync(file, 'utf8')) as { config: Record<string, unknown> };
    return buildPlatform(
      'dev',
      parseStackFile({ ...doc, config: { ...doc.config, 'prism:resources': resources } }, file),
    );
  };

  it('defaults to the documented sizes', () => {
    expect(component(buildPlatform('dev', dev.config), 'redis').resources).toEqual({
      requests: { cpu: '100m', memory: '128Mi' },
      limits: { cpu: '500m', memory: '512Mi' },
    });
  });

  it("a store's override: its requests and limits, Redis's maxmemory (three quarters of the limit), Compose's mem_limit", () => {
    const platform = sized({
      redis: { requests: { cpu: '200m', memory: '1Gi' }, limits: { cpu: '2', memory: '2Gi' } },
    });
    const redis = component(platform, 'redis');
    expect(redis.resources).toEqual({ requests: { cpu: '200m', memory: '1Gi' }, limits: { cpu: '2', memory: '2Gi' } });
    expect(redis.configFiles.find((f) => f.name === 'redis.conf')!.content).toContain(
      `maxmemory ${Math.floor(2 * 1024 ** 3 * 0.75)}`,
    );
    const compose = parse(renderLocal(platform).get(COMPOSE_FILES.data)!) as {
      services: Record<string, { mem_limit: string; cpus: number }>;
    };
    expect(compose.services.redis).toMatchObject({ mem_limit: '2g', cpus: 2 });
  });

  it("the log shipper's and the edge proxy's sizes too", () => {
    const platform = sized({
      logShipper: { requests: { cpu: '10m', memory: '32Mi' }, limits: { cpu: '100m', memory: '128Mi' } },
    });
    expect(platform.logShipper!.resources.limits).toEqual({ cpu: '100m', memory: '128Mi' });
    expect(component(platform, 'edge').resources).toEqual(
      component(buildPlatform('dev', dev.config), 'edge').resources,
    );
  });
});
