// Ring buffer consumer on the real kernel: records produced by a program under BPF_PROG_TEST_RUN
// arrive on the event loop, in order, in bounded batches; stop/close are safe mid-stream.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { BpfError, RingBuffer } from '../src/index.js';
import type { BpfMap, BpfObject, BpfProgram } from '../src/index.js';
import { needRoot, tcpPacket, u32, u64, loadFixture } from './helpers.js';

interface Event {
  saddr: string;
  daddr: string;
  len: number;
  seq: number;
}

const decode = (b: Buffer): Event => ({
  saddr: [...b.subarray(0, 4)].join('.'),
  daddr: [...b.subarray(4, 8)].join('.'),
  len: b.readUInt32LE(8),
  seq: b.readUInt32LE(12),
});

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting for ring buffer records');
    await sleep(5);
  }
}

describe.skipIf(!needRoot)('RingBuffer', () => {
  let obj: BpfObject;
  let report: BpfProgram;
  let events: BpfMap;
  const pkt = tcpPacket({ src: '10.1.1.1', dst: '10.2.2.2', sport: 1234, dport: 53 });
  const produce = (n: number): void => {
    report.testRun({ data: pkt, repeat: n, dataOutSize: 0 });
  };
  beforeAll(() => {
    obj = loadFixture();
    report = obj.program('tc_report');
    events = obj.map('events');
  });
  afterAll(() => obj?.close());
  beforeEach(() => {
    obj.map('hash_map').update(u32(0), u64(0)); // the sequence counter
  });

  it('delivers N records in order, asynchronously', async () => {
    const got: Event[] = [];
    const rb = new RingBuffer(events, (r) => got.push(decode(r)));
    try {
      produce(1000);
      expect(got).toHaveLength(0); // nothing is delivered inside the producing call
      await until(() => got.length >= 1000);
      expect(got).toHaveLength(1000);
      expect(got.map((e) => e.seq)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
      expect(got[0]).toEqual({ saddr: '10.1.1.1', daddr: '10.2.2.2', len: pkt.length, seq: 0 });
    } finally {
      rb.close();
    }
  });

  it('spreads a flood over several event-loop turns (maxBatch)', async () => {
    let turn = 0;
    let spinning = true;
    const spin = (): void => {
      turn++;
      if (spinning) setImmediate(spin);
    };
    spin();
    const turns = new Set<number>();
    let n = 0;
    const rb = new RingBuffer(events, () => {
      turns.add(turn);
      n++;
    }, { maxBatch: 10 });
    try {
      produce(200);
      await until(() => n >= 200);
      expect(n).toBe(200);
      expect(turns.size).toBeGreaterThanOrEqual(10);
    } finally {
      spinning = false;
      rb.close();
    }
  });

  it('stop keeps records in the ring for consume() and start resumes delivery', async () => {
    const got: Event[] = [];
    const rb = new RingBuffer(events, (r) => got.push(decode(r)), { start: false });
    try {
      produce(10);
      await sleep(30);
      expect(got).toHaveLength(0);
      const drained = rb.consume().map(decode);
      expect(drained.map((e) => e.seq)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      rb.start();
      produce(5);
      await until(() => got.length >= 5);
      rb.stop();
      produce(5);
      await sleep(30);
      expect(got.map((e) => e.seq)).toEqual([10, 11, 12, 13, 14]);
      expect(rb.consume()).toHaveLength(5);
    } finally {
      rb.close();
    }
  });

  it('close inside the callback while records keep arriving: no more deliveries, no crash', async () => {
    let n = 0;
    const rb: RingBuffer = new RingBuffer(events, () => {
      n++;
      if (n === 3) rb.close();
    }, { maxBatch: 100 });
    produce(5000);
    await sleep(50);
    expect(n).toBe(3);
    expect(rb.closed).toBe(true);
    produce(100); // the ring still exists in the kernel; nobody reads it
    await sleep(20);
    expect(n).toBe(3);
    // A fresh consumer sees what the closed one left behind.
    const after = new RingBuffer(events, () => undefined, { start: false });
    expect(after.consume().length).toBeGreaterThan(0);
    after.close();
  });

  it('many open/produce/close cycles do not leak or crash', async () => {
    for (let i = 0; i < 50; i++) {
      let n = 0;
      const rb = new RingBuffer(events, () => n++);
      produce(20);
      if (i % 2 === 0) await until(() => n > 0);
      rb.close();
    }
    const rest = new RingBuffer(events, () => undefined, { start: false });
    rest.consume();
    rest.close();
  });

  it('routes a throwing callback to onError and keeps delivering', async () => {
    const errors: unknown[] = [];
    let n = 0;
    const rb = new RingBuffer(events, () => {
      n++;
      if (n === 2) throw new Error('boom');
    }, { onError: (e) => errors.push(e) });
    try {
      produce(5);
      await until(() => n >= 5);
      expect(errors).toHaveLength(1);
      expect((errors[0] as Error).message).toBe('boom');
    } finally {
      rb.close();
    }
  });

  it('closed consumers and non-ringbuf maps fail with typed errors', () => {
    const rb = new RingBuffer(events, () => undefined);
    rb.close();
    rb.close();
    expect(() => rb.start()).toThrow(BpfError);
    expect(() => rb.consume()).toThrow(/closed/);
    let err: unknown;
    try {
      new RingBuffer(obj.map('hash_map'), () => undefined);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BpfError);
    expect(err).toMatchObject({ op: 'ring_buffer__new', map: 'hash_map', code: 'EINVAL' });
  });
});
