import { type NatsConnection, connect } from '@nats-io/transport-node';
import pg from 'pg';
import { z } from 'zod';
import { CONFIG_KEYS, CONFIG_SCOPES, FEATURE_FLAG, GRPC_APIS, SUBJECTS } from '#contract';
import {
  GrpcError,
  type ServiceRuntime,
  callerOf,
  grpc,
  loadProto,
  natsConnectOptions,
  pgClientSsl,
  unary,
} from '../../runtime/src/index.js';
import type { ConfigChange__Output as ConfigChange } from '../../runtime/src/proto/prism/config/v1/ConfigChange.js';
import type { DeleteRequest__Output as DeleteRequest } from '../../runtime/src/proto/prism/config/v1/DeleteRequest.js';
import type { GetRequest__Output as GetRequest } from '../../runtime/src/proto/prism/config/v1/GetRequest.js';
import type { HistoryRequest__Output as HistoryRequest } from '../../runtime/src/proto/prism/config/v1/HistoryRequest.js';
import type { ListRequest__Output as ListRequest } from '../../runtime/src/proto/prism/config/v1/ListRequest.js';
import type { RollbackRequest__Output as RollbackRequest } from '../../runtime/src/proto/prism/config/v1/RollbackRequest.js';
import type { SetRequest__Output as SetRequest } from '../../runtime/src/proto/prism/config/v1/SetRequest.js';
import type { WatchRequest__Output as WatchRequest } from '../../runtime/src/proto/prism/config/v1/WatchRequest.js';
import type { ConfigServiceHandlers } from '../../runtime/src/proto/prism/config/v1/ConfigService.js';
import {
  type Change,
  type ConfigEntry,
  ConfigInputError,
  ConfigStore,
  NotFoundError,
  VersionConflictError,
} from './store.js';

export const CONFIG_SERVICE = GRPC_APIS.config.service;
const SUBJECT_ROOT = SUBJECTS.config.replace(/\.>$/, '');

/** `prism.system.config.<environment>.<service>.<key>`: keys are dotted, so they add tokens. */
function changeSubject(c: { environment: string; service: string; key: string }): string {
  return `${SUBJECT_ROOT}.${c.environment}.${c.service}.${c.key}`;
}

const toWire = (c: Change): ConfigChange => ({
  environment: c.environment,
  service: c.service,
  key: c.key,
  version: c.version,
  valueJson: c.value === undefined ? '' : JSON.stringify(c.value),
  action: c.action,
  changedBy: c.changedBy,
  changedAt: c.changedAt.toISOString(),
});

const entryOut = (e: ConfigEntry) => ({
  environment: e.environment,
  service: e.service,
  key: e.key,
  valueJson: e.value === undefined ? '' : JSON.stringify(e.value),
  version: e.version,
  updatedBy: e.updatedBy,
  updatedAt: e.updatedAt.toISOString(),
});

function parseValue(json: string): unknown {
  try {
    return JSON.parse(json);
  } catch (e) {
    throw new GrpcError(grpc.status.INVALID_ARGUMENT, `value_json is not JSON: ${(e as Error).message}`);
  }
}

/** Domain errors to gRPC statuses; the message is the store's own (it says what was wrong). */
async function mapped<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof ConfigInputError) throw new GrpcError(grpc.status.INVALID_ARGUMENT, e.message);
    if (e instanceof NotFoundError) throw new GrpcError(grpc.status.NOT_FOUND, e.message);
    if (e instanceof VersionConflictError) throw new GrpcError(grpc.status.ABORTED, e.message);
    throw e;
  }
}

const notice = z.object({ environment: z.string(), service: z.string(), key: z.string() });

/**
 * A NATS notice is only a hint that a key changed: what watchers get is the key's newest version read
 * back from the store, so a forged or replayed notice (a made-up value, a huge version) changes nothing.
 * A notice that is not JSON, lacks the scope or names another subject than it came on is logged and
 * dropped; the watch goes on.
 */
async function changeFromNotice(
  subject: string,
  data: string,
  store: ConfigStore,
  log: ServiceRuntime['log'],
): Promise<ConfigChange | undefined> {
  let parsed: z.infer<typeof notice> | undefined;
  try {
    parsed = notice.parse(JSON.parse(data));
  } catch {
    parsed = undefined;
  }
  if (!parsed || changeSubject(parsed) !== subject) {
    log.warn({ subject, bytes: data.length }, 'malformed config change notice; dropped');
    return undefined;
  }
  const [latest] = await store.history(parsed, 1);
  return latest ? toWire({ ...parsed, ...latest }) : undefined;
}

export interface ConfigServiceHandle {
  readonly port: number;
  readonly store: ConfigStore;
}

/**
 * The config service on the shared runtime: gRPC ConfigService (plus grpc.health.v1) on
 * PRISM_GRPC_PORT, values in prism_ops, each committed change published on NATS.
 */
export async function startConfigService(
  runtime: ServiceRuntime,
  opts: { grpcPort?: number } = {},
): Promise<ConfigServiceHandle> {
  const { env, log, metrics, health } = runtime;
  const pool = new pg.Pool({
    host: String(env.PRISM_OPS_DB_HOST),
    port: Number(env.PRISM_OPS_DB_PORT),
    database: String(env.PRISM_OPS_DB_NAME),
    user: String(env.PRISM_OPS_DB_USER),
    password: String(env.PRISM_OPS_DB_PASSWORD),
    ssl: pgClientSsl(String(env.PRISM_OPS_DB_HOST)),
    max: 10,
  });
  pool.on('error', (err) => log.warn({ err: err.message }, 'idle PostgreSQL connection failed'));
  health.addCheck('postgres', () => pool.query('SELECT 1'));
  metrics.observePgPool('ops', pool);
  runtime.onShutdown('postgres', () => pool.end());

  const nc: NatsConnection = await connect({
    ...natsConnectOptions(env.PRISM_NATS_URL, 'config', runtime.mtls),
    name: `config-${env.PRISM_ENVIRONMENT}`,
    maxReconnectAttempts: -1,
    waitOnFirstConnect: true,
  });
  health.addCheck('nats', () => {
    if (nc.isClosed()) throw new Error('NATS connection closed');
  });
  runtime.onShutdown('nats', () => nc.drain());
  // Notices sent while this connection was down are lost to its watches: after a reconnect each watch is
  // ended, and the gateway re-opens it and lists the values again (compares versions, applies what it missed).
  const watches = new Set<() => void>();
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect')
        log.warn({ server: s.server }, 'NATS connection lost; config change notices wait for it');
      if (s.type !== 'reconnect') continue;
      log.info(
        { server: s.server, watches: watches.size },
        'NATS connection back; ending the watches so that watchers re-read',
      );
      for (const end of [...watches]) end();
    }
  })();

  const store = new ConfigStore(pool, (change) => {
    try {
      nc.publish(changeSubject(change), JSON.stringify(toWire(change)));
      metrics.events.inc({ result: 'published' });
    } catch (err) {
      // The change is committed; watchers that missed it catch up with List.
      metrics.events.inc({ result: 'failed' });
      log.error(
        { err: (err as Error).message, key: change.key, version: change.version },
        'config change not published',
      );
    }
  });

  const server = runtime.createGrpcServer([CONFIG_SERVICE]);
  const Config = loadProto(GRPC_APIS.config.proto).prism.config.v1.ConfigService;
  const deps = { log, metrics };
  const scope = (r: Pick<GetRequest, 'environment' | 'service' | 'key'>) => ({
    environment: r.environment,
    service: r.service,
    key: r.key,
  });
  // With mutual TLS, who changed a value is the verified caller (`operator/alice`), whatever the request says;
  // the request's changed_by counts only on a plaintext server (tests, a process started by hand).
  const mtls = runtime.mtls.enabled;
  const who = (r: Pick<SetRequest, 'changedBy' | 'comment'>, call: grpc.ServerUnaryCall<unknown, unknown>) => {
    const changedBy = mtls ? callerOf(call)?.name : r.changedBy;
    if (changedBy === undefined) throw new GrpcError(grpc.status.UNAUTHENTICATED, 'no verified caller');
    return { changedBy, ...(r.comment ? { comment: r.comment } : {}) };
  };

  server.addService(Config.service, {
    Get: unary('Get', deps, (r: GetRequest) => mapped(async () => entryOut(await store.get(scope(r))))),
    Set: unary('Set', deps, (r: SetRequest, call) =>
      mapped(async () =>
        entryOut(
          await store.set(scope(r), parseValue(r.valueJson), {
            ...who(r, call),
            ...(r.checkVersion ? { expectedVersion: r.expectedVersion } : {}),
          }),
        ),
      ),
    ),
    Delete: unary('Delete', deps, (r: DeleteRequest, call) =>
      mapped(async () => entryOut(await store.delete(scope(r), who(r, call)))),
    ),
    Rollback: unary('Rollback', deps, (r: RollbackRequest, call) =>
      mapped(async () => entryOut(await store.rollback(scope(r), r.toVersion, who(r, call)))),
    ),
    List: unary('List', deps, (r: ListRequest) =>
      mapped(async () => ({
        entries: (await store.list(r.environment, r.service || undefined, r.keyPrefix)).map(entryOut),
      })),
    ),
    History: unary('History', deps, (r: HistoryRequest) =>
      mapped(async () => ({
        entries: (await store.history(scope(r), r.limit || 100)).map((h) => ({
          version: h.version,
          valueJson: h.value === undefined ? '' : JSON.stringify(h.value),
          action: h.action,
          rolledBackTo: h.rolledBackTo ?? 0,
          changedBy: h.changedBy,
          changedAt: h.changedAt.toISOString(),
          comment: h.comment ?? '',
        })),
      })),
    ),
    ListKeys: unary('ListKeys', deps, () => ({
      keys: [...Object.entries(CONFIG_KEYS), ['feature.<name>', FEATURE_FLAG] as const].map(([key, spec]) => ({
        key,
        description: spec.description,
        services: [...spec.services],
        schemaJson: JSON.stringify(z.toJSONSchema(spec.schema)),
      })),
    })),
    Watch: (call: grpc.ServerWritableStream<WatchRequest, ConfigChange>) => {
      const { environment, service, keyPrefix: prefix } = call.request;
      if (
        !/^[a-z0-9][a-z0-9-]*$/.test(environment) ||
        (service && !(CONFIG_SCOPES as readonly string[]).includes(service))
      ) {
        call.emit('error', {
          code: grpc.status.INVALID_ARGUMENT,
          details: `watch needs an environment and, optionally, one of ${CONFIG_SCOPES.join(', ')}`,
        });
        return;
      }
      const sub = nc.subscribe(`${SUBJECT_ROOT}.${environment}.${service || '*'}.>`);
      metrics.grpcRequests.inc({ method: 'Watch', code: 'OK' });
      void (async () => {
        // One at a time, in order: each notice is answered from the store before the next.
        for await (const m of sub) {
          const change = await changeFromNotice(m.subject, m.string(), store, log).catch((e: Error) => {
            log.warn({ subject: m.subject, err: e.message }, 'config change notice could not be read back; dropped');
            return undefined;
          });
          if (change && change.key.startsWith(prefix) && !call.cancelled) call.write(change);
        }
        if (!call.cancelled) call.end();
      })();
      // The stream's subscription is live once NATS has it; the first write tells the client.
      void nc.flush().then(() => call.sendMetadata(new grpc.Metadata()));
      // Streams end when the service drains, so the gRPC server can close.
      const draining = setInterval(() => health.draining && stop(), 500);
      const stop = () => {
        clearInterval(draining);
        sub.unsubscribe();
        watches.delete(stop);
      };
      // Unsubscribing ends the loop above, which ends the call.
      watches.add(stop);
      call.on('cancelled', stop);
      call.on('close', stop);
      call.on('error', stop);
    },
  } satisfies ConfigServiceHandlers);

  const port = await runtime.bindGrpc(server, opts.grpcPort ?? env.PRISM_GRPC_PORT);
  log.info({ port }, 'config gRPC listening');
  return { port, store };
}
