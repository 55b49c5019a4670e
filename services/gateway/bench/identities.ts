// BENCH_IDENTITIES=N: traffic from N distinct users instead of one token. Each user has an access token
// (its own session) and an API key, and its own client address; each request picks a user from a Zipf
// distribution (s = 1: the busiest user sends about 1/ln(N) of all requests, most users a handful) and
// uses the API key for one request in five, the token otherwise.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import autocannon from 'autocannon';
import { Redis } from 'ioredis';
import { connect } from '@nats-io/transport-node';
import { ACCESS_TOKEN, AUTH_EVENT_SUBJECTS, AUTH_REDIS_KEYS } from '#contract';
import { startAuthGrpc, token, type Keys } from '../test/support/harness.js';

export interface Identity {
  readonly sub: string;
  readonly sid: string;
  readonly headers: Record<string, string>;
  readonly keyHeaders: Record<string, string>;
}

/** A valid API key: the gateway checks the shape only, the fake auth answers from its table. */
const apiKey = () => `prism_${randomUUID().replace(/-/g, '').slice(0, 12)}_${randomUUID().replace(/-/g, '')}ab12CD`;

export async function makeIdentities(
  keys: Keys,
  n: number,
): Promise<{ ids: Identity[]; authPort: number; close: () => Promise<void> }> {
  const ids: Identity[] = [];
  const table: Parameters<typeof startAuthGrpc>[0] = {};
  for (let i = 0; i < n; i++) {
    const sub = `bench-user-${i}`;
    const sid = `bench-session-${i}-${randomUUID()}`;
    const xff = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
    const k = apiKey();
    table[k] = { keyId: `bench-key-${i}`, userId: sub, scopes: [] };
    ids.push({
      sub,
      sid,
      headers: {
        authorization: `Bearer ${await token(keys, sub, { [ACCESS_TOKEN.sessionClaim]: sid })}`,
        'x-forwarded-for': xff,
      },
      keyHeaders: { 'x-api-key': k, 'x-forwarded-for': xff },
    });
  }
  const auth = await startAuthGrpc(table);
  return { ids, authPort: auth.port, close: auth.close };
}

/** 2^20 user indexes drawn from Zipf(1) over the ranks, precomputed so a request costs an array read. */
export function zipfSequence(n: number, length = 1 << 20): Uint32Array {
  const cdf = new Float64Array(n);
  let sum = 0;
  for (let k = 0; k < n; k++) cdf[k] = sum += 1 / (k + 1);
  const out = new Uint32Array(length);
  for (let i = 0; i < length; i++) {
    const u = Math.random() * sum;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid]! < u) lo = mid + 1;
      else hi = mid;
    }
    out[i] = lo;
  }
  return out;
}

/** autocannon options that send each request as the next user of the sequence. */
export function zipfRequests(
  ids: readonly Identity[],
  seq: Uint32Array,
  onResponse?: (user: number, status: number) => void,
): Pick<autocannon.Options, 'requests'> {
  let next = 0;
  return {
    requests: [
      {
        setupRequest: (req: autocannon.Request, context: object) => {
          const i = next++ & (seq.length - 1);
          const user = seq[i]!;
          (context as { user: number }).user = user;
          return { ...req, headers: i % 5 === 0 ? ids[user]!.keyHeaders : ids[user]!.headers };
        },
        ...(onResponse
          ? {
              onResponse: (status: number, _body: string, context: object) =>
                onResponse((context as { user: number }).user, status),
            }
          : {}),
      },
    ],
  };
}

/**
 * autocannon options that send each user's token and API key once (2 × N requests with `amount`): what a gateway in
 * service has already seen. Without it a 5 s round meets most of its users for the first time, so it measures the
 * first sight of thousands of credentials (an RS256 verification, a gRPC validation each) rather than traffic.
 */
export function everyCredentialOnce(ids: readonly Identity[]): Pick<autocannon.Options, 'requests' | 'amount'> {
  let next = 0;
  return {
    amount: 2 * ids.length,
    requests: [
      {
        setupRequest: (req: autocannon.Request) => {
          const i = next++;
          const user = ids[(i >> 1) % ids.length]!;
          return { ...req, headers: i & 1 ? user.keyHeaders : user.headers };
        },
      },
    ],
  };
}

export interface BoundsResult {
  /** The busiest user's most admissions in any 1 s window (at the client), against the limit. */
  readonly worstWindow: number;
  readonly allowed: number;
  /** Milliseconds from the revocation until each gateway refused the session (a request's latency included). */
  readonly revocationMs: number[];
  /** The load's median request latency, for comparison (ms). */
  readonly p50Ms: number;
}

/**
 * The bounds under the same traffic: two gateways with a real limit (`rate`, `burst` per bucket) share the
 * Zipf load; the busiest user's admissions in every 1 s window are counted, and midway a busy user's
 * session is revoked as auth does it and each gateway is polled until it refuses the token.
 */
export async function checkBounds(
  urls: readonly string[],
  ids: readonly Identity[],
  seq: Uint32Array,
  rate: number,
  burst: number,
  stores: { redis: { address: string; password: string }; natsUrl: string },
  connections: number,
  seconds: number,
): Promise<BoundsResult> {
  const admitted: number[] = [];
  const victim = 1; // the second busiest user: its requests come often enough to see the moment
  // What auth does on a logout, over connections opened beforehand: the Redis marker, then the event.
  const [host, port] = stores.redis.address.split(':');
  const redis = new Redis({ host: host!, port: Number(port), password: stores.redis.password });
  const nc = await connect({ servers: stores.natsUrl });
  let revoked = Infinity;
  const refusedAt = urls.map(() => Infinity);
  const load = urls.map((url, g) =>
    autocannon({
      url,
      connections: Math.max(1, Math.floor(connections / urls.length)),
      duration: seconds,
      ...zipfRequests(ids, seq, (user, status) => {
        if (user === 0 && status === 200) admitted.push(performance.now());
        // The first refusal of the revoked session's token (API-key requests of the user stay valid).
        if (user === victim && status === 401 && refusedAt[g] === Infinity) refusedAt[g] = performance.now();
      }),
    }),
  );
  await sleep((seconds * 1000) / 2);
  await redis.set(AUTH_REDIS_KEYS.revokedSession(ids[victim]!.sid), 'logout', 'EX', 120);
  revoked = performance.now();
  nc.publish(
    AUTH_EVENT_SUBJECTS.sessionRevoked,
    JSON.stringify({ subject: AUTH_EVENT_SUBJECTS.sessionRevoked, session_id: ids[victim]!.sid, reason: 'logout' }),
  );
  const results = await Promise.all(load);
  redis.disconnect();
  await nc.close();
  const revocationMs = refusedAt.map((t) => t - revoked);
  admitted.sort((a, b) => a - b);
  let worst = 0;
  for (let i = 0, j = 0; i < admitted.length; i++) {
    while (admitted[j]! < admitted[i]! - 1_000) j++;
    worst = Math.max(worst, i - j + 1);
  }
  return {
    worstWindow: worst,
    allowed: Math.floor(rate * 1.05) + burst,
    revocationMs,
    p50Ms: Math.max(...results.map((r) => r.latency.p50)),
  };
}
