// FrameReader: whatever the chunk boundaries, the same messages come out, and reassembling a
// message split over many chunks costs its size in copies, not its square.
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { FrameReader, frame } from '../../src/dns/tcp-framing.js';

/** Cut `stream` at the given (sorted, deduplicated) offsets. */
function cut(stream: Buffer, at: number[]): Buffer[] {
  const points = [...new Set(at.map((p) => p % (stream.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let from = 0;
  for (const p of [...points, stream.length]) {
    // Copies, so a view returned by the reader can never alias the test's own stream.
    out.push(Buffer.from(stream.subarray(from, p)));
    from = p;
  }
  return out;
}

function readAll(chunks: Buffer[]): { msgs: Buffer[]; reader: FrameReader } {
  const reader = new FrameReader();
  const msgs: Buffer[] = [];
  for (const c of chunks) msgs.push(...reader.push(c));
  return { msgs, reader };
}

// Counts the bytes Buffer's allocating helpers hand out while a test runs, independently of the
// reader's own bookkeeping (a reader that concatenates per chunk shows up here).
const originals = { concat: Buffer.concat, allocUnsafe: Buffer.allocUnsafe, alloc: Buffer.alloc, from: Buffer.from };
let allocated = 0;
function countAllocations(): void {
  allocated = 0;
  Buffer.concat = ((list: readonly Uint8Array[], total?: number) => {
    const b = originals.concat(list, total);
    allocated += b.length;
    return b;
  }) as typeof Buffer.concat;
  Buffer.allocUnsafe = ((n: number) => {
    allocated += n;
    return originals.allocUnsafe(n);
  }) as typeof Buffer.allocUnsafe;
  Buffer.alloc = ((...args: Parameters<typeof Buffer.alloc>) => {
    allocated += args[0];
    return originals.alloc(...args);
  }) as typeof Buffer.alloc;
  Buffer.from = ((...args: unknown[]) => {
    const b = (originals.from as (...a: unknown[]) => Buffer)(...args);
    allocated += b.length;
    return b;
  }) as typeof Buffer.from;
}
afterEach(() => Object.assign(Buffer, originals));

describe('FrameReader', () => {
  it('yields the same messages for any chunking of any stream of frames', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 0, maxLength: 700 }), { minLength: 0, maxLength: 20 }),
        fc.array(fc.nat(), { maxLength: 40 }),
        fc.uint8Array({ minLength: 1, maxLength: 3 }),
        (messages, cuts, trailing) => {
          const whole = Buffer.concat(messages.map((m) => frame(m)));
          // A started but unfinished frame at the end: counted as buffered, never returned.
          const tail = frame(new Uint8Array(300).fill(9)).subarray(0, trailing.length);
          const { msgs, reader } = readAll(cut(Buffer.concat([whole, tail]), cuts));
          expect(msgs.map((m) => [...m])).toEqual(messages.map((m) => [...m]));
          expect(reader.buffered).toBe(tail.length);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('returns messages the caller may modify without touching later ones', () => {
    const stream = Buffer.concat([frame(Uint8Array.of(1, 2, 3)), frame(Uint8Array.of(4, 5, 6))]);
    for (let split = 0; split <= stream.length; split++) {
      const { msgs } = readAll(cut(stream, [split]));
      msgs[0]!.fill(0xee);
      expect([...msgs[1]!]).toEqual([4, 5, 6]);
    }
  });

  it.each([
    ['1 byte', 1],
    ['3 bytes', 3],
    ['1000 bytes', 1000],
  ])('reassembles a 65535-byte message delivered %s at a time with one allocation and one copy per byte', (_name, step) => {
    const msg = Buffer.alloc(65535);
    for (let i = 0; i < msg.length; i++) msg[i] = (i * 7) & 0xff;
    const stream = frame(msg);
    const chunks: Buffer[] = [];
    for (let i = 0; i < stream.length; i += step) chunks.push(stream.subarray(i, i + step));
    const reader = new FrameReader();
    const got: Buffer[] = [];
    countAllocations();
    for (const c of chunks) got.push(...reader.push(c));
    const spent = allocated;
    Object.assign(Buffer, originals);
    expect(got).toHaveLength(1);
    expect(got[0]!.equals(msg)).toBe(true);
    // Linear: the message buffer once; a per-chunk concat would allocate ~n^2/(2*step) bytes.
    expect(spent).toBeLessThanOrEqual(msg.length + 64);
    expect(reader.bytesCopied).toBeLessThanOrEqual(msg.length);
  });

  it('copies nothing for messages that arrive whole inside one chunk', () => {
    const msgs = Array.from({ length: 50 }, (_, i) => new Uint8Array(20 + i).fill(i));
    const reader = new FrameReader();
    const got = reader.push(Buffer.concat(msgs.map((m) => frame(m))));
    expect(got.map((m) => [...m])).toEqual(msgs.map((m) => [...m]));
    expect(reader.bytesCopied).toBe(0);
  });
});
