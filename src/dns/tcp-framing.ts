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
 *
 * A message that arrives whole inside one chunk is returned as a view of that chunk (no copy: the
 * common case for pipelined queries). A message split over chunks gets one buffer of its exact
 * length as soon as its prefix is known, and each chunk is copied in once: reassembly costs the
 * message's size however the stream is cut (a byte-at-a-time sender used to cost its square).
 */
export class FrameReader {
  /** First prefix byte when only one has arrived, else -1. */
  private prefixHigh = -1;
  /** The message being filled, allocated at its final length. */
  private partial: Buffer | undefined;
  private filled = 0;
  private copied = 0;

  push(chunk: Buffer): Buffer[] {
    const out: Buffer[] = [];
    let at = 0;
    const end = chunk.length;
    if (this.partial !== undefined) {
      const want = this.partial.length - this.filled;
      const n = Math.min(want, end);
      chunk.copy(this.partial, this.filled, 0, n);
      this.filled += n;
      this.copied += n;
      at = n;
      if (this.filled < this.partial.length) return out;
      out.push(this.partial);
      this.partial = undefined;
      this.filled = 0;
    }
    while (at < end) {
      let len: number;
      if (this.prefixHigh >= 0) {
        len = (this.prefixHigh << 8) | chunk[at]!;
        this.prefixHigh = -1;
        at += 1;
      } else if (end - at >= 2) {
        len = (chunk[at]! << 8) | chunk[at + 1]!;
        at += 2;
      } else {
        this.prefixHigh = chunk[at]!;
        return out;
      }
      if (end - at >= len) {
        out.push(chunk.subarray(at, at + len));
        at += len;
        continue;
      }
      const msg = Buffer.allocUnsafe(len);
      const n = end - at;
      chunk.copy(msg, 0, at, end);
      this.copied += n;
      this.partial = msg;
      this.filled = n;
      return out;
    }
    return out;
  }

  /** Bytes received but not yet forming a whole message (a started frame, prefix included). */
  get buffered(): number {
    if (this.partial !== undefined) return 2 + this.filled;
    return this.prefixHigh >= 0 ? 1 : 0;
  }

  /** Bytes copied into reassembly buffers so far (messages split over chunks only). */
  get bytesCopied(): number {
    return this.copied;
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
