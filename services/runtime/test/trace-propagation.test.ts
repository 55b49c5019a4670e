import { createServer, type Server } from 'node:http';
import { PassThrough } from 'node:stream';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOG_TRACE_ID_REGEX } from '#contract';
import { grpc } from '../src/grpc.js';
import { grpcClientInterceptor, traceGrpcService } from '../src/grpc-tracing.js';
import { createLogger } from '../src/logger.js';
import { context, startTracing, trace, withRequestId, type Tracing } from '../src/tracing.js';
import { waitFor } from '#test/support/net';

/**
 * Trace context across a real gRPC hop, into the official pg and ioredis instrumentations against the
 * test servers, and into log lines, exported over OTLP/HTTP to a receiver that keeps what arrives.
 */

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: { key: string; value: { stringValue?: string; intValue?: string | number } }[];
  service: string;
}

const spans: OtlpSpan[] = [];
let receiver: Server;
let gateway: Tracing;
let auth: Tracing;
let server: grpc.Server;
let client: grpc.Client & { Echo: (req: object, cb: (e: grpc.ServiceError | null, res?: unknown) => void) => void };
let redis: Redis;
const logLines: string[] = [];

const json = {
  serialize: (v: unknown) => Buffer.from(JSON.stringify(v)),
  deserialize: (b: Buffer) => JSON.parse(b.toString()) as unknown,
};
const ECHO: grpc.ServiceDefinition = {
  Echo: {
    path: '/prism.test.Echo/Echo',
    requestStream: false,
    responseStream: false,
    requestSerialize: json.serialize,
    requestDeserialize: json.deserialize,
    responseSerialize: json.serialize,
    responseDeserialize: json.deserialize,
    originalName: 'echo',
  },
};

beforeAll(async () => {
  receiver = createServer((req, res) => {
    let body = '';
    req
      .setEncoding('utf8')
      .on('data', (c: string) => (body += c))
      .on('end', () => {
        for (const rs of JSON.parse(body).resourceSpans ?? []) {
          const service = rs.resource.attributes.find((a: { key: string }) => a.key === 'service.name').value
            .stringValue;
          for (const ss of rs.scopeSpans) for (const s of ss.spans) spans.push({ ...s, service });
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
  });
  const port = await new Promise<number>((r) =>
    receiver.listen(0, '127.0.0.1', () => r((receiver.address() as { port: number }).port)),
  );
  gateway = startTracing('gateway', `http://127.0.0.1:${port}/v1/traces`, 'test');
  // The second service of the process instruments the drivers last: its spans are the driver spans here.
  auth = startTracing('auth', `http://127.0.0.1:${port}/v1/traces`, 'test');

  const log = createLogger({
    service: 'auth',
    destination: new PassThrough().on('data', (b: Buffer) =>
      logLines.push(...b.toString().split('\n').filter(Boolean)),
    ),
  });
  const [host, redisPort] = process.env.PRISM_TEST_REDIS_ADDRESS!.split(':');
  redis = new Redis({
    host,
    port: Number(redisPort),
    password: process.env.PRISM_TEST_REDIS_PASSWORD,
    lazyConnect: true,
  });
  await redis.connect();

  server = new grpc.Server();
  server.addService(
    ECHO,
    traceGrpcService(auth, ECHO, {
      Echo: (async (call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) => {
        const db = new pg.Client({ connectionString: process.env.PRISM_TEST_PG_URL });
        await db.connect();
        await db.query('SELECT 1 AS one');
        await db.end();
        await redis.ping();
        log.info({ metadataRequestId: call.metadata.get('x-request-id')[0] }, 'handled');
        cb(null, { ok: true });
      }) as grpc.handleUnaryCall<unknown, unknown>,
    }),
  );
  const grpcPort = await new Promise<number>((r, j) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? j(e) : r(p))),
  );
  const Client = grpc.makeGenericClientConstructor(ECHO, 'Echo');
  client = new Client(`127.0.0.1:${grpcPort}`, grpc.credentials.createInsecure(), {
    interceptors: [grpcClientInterceptor(gateway)],
  }) as unknown as typeof client;
});

afterAll(async () => {
  client?.close();
  server?.forceShutdown();
  redis?.disconnect();
  await gateway?.shutdown();
  await auth?.shutdown();
  receiver?.close();
});

const attr = (s: OtlpSpan, key: string) => {
  const v = s.attributes.find((a) => a.key === key)?.value;
  return v?.stringValue ?? (v?.intValue !== undefined ? Number(v.intValue) : undefined);
};

describe('trace context across services', () => {
  it('one trace: the caller’s span, its gRPC client span, the server span with the request id, and the server’s PostgreSQL and Redis spans; the server’s log line carries the trace id', async () => {
    const root = gateway.tracer.startSpan('POST /api/auth');
    const ctx = withRequestId(trace.setSpan(context.active(), root), 'req-trace-1');
    await context.with(
      ctx,
      () => new Promise<void>((resolve, reject) => client.Echo({}, (e) => (e ? reject(e) : resolve()))),
    );
    root.end();
    const traceId = root.spanContext().traceId;
    await gateway.shutdown();
    await auth.shutdown();
    const inTrace = await waitFor('the spans of both services', () => {
      const t = spans.filter((s) => s.traceId === traceId);
      return t.some((s) => s.service === 'auth' && /redis|ping/i.test(s.name)) &&
        t.some((s) => s.name === 'prism.test.Echo/Echo' && s.service === 'auth')
        ? t
        : undefined;
    });
    const byName = (service: string, test: (n: string) => boolean) =>
      inTrace.find((s) => s.service === service && test(s.name));
    const clientSpan = byName('gateway', (n) => n === 'prism.test.Echo/Echo')!;
    const serverSpan = byName('auth', (n) => n === 'prism.test.Echo/Echo')!;
    expect(clientSpan.parentSpanId).toBe(root.spanContext().spanId);
    expect(serverSpan.parentSpanId).toBe(clientSpan.spanId);
    expect(attr(serverSpan, 'prism.request_id')).toBe('req-trace-1');
    const query = inTrace.find(
      (s) => s.service === 'auth' && attr(s, 'db.system.name') === 'postgresql' && /SELECT/.test(s.name),
    )!;
    expect(query, JSON.stringify(inTrace.map((s) => s.name))).toBeDefined();
    const ping = inTrace.find((s) => s.service === 'auth' && attr(s, 'db.system.name') === 'redis')!;
    expect(ping).toBeDefined();
    // Children of the server span: the handler ran inside it.
    expect(query.parentSpanId).toBe(serverSpan.spanId);
    expect(ping.parentSpanId).toBe(serverSpan.spanId);

    const line = logLines.find((l) => l.includes('"handled"'))!;
    expect(JSON.parse(line)).toMatchObject({
      metadataRequestId: 'req-trace-1',
      trace_id: traceId,
      span_id: serverSpan.spanId,
    });
    // Grafana's Loki link (the regular expression the provisioning renders) finds the trace id in the real line.
    expect(new RegExp(LOG_TRACE_ID_REGEX).exec(line)?.[1]).toBe(traceId);
  });
});
