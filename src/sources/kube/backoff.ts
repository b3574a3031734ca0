// Exponential backoff with jitter, so that agents on many nodes do not retry the API server in step.

export interface BackoffOptions {
  /** First delay ceiling, ms. */
  initialMs: number;
  /** Largest delay, ms. */
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 250, maxMs: 30_000 };

/**
 * Delay before retry number `attempt` (0-based): uniform in [ceiling/2, ceiling] with the ceiling
 * doubling per attempt up to maxMs. Half the ceiling is kept as a floor so a retry never spins.
 */
export function backoffDelay(attempt: number, opts: BackoffOptions, random: () => number = Math.random): number {
  const ceiling = Math.min(opts.maxMs, opts.initialMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/** A sleep that stop() can cut short. */
export class Sleeper {
  private timer?: NodeJS.Timeout;
  private wake?: () => void;

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.wake = resolve;
      this.timer = setTimeout(resolve, ms);
    });
  }

  cancel(): void {
    if (this.timer) clearTimeout(this.timer);
    this.wake?.();
  }
}
