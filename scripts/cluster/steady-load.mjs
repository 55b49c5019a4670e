// Steady load for the real-pods lane's resilience check (scripts/cluster/stack-resilience.sh): GET <url> at <rate>
// requests per second until SIGTERM (or <seconds>), over keep-alive connections trusting <ca>; prints one JSON line
// {sent, statuses, errors} at the end. Every answer other than 200, and every connection error, is a failure.
// Usage: node scripts/cluster/steady-load.mjs <url> <ca file> <rate> [seconds]
import { readFileSync } from 'node:fs';
import { Agent, request } from 'undici';

const [url, caFile, rate, seconds] = process.argv.slice(2);
if (!url || !caFile || !rate) {
  console.error('usage: steady-load.mjs <url> <ca file> <rate> [seconds]');
  process.exit(2);
}
const dispatcher = new Agent({ connect: { ca: readFileSync(caFile) }, connections: 8 });
const result = { sent: 0, statuses: {}, errors: {} };
const pending = new Set();
const tick = setInterval(
  () => {
    result.sent++;
    const p = request(url, { dispatcher, headersTimeout: 10_000, bodyTimeout: 10_000 })
      .then(async (r) => {
        await r.body.dump();
        result.statuses[r.statusCode] = (result.statuses[r.statusCode] ?? 0) + 1;
      })
      .catch((e) => {
        const code = e.code ?? e.message;
        result.errors[code] = (result.errors[code] ?? 0) + 1;
      })
      .finally(() => pending.delete(p));
    pending.add(p);
  },
  1000 / Number(rate),
);
const stop = async () => {
  clearInterval(tick);
  await Promise.allSettled([...pending]);
  console.log(JSON.stringify(result));
  await dispatcher.close();
  process.exit(0);
};
process.once('SIGTERM', stop);
if (seconds) setTimeout(stop, Number(seconds) * 1000);
