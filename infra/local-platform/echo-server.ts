// The local platform's example upstream: answers every request with what it received (method,
// path, query, headers, body size) as JSON, so a user sees what the gateway forwards. `?delay_ms=N`
// (at most 30000) answers N ms later: a slow upstream, for trying timeouts and graceful shutdown.
// Usage: node --import tsx infra/local-platform/echo-server.ts <port> [<bind address>, default 127.0.0.1]
// (the Compose lane binds it to its container's addresses: infra/cli/compose-echo.ts)
import { createServer } from 'node:http';

const port = Number(process.argv[2]);
const host = process.argv[3] ?? '127.0.0.1';
if (!Number.isInteger(port) || port < 1 || port > 65535) {
  process.stderr.write(`usage: echo-server.ts <port>; got ${process.argv[2] ?? 'nothing'}\n`);
  process.exit(2);
}

const server = createServer((req, res) => {
  let bytes = 0;
  req.on('data', (c: Buffer) => (bytes += c.length));
  req.on('end', () => {
    const url = new URL(req.url ?? '/', 'http://echo');
    const query: Record<string, string | string[]> = {};
    for (const k of new Set(url.searchParams.keys())) {
      const all = url.searchParams.getAll(k);
      query[k] = all.length === 1 ? all[0]! : all;
    }
    const body = JSON.stringify({
      method: req.method,
      path: url.pathname,
      query,
      headers: req.headers,
      body_bytes: bytes,
    });
    const delay = Math.min(30_000, Math.max(0, Number(url.searchParams.get('delay_ms')) || 0));
    setTimeout(
      () =>
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body),
      delay,
    );
  });
});
server.keepAliveTimeout = 65_000;
server.listen(port, host, () => process.stdout.write(`echo upstream listening on ${host}:${port}\n`));
process.on('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeIdleConnections();
  setTimeout(() => process.exit(0), 5_000).unref();
});
