// redis-parser ships no types. Kept, though 3.0.0 dates from 2017 and ioredis 6 no longer uses it (it has its own
// RESP decoder, not part of its public API: importing ioredis/built/resp/decoder.js would tie the gateway to an
// internal path): RESP2 has not changed since, the package is pure JavaScript with one dependency (redis-errors,
// which ioredis 6 still uses), and ioredis' public API costs the per-request rate-limit call 3-5 times the CPU
// (see ScriptPipeline in redis-script.ts).
declare module 'redis-parser' {
  interface ParserOptions {
    returnReply(reply: unknown): void;
    returnError(err: Error): void;
    returnFatalError?(err: Error): void;
    returnBuffers?: boolean;
    stringNumbers?: boolean;
  }
  export default class RedisParser {
    constructor(options: ParserOptions);
    execute(chunk: Buffer): void;
    reset(): void;
  }
}
