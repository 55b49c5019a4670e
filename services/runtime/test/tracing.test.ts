import { createServer } from 'node:http';
import { describe, expect, it } from 'vitest';
import { extractContext, injectContext, startTracing, trace } from '../src/tracing.js';
import { waitFor } from '#test/support/net';

describe('tracing', () => {
  it('continues the caller’s W3C trace and exports spans over OTLP/HTTP', async () => {
    const bodies: { url: string; type: string; body: string }[] = [];
    const collector = createServer((req, res) => {
      let body = '';
      req
        .setEncoding('utf8')
        .on('data', (c: string) => (body += c))
        .on('end', () => {
          bodies.push({ url: req.url!, type: String(req.headers['content-type']), body });
          res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
        });
    });
    const port = await new Promise<number>((r) =>
      collector.listen(0, '127.0.0.1', () => r((collector.address() as { port: number }).port)),
    );
    const tracing = startTracing('gateway', `http://127.0.0.1:${port}/v1/traces`, 'test');
    expect(tracing.enabled).toBe(true);

    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const parent = extractContext({ traceparent: `00-${traceId}-00f067aa0ba902b7-01` });
    const span = tracing.tracer.startSpan('GET /api/x', {}, parent);
    const outgoing: Record<string, string> = {};
    injectContext(trace.setSpan(parent, span), outgoing);
    expect(outgoing.traceparent).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
    expect(outgoing.traceparent).not.toContain('00f067aa0ba902b7');
    span.end();
    await tracing.shutdown();
    await waitFor('an export', () => bodies[0]);
    collector.close();
    expect(bodies[0]!.url).toBe('/v1/traces');
    expect(bodies[0]!.body).toContain('GET /api/x');
    expect(bodies[0]!.body).toContain('gateway');
  });

  it('is a no-op without an endpoint', async () => {
    const tracing = startTracing('gateway', undefined);
    expect(tracing.enabled).toBe(false);
    tracing.tracer.startSpan('x').end();
    await tracing.shutdown();
  });
});
