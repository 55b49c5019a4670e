import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, requestIdOf } from '../src/logger.js';

describe('logger', () => {
  it('writes JSON lines with the service name and redacts credentials', async () => {
    const out = new PassThrough();
    let text = '';
    out.setEncoding('utf8').on('data', (c: string) => (text += c));
    const log = createLogger({ service: 'gateway', environment: 'test', destination: out });
    log.info(
      {
        reqId: 'r1',
        req: { headers: { authorization: 'Bearer abc.def', 'x-api-key': 'pk_secret', host: 'x' } },
        user: { password: 'hunter2' },
      },
      'hello',
    );
    await new Promise((r) => setImmediate(r));
    const line = JSON.parse(text.trim());
    expect(line).toMatchObject({ level: 'info', service: 'gateway', env: 'test', reqId: 'r1', msg: 'hello' });
    expect(line.req.headers).toEqual({ authorization: '[redacted]', 'x-api-key': '[redacted]', host: 'x' });
    expect(line.user.password).toBe('[redacted]');
    expect(text).not.toContain('hunter2');
    expect(text).not.toContain('abc.def');
  });

  it('keeps a sane client request id and replaces a missing or hostile one', () => {
    expect(requestIdOf({ 'x-request-id': 'abc-123' })).toBe('abc-123');
    expect(requestIdOf({})).toMatch(/^[0-9a-f-]{36}$/);
    expect(requestIdOf({ 'x-request-id': 'bad id\n{"level":"fatal"}' })).toMatch(/^[0-9a-f-]{36}$/);
    expect(requestIdOf({ 'x-request-id': 'a'.repeat(500) })).toMatch(/^[0-9a-f-]{36}$/);
  });
});
