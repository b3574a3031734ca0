// A reload that must never run concurrently with itself. A request that arrives while a run is in
// progress is folded into exactly one more run after it, so every request is answered by a run that
// started after the request (nothing it asked to see is missed) and bursts cost at most two runs.
export class SerialRunner {
  private running: Promise<void> | undefined;
  private again = false;

  constructor(
    private readonly task: () => Promise<void>,
    /** Once true, no further runs start (a pending repeat is dropped). */
    private readonly stopped: () => boolean,
  ) {}

  /** The run in progress, if any (awaited on shutdown). */
  get current(): Promise<void> | undefined {
    return this.running;
  }

  /** Resolves once a run that started after this call has finished. */
  run(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      try {
        do {
          this.again = false;
          await this.task();
        } while (this.again && !this.stopped());
      } finally {
        this.running = undefined;
      }
    })();
    return this.running;
  }
}
