// Benchmark baseline: the barest Node reverse proxy on undici Pool.stream (no auth, no limits, no metrics).
import { createServer, type ServerResponse } from 'node:http';
import { Pool } from 'undici';

const pool = new Pool(process.env.UPSTREAM!, { connections: 128, pipelining: 1 });
const factory = ({ statusCode, headers, opaque }: { statusCode: number; headers: Record<string, string | string[] | undefined>; opaque: ServerResponse }) => {
  opaque.writeHead(statusCode, headers);
  return opaque;
};
const server = createServer((req, res) => {
  const { host: _h, connection: _c, ...headers } = req.headers;
  pool.stream({ path: req.url!, method: req.method as 'GET', headers, body: req.method === 'GET' || req.method === 'HEAD' ? null : req, opaque: res }, factory, (err) => {
    if (err && !res.headersSent) res.writeHead(502).end();
  });
});
server.keepAliveTimeout = 60_000;
server.listen(Number(process.env.PORT), '127.0.0.1', () => process.stdout.write('ready\n'));
process.on('SIGTERM', () => process.exit(0));
