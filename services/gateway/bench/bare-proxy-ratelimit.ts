// Benchmark: the bare proxy plus the gateway's rate limiter (one EVALSHA per request, with the session
// check), and nothing else: the throughput this design can reach at best on the machine, since the
// issue requires one Redis script call per request.
import { createServer, type ServerResponse } from 'node:http';
import { Pool } from 'undici';
import { ServiceMetrics, createLogger } from '../../runtime/src/index.js';
import { RateLimiter } from '../src/rate-limit.js';

const [host, port] = process.env.REDIS_ADDRESS!.split(':');
const limiter = new RateLimiter(
  { host: host!, port: Number(port), password: process.env.REDIS_PASSWORD! },
  { enabled: true, requestsPerSecond: 10_000_000, burst: 10_000_000, onRedisFailure: 'open' },
  new ServiceMetrics('gateway'),
  createLogger({ service: 'gateway' }),
);
const pool = new Pool(process.env.UPSTREAM!, { connections: 128, pipelining: 1 });
const factory = ({ statusCode, headers, opaque }: { statusCode: number; headers: Record<string, string | string[] | undefined>; opaque: ServerResponse }) => {
  opaque.writeHead(statusCode, headers);
  return opaque;
};
const server = createServer((req, res) => {
  void limiter.check('u:bench-user', 'prism:auth:revoked-session:bench-session').then(() => {
    const { host: _h, connection: _c, ...headers } = req.headers;
    pool.stream({ path: req.url!, method: req.method as 'GET', headers, body: null, opaque: res }, factory, (err) => {
      if (err && !res.headersSent) res.writeHead(502).end();
    });
  });
});
await limiter.waitReady(5_000);
server.keepAliveTimeout = 60_000;
server.listen(Number(process.env.PORT), '127.0.0.1', () => process.stdout.write('ready\n'));
process.on('SIGTERM', () => process.exit(0));
