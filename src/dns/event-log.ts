// One structured log line per refused / failed / spoofed event, rate limited per event kind so a
// flood cannot turn the log into the bottleneck; suppressed lines are counted in the next one.
import type { Logger } from 'pino';

export type DnsEvent =
  | 'formerr'
  | 'refused'
  | 'upstream_failed'
  | 'program_failed'
  | 'program_timeout'
  | 'invalid_answer'
  | 'spoof_drop'
  | 'limit_drop'
  | 'evicted'
  | 'release_failed';

export class EventLog {
  private readonly windows = new Map<DnsEvent, { start: number; count: number; suppressed: number }>();

  constructor(
    private readonly logger: Logger,
    /** Lines per kind per second. */
    private readonly perSecond = 10,
    private readonly clock: () => number = Date.now,
  ) {}

  event(kind: DnsEvent, fields: Record<string, unknown>, level: 'info' | 'warn' = 'warn'): void {
    const now = this.clock();
    let w = this.windows.get(kind);
    if (w === undefined || now - w.start >= 1000) {
      const suppressed = w?.suppressed ?? 0;
      w = { start: now, count: 0, suppressed: 0 };
      this.windows.set(kind, w);
      if (suppressed > 0) fields = { ...fields, suppressed };
    }
    if (w.count >= this.perSecond) {
      w.suppressed++;
      return;
    }
    w.count++;
    this.logger[level]({ event: kind, ...fields }, kind);
  }
}
