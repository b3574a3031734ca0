// FrameWriter: messages written in one tick leave in one writev, each with its own prefix, in
// order; messages written in later ticks are not held back.
import { Writable } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FrameReader, FrameWriter } from '../../src/dns/tcp-framing.js';

/** A stream that records how the bytes were handed to it: one entry per write or writev. */
function recorder(): { stream: Writable; calls: Buffer[][] } {
  const calls: Buffer[][] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      calls.push([chunk]);
      cb();
    },
    writev(chunks, cb) {
      calls.push(chunks.map((c) => c.chunk as Buffer));
      cb();
    },
  });
  return { stream, calls };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('FrameWriter', () => {
  it('coalesces the messages of one tick into one writev and keeps every batch in order', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(fc.uint8Array({ minLength: 0, maxLength: 600 }), { minLength: 1, maxLength: 12 }), { minLength: 1, maxLength: 5 }),
        async (batches) => {
          const { stream, calls } = recorder();
          const writer = new FrameWriter(stream);
          for (const batch of batches) {
            for (const m of batch) writer.write(m);
            // Nothing leaves before the tick ends: that is what makes one batch one call.
            const before = calls.length;
            await tick();
            expect(calls.length).toBe(before + 1);
            expect(calls.at(-1)!.length).toBe(batch.length);
          }
          const reader = new FrameReader();
          const got = reader.push(Buffer.concat(calls.flat()));
          expect(got.map((b) => [...b])).toEqual(batches.flat().map((m) => [...m]));
          expect(reader.buffered).toBe(0);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('frames each message with its own two-byte length, also at the 65535-byte limit', async () => {
    const { stream, calls } = recorder();
    const writer = new FrameWriter(stream);
    const big = new Uint8Array(65535).fill(7);
    writer.write(big);
    writer.write(Uint8Array.of(1, 2, 3));
    await tick();
    const [first, second] = calls[0]!;
    expect(first!.length).toBe(65537);
    expect(first!.readUInt16BE(0)).toBe(65535);
    expect([...second!]).toEqual([0, 3, 1, 2, 3]);
  });
});
