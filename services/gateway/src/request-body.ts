import type { IncomingMessage } from 'node:http';
import { Transform, Writable } from 'node:stream';

// Request and response bodies the gateway handles as streams: the chunked-upload size cap and the sink for
// an upstream answer that is discarded before a retry.

export class BodyTooLarge extends Error {
  readonly code = 'PRISM_BODY_TOO_LARGE';
}

export function discard(): Writable {
  return new Writable({ write: (_c, _e, cb) => cb() });
}

/** A chunked body passed through with a size cap; over the cap the upload fails with {@link BodyTooLarge}. */
export function limitBody(req: IncomingMessage, limit: number): Transform {
  let seen = 0;
  const t = new Transform({
    transform(chunk: Buffer, _e, cb) {
      seen += chunk.length;
      if (seen > limit) cb(new BodyTooLarge());
      else cb(null, chunk);
    },
  });
  req.on('error', (e) => t.destroy(e));
  return req.pipe(t);
}
