// Benchmark upstream: a Node hello-world answering every request with a small JSON body.
import { createServer } from 'node:http';

const body = Buffer.from(JSON.stringify({ ok: true, service: 'bench-upstream' }));
const server = createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length }).end(body);
});
server.keepAliveTimeout = 60_000;
server.listen(Number(process.env.PORT), '127.0.0.1', () => process.stdout.write('ready\n'));
process.on('SIGTERM', () => process.exit(0));
