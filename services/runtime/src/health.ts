/** A dependency check: resolves when the dependency is usable, throws (or rejects) when not. */
export type HealthCheck = () => unknown;

interface CheckResult {
  readonly name: string;
  readonly ok: boolean;
  readonly error?: string;
}

export interface Readiness {
  readonly ready: boolean;
  readonly draining: boolean;
  readonly checks: readonly CheckResult[];
}

const CHECK_TIMEOUT_MS = 2_000;

/**
 * Liveness and readiness of a service. Readiness is false while draining (after SIGTERM)
 * and while any registered dependency check fails or takes longer than two seconds.
 */
export class Health {
  private readonly checks = new Map<string, HealthCheck>();
  private drainingSince: number | undefined;
  private started = false;

  /** Registers a dependency check run on every readiness probe (name it for the dependency). */
  addCheck(name: string, check: HealthCheck): void {
    this.checks.set(name, check);
  }

  /** Marks start-up complete; readiness is false before. */
  markStarted(): void {
    this.started = true;
  }

  /** Turns readiness to false for good: the service is shutting down. */
  markDraining(): void {
    this.drainingSince ??= Date.now();
  }

  get draining(): boolean {
    return this.drainingSince !== undefined;
  }

  async readiness(): Promise<Readiness> {
    const checks = await Promise.all([...this.checks].map(([name, check]) => run(name, check)));
    if (!this.started) checks.unshift({ name: 'startup', ok: false, error: 'starting' });
    return { ready: !this.draining && this.started && checks.every((c) => c.ok), draining: this.draining, checks };
  }
}

async function run(name: string, check: HealthCheck): Promise<CheckResult> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      Promise.resolve().then(check),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS);
      }),
    ]);
    return { name, ok: true };
  } catch (e) {
    return { name, ok: false, error: (e as Error).message };
  } finally {
    clearTimeout(timer);
  }
}
