import type { ConfigServiceClient } from '../../runtime/src/proto/prism/config/v1/ConfigService.js';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ServiceRuntime, grpc, loadProto } from '../../runtime/src/index.js';
import { migrateDatabase } from '../../dbmanager/src/migrations/index.js';
import { freshDatabase } from '../../dbmanager/test/pg-support.js';
import { CONFIG_SERVICE } from '../src/service.js';
import { startTestConfigService } from './support/config-server.js';

type Call = (req: object) => Promise<Record<string, unknown>>;
interface GrpcErr {
  code: number;
  details: string;
}

describe('config service over gRPC (real PostgreSQL and NATS)', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let runtime: ServiceRuntime;
  let client: ConfigServiceClient;
  const call =
    (method: string): Call =>
    (req) =>
      new Promise((resolve, reject) =>
        Reflect.get(client, method).call(client, req, (err: GrpcErr | null, res: Record<string, unknown>) =>
          err ? reject(err) : resolve(res),
        ),
      );
  const env = 'test';
  const gw = (key: string) => ({ environment: env, service: 'gateway', key });

  beforeAll(async () => {
    db = await freshDatabase('config_svc');
    await migrateDatabase('ops', db.url);
    const started = await startTestConfigService(db.url);
    runtime = started.runtime;
    const port = started.port;
    const Config = loadProto('prism/config/v1/config.proto').prism.config.v1.ConfigService;
    client = new Config(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  });

  afterAll(async () => {
    client?.close();
    await runtime?.shutdown();
    await db?.drop();
  });

  it('serves grpc.health.v1 for itself', async () => {
    const Health = loadProto('grpc/health/v1/health.proto').grpc.health.v1.Health;
    const h = new Health(client.getChannel().getTarget().replace(/^dns:/, ''), grpc.credentials.createInsecure());
    const res = await new Promise((resolve, reject) =>
      h.Check({ service: CONFIG_SERVICE }, (e: Error | null, r: unknown) => (e ? reject(e) : resolve(r))),
    );
    expect(res).toEqual({ status: 'SERVING' });
    h.close();
  });

  it('sets and gets a value, with who and when', async () => {
    const set = await call('Set')({ ...gw('rate_limit.burst'), valueJson: '50', changedBy: 'alice' });
    expect(set).toMatchObject({ version: 1, valueJson: '50', updatedBy: 'alice' });
    const got = await call('Get')(gw('rate_limit.burst'));
    expect(got).toMatchObject({
      environment: env,
      service: 'gateway',
      key: 'rate_limit.burst',
      valueJson: '50',
      version: 1,
      updatedBy: 'alice',
    });
    expect(Date.now() - Date.parse(String(got.updatedAt))).toBeLessThan(60_000);
    const listed = await call('List')({ environment: env, service: 'gateway' });
    expect((listed.entries as unknown[]).length).toBe(1);
    await expect(call('Get')(gw('rate_limit.enabled'))).rejects.toMatchObject({
      code: grpc.status.NOT_FOUND,
      details: 'no value for rate_limit.enabled of gateway in test',
    });
  });

  it('refuses settings no service reads (they would show as in force and change nothing)', async () => {
    for (const [service, key, value] of [
      ['auth', 'auth.login_max_failures', '3'],
      ['auth', 'auth.lockout_seconds', '60'],
      ['dbmanager', 'backup.retention_days', '1'],
      ['auth', 'log.level', '"debug"'],
      ['config', 'log.level', '"debug"'],
    ] as const) {
      await expect(
        call('Set')({ environment: env, service, key, valueJson: value, changedBy: 'mallory' }),
        `${service} ${key}`,
      ).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
    }
    const listed = await call('List')({ environment: env, service: 'auth' });
    expect(listed.entries).toEqual([]);
  });

  it('rejects a value or key outside the declared schema, clearly, and writes nothing', async () => {
    await expect(
      call('Set')({ ...gw('rate_limit.burst'), valueJson: '"lots"', changedBy: 'alice' }),
    ).rejects.toMatchObject({
      code: grpc.status.INVALID_ARGUMENT,
      details: expect.stringMatching(/^value "lots" for rate_limit\.burst is invalid: .*expected number/),
    });
    await expect(call('Set')({ ...gw('rate_limit.burst'), valueJson: '0', changedBy: 'alice' })).rejects.toMatchObject({
      details: expect.stringMatching(/value 0 for rate_limit\.burst is invalid: .*>=1/),
    });
    await expect(call('Set')({ ...gw('rate_limit.bursts'), valueJson: '5', changedBy: 'alice' })).rejects.toMatchObject(
      {
        code: grpc.status.INVALID_ARGUMENT,
        details: 'key "rate_limit.bursts" is not declared: see ListKeys (feature flags are feature.<name>)',
      },
    );
    await expect(
      call('Set')({ environment: env, service: 'auth', key: 'rate_limit.burst', valueJson: '5', changedBy: 'alice' }),
    ).rejects.toMatchObject({
      details: 'key "rate_limit.burst" does not apply to service auth: it applies to gateway',
    });
    await expect(
      call('Set')({ ...gw('rate_limit.burst'), valueJson: '{not json', changedBy: 'alice' }),
    ).rejects.toMatchObject({
      details: expect.stringMatching(/^value_json is not JSON/),
    });
    await expect(call('Set')({ ...gw('rate_limit.burst'), valueJson: '60', changedBy: ' ' })).rejects.toMatchObject({
      details: 'changed_by is required: say who makes the change',
    });
    const history = await call('History')(gw('rate_limit.burst'));
    expect((history.entries as unknown[]).length).toBe(1);
    expect(await call('Get')(gw('rate_limit.burst'))).toMatchObject({ valueJson: '50', version: 1 });
    const keys = (await call('ListKeys')({})).keys as Array<{ key: string; schemaJson: string }>;
    expect(JSON.parse(keys.find((k) => k.key === 'rate_limit.burst')!.schemaJson)).toMatchObject({
      type: 'integer',
      minimum: 1,
    });
  });

  it('keeps every version and rolls back to an old one as a new version', async () => {
    await call('Set')({ ...gw('rate_limit.burst'), valueJson: '100', changedBy: 'bob', comment: 'launch' });
    await call('Set')({ ...gw('rate_limit.burst'), valueJson: '200', changedBy: 'carol' });
    const rolled = await call('Rollback')({
      ...gw('rate_limit.burst'),
      toVersion: 1,
      changedBy: 'dave',
      comment: 'too high',
    });
    expect(rolled).toMatchObject({ version: 4, valueJson: '50', updatedBy: 'dave' });
    const history = (await call('History')(gw('rate_limit.burst'))).entries as Array<Record<string, unknown>>;
    expect(history.map((h) => [h.version, h.valueJson, h.action, h.changedBy])).toEqual([
      [4, '50', 'rollback', 'dave'],
      [3, '200', 'set', 'carol'],
      [2, '100', 'set', 'bob'],
      [1, '50', 'set', 'alice'],
    ]);
    expect(history[0]).toMatchObject({ rolledBackTo: 1, comment: 'too high' });
    expect(history[2]).toMatchObject({ comment: 'launch' });
    await expect(
      call('Rollback')({ ...gw('rate_limit.burst'), toVersion: 9, changedBy: 'dave' }),
    ).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
    // A delete is a version too; the next set continues the numbering.
    expect(await call('Delete')({ ...gw('rate_limit.burst'), changedBy: 'erin' })).toMatchObject({
      version: 5,
      valueJson: '',
    });
    await expect(call('Get')(gw('rate_limit.burst'))).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
    await expect(
      call('Rollback')({ ...gw('rate_limit.burst'), toVersion: 5, changedBy: 'dave' }),
    ).rejects.toMatchObject({
      details: 'version 5 of rate_limit.burst deleted the key; roll back to a version that set a value',
    });
    expect(await call('Rollback')({ ...gw('rate_limit.burst'), toVersion: 3, changedBy: 'dave' })).toMatchObject({
      version: 6,
      valueJson: '200',
    });
  });

  it('tells watchers through NATS (prism.system.config.>) and the Watch stream within a second', async () => {
    const nc = await connect({ servers: process.env.PRISM_TEST_NATS_URL! });
    const sub = nc.subscribe('prism.system.config.>', { max: 1 });
    await nc.flush();
    const stream = client.Watch({ environment: env, service: 'gateway', keyPrefix: 'feature.' });
    await new Promise((r) => stream.once('metadata', r)); // the server's subscription is live
    const fromStream = new Promise<{ change: Record<string, unknown>; at: number }>((resolve) =>
      stream.once('data', (change) => resolve({ change, at: Date.now() })),
    );
    const fromNats = (async () => {
      for await (const m of sub)
        return { subject: m.subject, change: JSON.parse(m.string()) as Record<string, unknown>, at: Date.now() };
      throw new Error('no message');
    })();
    const sentAt = Date.now();
    await call('Set')({ ...gw('feature.new_checkout'), valueJson: 'true', changedBy: 'frank' });
    const [s, n] = await Promise.all([fromStream, fromNats]);
    expect(n.subject).toBe('prism.system.config.test.gateway.feature.new_checkout');
    expect(n.change).toMatchObject({
      key: 'feature.new_checkout',
      version: 1,
      valueJson: 'true',
      action: 'set',
      changedBy: 'frank',
    });
    expect(s.change).toMatchObject({ key: 'feature.new_checkout', version: 1, valueJson: 'true' });
    expect(n.at - sentAt).toBeLessThan(1000);
    expect(s.at - sentAt).toBeLessThan(1000);
    stream.on('error', () => {}); // cancelling ends the stream with CANCELLED
    stream.cancel();
    await nc.close();
  });

  it('concurrent writers: no lost update, gap-free versions, and one winner per expected version', async () => {
    const key = gw('rate_limit.requests_per_second');
    const n = 20;
    const results = await Promise.all(
      Array.from({ length: n }, (_, i) => call('Set')({ ...key, valueJson: String(i + 1), changedBy: `writer-${i}` })),
    );
    expect(results.map((r) => r.version).sort((a, b) => Number(a) - Number(b))).toEqual(
      Array.from({ length: n }, (_, i) => i + 1),
    );
    const history = (await call('History')(key)).entries as Array<Record<string, unknown>>;
    expect(history.length).toBe(n);
    const current = await call('Get')(key);
    expect(current.version).toBe(n);
    expect(current.valueJson).toBe(history[0]!.valueJson);

    const racers = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) =>
        call('Set')({
          ...key,
          valueJson: String(1000 + i),
          changedBy: `racer-${i}`,
          checkVersion: true,
          expectedVersion: n,
        }),
      ),
    );
    const won = racers.filter((r) => r.status === 'fulfilled');
    expect(won.length).toBe(1);
    for (const r of racers.filter((x) => x.status === 'rejected')) {
      expect(r.reason).toMatchObject({
        code: grpc.status.ABORTED,
        details: expect.stringMatching(/is at version 21, not 20: read it again and retry/),
      });
    }
  });
});
