import { HttpError } from './errors.js';

interface Waiter {
  resolve: () => void;
  reject: (e: Error) => void;
}

/**
 * A bounded number of operations in progress at once; the others wait, and a free slot goes to the waiting
 * client address served longest ago (one never served first), so a flood from a few addresses does not hold up
 * everyone else's. Beyond `maxWaiting` waiting, 503 + Retry-After before any work instead of queueing without
 * limit, and the one shed is fair too: the newest waiter of the address with the most waiting, when that is at
 * least two more than the newcomer's own address has; otherwise the newcomer. So a few flooding addresses cannot
 * fill the queue and have everyone else shed. Used for password hashing and for token refreshes.
 */
export class FairQueue {
  private running = 0;
  private waitingCount = 0;
  private readonly waiting = new Map<string, Waiter[]>();
  private readonly lastServed = new Map<string, number>();
  private served = 0;

  constructor(
    readonly concurrency: number,
    readonly maxWaiting: number,
    /** Said in the 503 answer, e.g. "too many sign-ins at once". */
    private readonly what: string,
  ) {}

  async run<T>(work: () => Promise<T>, source = ''): Promise<T> {
    if (this.running >= this.concurrency && this.waitingCount >= this.maxWaiting) this.shedFor(source);
    try {
      if (this.running >= this.concurrency) {
        this.waitingCount++;
        await new Promise<void>((resolve, reject) => {
          const queue = this.waiting.get(source);
          if (queue) queue.push({ resolve, reject });
          else this.waiting.set(source, [{ resolve, reject }]);
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
        if (next) next.resolve();
        else this.running--;
      }
    } finally {
      // Bounded memory: the order only matters among addresses waiting now.
      if (this.lastServed.size > 10_000 && this.waiting.size === 0) this.lastServed.clear();
    }
  }

  /** The queue is full: makes room for `source` by shedding another address's newest waiter, or throws. */
  private shedFor(source: string): void {
    let heaviest: Waiter[] | undefined;
    let heaviestSource = '';
    for (const [from, queue] of this.waiting)
      if (!heaviest || queue.length > heaviest.length) [heaviest, heaviestSource] = [queue, from];
    const mine = this.waiting.get(source)?.length ?? 0;
    // Only when the swap leaves that address no fewer waiting than the newcomer's: no churn among equals.
    if (!heaviest || heaviest.length < mine + 2) throw this.overloaded();
    heaviest.pop()!.reject(this.overloaded());
    if (heaviest.length === 0) this.waiting.delete(heaviestSource);
    this.waitingCount--;
  }

  private overloaded(): HttpError {
    return new HttpError(503, 'overloaded', `${this.what}; retry shortly`, { 'retry-after': '1' });
  }

  private nextWaiter(): Waiter | undefined {
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
