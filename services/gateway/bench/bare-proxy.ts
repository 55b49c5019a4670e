// Benchmark baseline: the barest Node reverse proxy on undici Pool.stream (no auth, no limits, no metrics).
// With REDIS_ADDRESS set it also makes the gateway's rate-limit call (one EVALSHA with the session check)
// before each request and nothing else: the most this design can reach, since the issue requires one Redis
// script call per request.
import { createServer, type ServerResponse } from 'node:http';
import { Pool } from 'undici';
import { ServiceMetrics, createLogger } from '../../runtime/src/index.js';
import { RateLimiter } from '../src/rate-limit.js';

const pool = new Pool(process.env.UPSTREAM!, { connections: 128, pipelining: 1 });
const factory = ({
  statusCode,
  headers,
  opaque,
}: {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
  opaque: ServerResponse;
}) => {
  opaque.writeHead(statusCode, headers);
  return opaque;
};

const redisAddress = process.env.REDIS_ADDRESS;
const limiter = redisAddress
  ? new RateLimiter(
      {
        host: redisAddress.split(':')[0]!,
        port: Number(redisAddress.split(':')[1]),
        password: process.env.REDIS_PASSWORD ?? '',
      },
      { enabled: true, requestsPerSecond: 10_000_000, burst: 10_000_000, onRedisFailure: 'open' },
      new ServiceMetrics('gateway'),
      createLogger({ service: 'gateway' }),
    )
  : undefined;

const server = createServer((req, res) => {
  const forward = () => {
    const { host: _h, connection: _c, ...headers } = req.headers;
    pool.stream(
      {
        path: req.url!,
        method: req.method as 'GET',
        headers,
        body: req.method === 'GET' || req.method === 'HEAD' ? null : req,
        opaque: res,
      },
      factory,
      (err) => {
        if (err && !res.headersSent) res.writeHead(502).end();
      },
    );
  };
  if (limiter)
    void Promise.resolve(limiter.check(['u:bench-user'], 'prism:auth:revoked-session:bench-session')).then(forward);
  else forward();
});
await limiter?.waitReady(5_000);
server.keepAliveTimeout = 60_000;
server.listen(Number(process.env.PORT), '127.0.0.1', () => process.stdout.write('ready\n'));
process.on('SIGTERM', () => process.exit(0));
