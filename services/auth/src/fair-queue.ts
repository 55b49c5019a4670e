import { HttpError } from './errors.js';

/**
 * A bounded number of operations in progress at once; the others wait, and a free slot goes to the waiting
 * client address served longest ago (one never served first), so a flood from a few addresses does not hold up
 * everyone else's. Beyond `maxWaiting` waiting, a request is shed at once with 503 + Retry-After, before any
 * of its work, instead of queueing without limit. Used for password hashing and for token refreshes.
 */
export class FairQueue {
  private running = 0;
  private waitingCount = 0;
  private readonly waiting = new Map<string, (() => void)[]>();
  private readonly lastServed = new Map<string, number>();
  private served = 0;

  constructor(
    readonly concurrency: number,
    readonly maxWaiting: number,
    /** Said in the 503 answer, e.g. "too many sign-ins at once". */
    private readonly what: string,
  ) {}

  async run<T>(work: () => Promise<T>, source = ''): Promise<T> {
    if (this.running >= this.concurrency && this.waitingCount >= this.maxWaiting)
      throw new HttpError(503, 'overloaded', `${this.what}; retry shortly`, { 'retry-after': '1' });
    try {
      if (this.running >= this.concurrency) {
        this.waitingCount++;
        await new Promise<void>((resolve) => {
          const queue = this.waiting.get(source);
          if (queue) queue.push(resolve);
          else this.waiting.set(source, [resolve]);
        });
      } else {
        this.running++;
        this.lastServed.set(source, ++this.served);
      }
      try {
        return await work();
      } finally {
        // The slot passes straight to the next waiter, if any.
        const next = this.nextWaiter();
        if (next) next();
        else this.running--;
      }
    } finally {
      // Bounded memory: the order only matters among addresses waiting now.
      if (this.lastServed.size > 10_000 && this.waiting.size === 0) this.lastServed.clear();
    }
  }

  private nextWaiter(): (() => void) | undefined {
    let pick: string | undefined;
    let oldest = Infinity;
    for (const source of this.waiting.keys()) {
      const at = this.lastServed.get(source) ?? -1;
      if (at < oldest) [pick, oldest] = [source, at];
    }
    if (pick === undefined) return undefined;
    const queue = this.waiting.get(pick)!;
    const next = queue.shift()!;
    if (queue.length === 0) this.waiting.delete(pick);
    this.waitingCount--;
    this.lastServed.set(pick, ++this.served);
    return next;
  }
}
