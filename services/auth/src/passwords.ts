import { availableParallelism } from 'node:os';
import { hash, verify } from '@node-rs/argon2';
import { HttpError } from './errors.js';
import { FairQueue } from './fair-queue.js';

/**
 * Password hashing: argon2id at OWASP's minimum (19 MiB, 2 passes, 1 lane). @node-rs/argon2 runs
 * hash and verify on libuv's thread pool, so the event loop keeps serving while a hash is computed.
 * At most (cores - 1) hashes run at once (at least one): the event loop keeps a core to itself
 * under a login burst, and memory stays bounded (19 MiB per running hash); the rest wait in a short,
 * per-address fair queue (below).
 */
export const ARGON2_PARAMS = {
  // Algorithm.Argon2id (a const enum, which verbatimModuleSyntax cannot import).
  algorithm: 2,
  memoryCost: 19_456,
  timeCost: 2,
  parallelism: 1,
} as const;

export const PASSWORD_MIN_CHARS = 12;
export const PASSWORD_MAX_CHARS = 128;

/**
 * Passwords are compared in Unicode NFC so the same text typed on two keyboards matches, and
 * hashed whole (argon2 has no 72-byte limit as bcrypt has): nothing is truncated.
 */
function normalizePassword(password: string): string {
  return password.normalize('NFC');
}

/** Length in characters (code points), as users count them. */
export function passwordLength(password: string): number {
  return [...normalizePassword(password)].length;
}

export const ARGON2_CONCURRENCY = Math.max(1, availableParallelism() - 1);
/**
 * Hashes allowed to wait in all; beyond, a request is shed at once with 503 + Retry-After instead of
 * queueing for seconds. Small on purpose: a waiting hash costs the requests behind it a full hash time.
 */
export const ARGON2_MAX_WAITING = 32 * ARGON2_CONCURRENCY;
/** Sign-ins (or other password operations) one client address may have in progress; beyond, 429 at once. */
export const ARGON2_MAX_PER_SOURCE = 8;
const inProgress = new Map<string, number>();

/**
 * Runs a password operation (its database work included) for `source`, a client address, if that
 * address has fewer than ARGON2_MAX_PER_SOURCE in progress; otherwise 429 + Retry-After before any
 * work, so a flood from a few addresses holds neither hashing slots nor database connections.
 */
export async function perSource<T>(source: string, work: () => Promise<T>): Promise<T> {
  const mine = inProgress.get(source) ?? 0;
  if (mine >= ARGON2_MAX_PER_SOURCE)
    throw new HttpError(429, 'too_many_attempts', 'too many sign-ins at once from this address; retry shortly', {
      'retry-after': '1',
    });
  inProgress.set(source, mine + 1);
  try {
    return await work();
  } finally {
    const left = inProgress.get(source)! - 1;
    if (left === 0) inProgress.delete(source);
    else inProgress.set(source, left);
  }
}

/**
 * The hashing queue: ARGON2_CONCURRENCY hashes at once, each client address at most ARGON2_MAX_PER_SOURCE at a
 * time (perSource), a free slot to the waiting address served longest ago. So a login flood from a few addresses
 * gets fast 429/503 answers, and another user's login waits at most for the hashes already running: about twice
 * its unloaded time.
 */
const hashing = new FairQueue(ARGON2_CONCURRENCY, ARGON2_MAX_WAITING, 'too many sign-ins at once');

/** `source`: the client address; a free slot goes to the waiting address served longest ago. */
export function hashPassword(password: string, source?: string): Promise<string> {
  return hashing.run(() => hash(normalizePassword(password), ARGON2_PARAMS), source);
}

/** False on a wrong password or a malformed hash; never throws for a wrong password. */
export async function verifyPassword(phc: string, password: string, source?: string): Promise<boolean> {
  return hashing.run(() => verify(phc, normalizePassword(password)).catch(() => false), source);
}

let dummy: Promise<string> | undefined;

/**
 * Verifies against a hash made with the same parameters, for unknown users (or users without
 * a password), so an unknown e-mail costs the same time as a wrong password.
 */
export async function verifyDummy(password: string, source?: string): Promise<false> {
  dummy ??= hashPassword('prism-dummy-password-for-timing');
  await verifyPassword(await dummy, password, source);
  return false;
}
