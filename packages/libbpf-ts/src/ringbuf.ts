// Ring buffer consumer: records arrive on the event loop (the ring's epoll fd is polled by libuv),
// so JS never blocks waiting for the kernel.
import { BpfError, errnoCode } from './errors.js';
import type { BpfMap } from './map.js';
import { native } from './native.js';
import type { NativeRingBufferHandle } from './native.js';

export interface RingBufferOptions {
  /** Start consuming right away (default true). */
  start?: boolean;
  /**
   * Most records read per event-loop turn (default 4096); the rest are read on the next turns,
   * so a flood of events cannot starve other work.
   */
  maxBatch?: number;
  /**
   * Receives a poll/consume failure (consuming stops) and anything onRecord throws. Without it,
   * such errors are uncaught exceptions, as for an EventEmitter without an 'error' listener.
   */
  onError?: (err: unknown) => void;
}

export class RingBuffer {
  private handle: NativeRingBufferHandle | null;
  readonly mapName: string;

  constructor(map: BpfMap, onRecord: (record: Buffer) => void, private readonly opts: RingBufferOptions = {}) {
    this.mapName = map.name;
    this.handle = new (native().RingBufferHandle)(
      map.fd,
      map.name,
      (records, errno) => this.deliver(records, errno, onRecord),
      opts.maxBatch,
    );
    if (opts.start ?? true) this.handle.start();
  }

  get closed(): boolean {
    return this.handle === null;
  }

  start(): void {
    this.live().start();
  }

  /** Stops consuming; records stay in the ring until start() or consume(). */
  stop(): void {
    this.live().stop();
  }

  /** Reads everything available now, synchronously, and returns it (onRecord is not called). */
  consume(): Buffer[] {
    return this.live().consume();
  }

  /** Stops and frees the ring. Safe inside onRecord: no record is delivered after it. Idempotent. */
  close(): void {
    const h = this.handle;
    this.handle = null;
    h?.close();
  }

  private deliver(records: Buffer[] | null, errno: number | undefined, onRecord: (record: Buffer) => void): void {
    if (records === null) {
      this.fail(new BpfError('ring_buffer__consume', errno ?? 0, errnoCode(errno ?? 0), 'consuming stopped', { map: this.mapName }));
      return;
    }
    for (const r of records) {
      if (this.handle === null) return;
      try {
        onRecord(r);
      } catch (err) {
        this.fail(err);
      }
    }
  }

  private fail(err: unknown): void {
    if (this.opts.onError) this.opts.onError(err);
    else throw err;
  }

  private live(): NativeRingBufferHandle {
    if (this.handle === null) throw new BpfError('ring_buffer', 9, 'EBADF', 'ring buffer is closed', { map: this.mapName });
    return this.handle;
  }
}
