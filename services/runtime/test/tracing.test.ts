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

  it('samples where a trace starts and follows the caller’s decision otherwise (PRISM_TRACE_SAMPLE_RATIO)', async () => {
    const bodies: string[] = [];
    const collector = createServer((req, res) => {
      let body = '';
      req
        .setEncoding('utf8')
        .on('data', (c: string) => (body += c))
        .on('end', () => (bodies.push(body), res.writeHead(200).end('{}')));
    });
    const port = await new Promise<number>((r) =>
      collector.listen(0, '127.0.0.1', () => r((collector.address() as { port: number }).port)),
    );
    const endpoint = `http://127.0.0.1:${port}/v1/traces`;
    const sampled = (flags: string) =>
      extractContext({ traceparent: `00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-${flags}` });

    // Ratio 0: no trace starts here, but a caller's sampled trace is continued and exported.
    const none = startTracing('gateway', endpoint, 'test', 0);
    const roots = Array.from({ length: 100 }, (_, i) => none.tracer.startSpan(`root ${i}`));
    expect(roots.filter((s) => s.isRecording())).toHaveLength(0);
    const outgoing: Record<string, string> = {};
    injectContext(trace.setSpan(sampled('00'), roots[0]!), outgoing);
    expect(outgoing.traceparent).toMatch(/-00$/); // the next service is told: not sampled
    const continued = none.tracer.startSpan('continued', {}, sampled('01'));
    expect(continued.isRecording()).toBe(true);
    for (const s of [...roots, continued]) s.end();
    await none.shutdown();

    // Ratio 1: every trace starting here is recorded, but a caller's decision not to sample is kept.
    const all = startTracing('gateway', endpoint, 'test', 1);
    expect(all.tracer.startSpan('root').isRecording()).toBe(true);
    expect(all.tracer.startSpan('declined', {}, sampled('00')).isRecording()).toBe(false);

    // A ratio between: about that share of the traces starting here.
    const half = startTracing('gateway', endpoint, 'test', 0.5);
    const share =
      Array.from({ length: 400 }, () => half.tracer.startSpan('r').isRecording()).filter(Boolean).length / 400;
    expect(share).toBeGreaterThan(0.35);
    expect(share).toBeLessThan(0.65);
    await Promise.all([all.shutdown(), half.shutdown()]);

    await waitFor('an export', () => bodies.find((b) => b.includes('continued')));
    collector.close();
    expect(bodies.join('')).not.toContain('root 0');
  });

  it('is a no-op without an endpoint', async () => {
    const tracing = startTracing('gateway', undefined);
    expect(tracing.enabled).toBe(false);
    tracing.tracer.startSpan('x').end();
    await tracing.shutdown();
  });
});
