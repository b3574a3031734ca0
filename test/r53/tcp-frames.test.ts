import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TcpFrameReader } from '../../src/r53/tcp-frames.js';

function frame(message: Buffer): Buffer {
  const prefix = Buffer.alloc(2);
  prefix.writeUInt16BE(message.length, 0);
  return Buffer.concat([prefix, message]);
}

/** Cuts `data` at the given offsets (sorted, deduplicated, inside the buffer). */
function split(data: Buffer, cuts: readonly number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (data.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let at = 0;
  for (const p of [...points, data.length]) {
    if (p > at) chunks.push(data.subarray(at, p));
    at = Math.max(at, p);
  }
  return chunks;
}

describe('TcpFrameReader', () => {
  it('returns every message intact, in order, however the stream is cut', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 0, maxLength: 300 }), { minLength: 1, maxLength: 6 }),
        fc.array(fc.nat(), { maxLength: 40 }),
        (messages, cuts) => {
          const stream = Buffer.concat(messages.map((m) => frame(Buffer.from(m))));
          const reader = new TcpFrameReader();
          const got: Buffer[] = [];
          for (const chunk of split(stream, cuts)) got.push(...reader.push(chunk));
          expect(got.map((b) => b.toString('hex'))).toEqual(messages.map((m) => Buffer.from(m).toString('hex')));
          expect(reader.inFrame).toBe(false);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('reports a started but unfinished frame, from its first byte', () => {
    const reader = new TcpFrameReader();
    expect(reader.inFrame).toBe(false);
    expect(reader.push(Buffer.from([0]))).toEqual([]);
    expect(reader.inFrame).toBe(true);
    expect(reader.push(Buffer.from([3, 1, 2]))).toEqual([]);
    expect(reader.inFrame).toBe(true);
    // The last byte of one frame and the first of the next in one chunk.
    const out = reader.push(Buffer.from([3, 0]));
    expect(out.map((b) => [...b])).toEqual([[1, 2, 3]]);
    expect(reader.inFrame).toBe(true);
  });

  it('a completed message is not changed by later chunks', () => {
    const reader = new TcpFrameReader();
    const [first] = reader.push(Buffer.from([0, 2, 7, 7, 0]));
    reader.push(Buffer.from([2, 9, 9]));
    expect([...first!]).toEqual([7, 7]);
  });

  // One largest message fed one byte at a time: the old Buffer.concat per chunk copied the whole
  // partial frame on every byte (about 2 GB for four frames, seconds of blocked event loop).
  it('byte-by-byte delivery of 64 KB frames costs time linear in the bytes', () => {
    const message = Buffer.alloc(65_535, 0xab);
    const stream = frame(message);
    const reader = new TcpFrameReader();
    const started = performance.now();
    let done = 0;
    for (let f = 0; f < 4; f++) {
      for (let i = 0; i < stream.length; i++) {
        for (const m of reader.push(stream.subarray(i, i + 1))) {
          expect(m.equals(message)).toBe(true);
          done++;
        }
      }
    }
    const ms = performance.now() - started;
    expect(done).toBe(4);
    expect(ms).toBeLessThan(1000);
  });
});
