// Reassembles DNS-over-TCP messages (two-byte length prefix, RFC 1035 section 4.2.2) from the
// chunks a socket delivers, which may split a message anywhere or carry several.
//
// Once a message's length is known its buffer is allocated once and chunks are copied into it, so
// a client that sends one byte at a time costs time linear in the bytes (concatenating the partial
// frame with every chunk was quadratic: seconds of blocked event loop for a 64 KB frame).
export class TcpFrameReader {
  private readonly prefix = Buffer.alloc(2);
  private prefixFill = 0;
  private frame: Buffer | undefined;
  private frameFill = 0;

  /** True while a message has started (at least one byte of it) but is not complete. */
  get inFrame(): boolean {
    return this.prefixFill > 0;
  }

  /** Feeds one chunk; returns the messages it completed, in order (without their prefixes). */
  push(chunk: Buffer): Buffer[] {
    const out: Buffer[] = [];
    let at = 0;
    while (at < chunk.length) {
      if (this.prefixFill < 2) {
        this.prefix[this.prefixFill++] = chunk[at++]!;
        if (this.prefixFill < 2) continue;
        const length = this.prefix.readUInt16BE(0);
        // A whole message inside this chunk needs no copy.
        if (chunk.length - at >= length) {
          out.push(chunk.subarray(at, at + length));
          at += length;
          this.prefixFill = 0;
          continue;
        }
        this.frame = Buffer.allocUnsafe(length);
        this.frameFill = 0;
      }
      const frame = this.frame!;
      const n = Math.min(frame.length - this.frameFill, chunk.length - at);
      chunk.copy(frame, this.frameFill, at, at + n);
      this.frameFill += n;
      at += n;
      if (this.frameFill === frame.length) {
        out.push(frame);
        this.frame = undefined;
        this.prefixFill = 0;
      }
    }
    return out;
  }
}
