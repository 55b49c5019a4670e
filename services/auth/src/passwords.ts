import { availableParallelism } from 'node:os';
import { hash, verify } from '@node-rs/argon2';
import { HttpError } from './errors.js';

/**
 * Password hashing: argon2id at OWASP's minimum (19 MiB, 2 passes, 1 lane). @node-rs/argon2 runs
 * hash and verify on libuv's thread pool, so the event loop keeps serving while a hash is computed.
 * At most (cores - 1) hashes run at once (at least one): the event loop keeps a core to itself
 * under a login burst, and memory stays bounded (19 MiB per running hash); the rest wait in line.
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
/** Hashes allowed to wait; beyond it a request is shed with a 503 instead of queueing for seconds. */
const ARGON2_MAX_WAITING = 256;
let running = 0;
const waiting: (() => void)[] = [];

async function limited<T>(work: () => Promise<T>): Promise<T> {
  if (running >= ARGON2_CONCURRENCY) {
    if (waiting.length >= ARGON2_MAX_WAITING) throw new HttpError(503, 'overloaded', 'too many sign-ins at once; retry shortly', { 'retry-after': '1' });
    await new Promise<void>((resolve) => waiting.push(resolve));
  } else running++;
  try {
    return await work();
  } finally {
    // The slot passes straight to the next waiter, if any.
    const next = waiting.shift();
    if (next) next();
    else running--;
  }
}

export function hashPassword(password: string): Promise<string> {
  return limited(() => hash(normalizePassword(password), ARGON2_PARAMS));
}

/** False on a wrong password or a malformed hash; never throws for a wrong password. */
export async function verifyPassword(phc: string, password: string): Promise<boolean> {
  return limited(() => verify(phc, normalizePassword(password)).catch(() => false));
}

let dummy: Promise<string> | undefined;

/**
 * Verifies against a hash made with the same parameters, for unknown users (or users without
 * a password), so an unknown e-mail costs the same time as a wrong password.
 */
export async function verifyDummy(password: string): Promise<false> {
  dummy ??= hashPassword('prism-dummy-password-for-timing');
  await verifyPassword(await dummy, password);
  return false;
}
