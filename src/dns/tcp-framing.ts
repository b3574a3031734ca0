// RFC 7766 framing: a two-byte length before every message, and each message written together
// with its prefix in a single write (some middleboxes and servers mishandle split prefixes).
import type { Writable } from 'node:stream';

/** Length-prefixed message of `msg` in one freshly allocated buffer. */
export function frame(msg: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(msg.length + 2);
  out[0] = (msg.length >>> 8) & 0xff;
  out[1] = msg.length & 0xff;
  out.set(msg, 2);
  return out;
}

/**
 * Reassembles messages from a TCP byte stream. `push` returns the complete messages in order;
 * each is a private view the caller may modify (bytes are never reused by the reader).
 */
export class FrameReader {
  private pending: Buffer | undefined;

  push(chunk: Buffer): Buffer[] {
    let buf = this.pending === undefined ? chunk : Buffer.concat([this.pending, chunk]);
    this.pending = undefined;
    const out: Buffer[] = [];
    let at = 0;
    while (buf.length - at >= 2) {
      const len = (buf[at]! << 8) | buf[at + 1]!;
      if (buf.length - at - 2 < len) break;
      out.push(buf.subarray(at + 2, at + 2 + len));
      at += 2 + len;
    }
    if (at < buf.length) {
      // Copy the tail so the retained bytes do not pin a large chunk.
      buf = Buffer.from(buf.subarray(at));
      this.pending = buf;
    }
    return out;
  }

  /** Bytes received but not yet forming a whole message. */
  get buffered(): number {
    return this.pending?.length ?? 0;
  }
}

/**
 * Writes framed messages to a stream, coalescing every message written in the same tick into one
 * writev: pipelined queries arrive in batches and are answered in batches, and one system call per
 * batch instead of one per message is most of what TCP costs here. Each message stays contiguous
 * with its own prefix.
 */
export class FrameWriter {
  private corked = false;
  private readonly uncork = (): void => {
    this.corked = false;
    this.stream.uncork();
  };

  constructor(private readonly stream: Writable) {}

  write(msg: Uint8Array): void {
    if (!this.corked) {
      this.corked = true;
      this.stream.cork();
      process.nextTick(this.uncork);
    }
    this.stream.write(frame(msg));
  }
}
