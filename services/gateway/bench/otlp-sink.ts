// Benchmark OTLP/HTTP receiver: takes the traced gateway's exports (POST /v1/traces) and drops them, counting
// requests and bytes, so that tracing's cost in the gateway is measured without a Jaeger to pay for.
import { createServer } from 'node:http';

let posts = 0;
let bytes = 0;
const server = createServer((req, res) => {
  req.on('data', (c: Buffer) => (bytes += c.length));
  req.on('end', () => {
    posts++;
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
});
server.listen(Number(process.env.PORT), '127.0.0.1', () => process.stdout.write('ready\n'));
process.on('SIGTERM', () => {
  process.stdout.write(`otlp-sink: ${posts} exports, ${bytes} bytes\n`);
  process.exit(0);
});
