// Removes expired learning from the store and the datapath, a bounded amount per tick so a mass
// expiry cannot stall the event loop (the rest waits for the next tick).
import type { LearnedStore } from '../fqdn/index.js';
import type { Datapath } from '../datapath/types.js';
import type { EventLog } from './event-log.js';
import type { DnsMetrics } from './metrics.js';

export interface SweeperOptions {
  readonly store: LearnedStore;
  readonly datapath: Datapath;
  readonly intervalMs: number;
  readonly maxWork: number;
  readonly metrics: DnsMetrics;
  readonly log: EventLog;
  readonly clock: () => number;
}

export class Sweeper {
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: SweeperOptions) {}

  start(): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => void this.tick(), this.opts.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One bounded sweep; returns how many entries expired. */
  async tick(now = this.opts.clock()): Promise<number> {
    const { store, datapath, metrics } = this.opts;
    const expired = store.sweep(now, this.opts.maxWork);
    if (expired.length === 0) return 0;
    metrics.evictions.labels('expired').inc(expired.length);
    try {
      await datapath.forget(expired);
    } catch (err) {
      // The datapath enforces expiry itself; a failed removal only delays reclaiming the slot.
      this.opts.log.event('program_failed', { op: 'forget', count: expired.length, err: String(err) });
    }
    return expired.length;
  }
}
