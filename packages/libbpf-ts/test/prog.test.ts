// BPF_PROG_TEST_RUN on the real kernel with hand-built Ethernet/IPv4/TCP packets.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { BpfError, TcAct, numPossibleCpus, sumPerCpuU64 } from '../src/index.js';
import type { BpfMap, BpfObject, BpfProgram } from '../src/index.js';
import { lpmKey, needRoot, tcpPacket, u32, loadFixture } from './helpers.js';

describe.skipIf(!needRoot)('BpfProgram.testRun', () => {
  let obj: BpfObject;
  let filter: BpfProgram;
  let lpm: BpfMap;
  let counts: BpfMap;
  beforeAll(() => {
    obj = loadFixture();
    filter = obj.program('tc_filter');
    lpm = obj.map('lpm_v4');
    counts = obj.map('pcpu_counts');
  });
  afterAll(() => obj?.close());

  const count = (slot: number): bigint => sumPerCpuU64(counts.lookupPerCpu(u32(slot))!);
  const zeroCounts = (): void => {
    for (let slot = 0; slot < 4; slot++) counts.update(u32(slot), Buffer.alloc(8));
  };

  it('passes or drops a TCP packet according to the LPM map, counting both', () => {
    lpm.clear();
    zeroCounts();
    lpm.update(lpmKey('192.0.2.0', 24), u32(1));
    lpm.update(lpmKey('192.0.2.7', 32), u32(0));
    const cases: Array<[string, number]> = [
      ['192.0.2.1', TcAct.SHOT],
      ['192.0.2.7', TcAct.OK],
      ['198.51.100.1', TcAct.OK],
    ];
    for (const [dst, want] of cases) {
      const pkt = tcpPacket({ src: '10.0.0.1', dst, sport: 40000, dport: 443 });
      const r = filter.testRun({ data: pkt });
      expect(r.retval, dst).toBe(want);
      expect(r.dataOut, dst).toEqual(pkt); // tc_filter does not modify the packet
    }
    expect(count(0)).toBe(3n);
    expect(count(1)).toBe(1n);
    expect(count(2)).toBe(2n);
  });

  it('non-IPv4 frames pass', () => {
    const arp = Buffer.alloc(60);
    arp.writeUInt16BE(0x0806, 12);
    expect(filter.testRun({ data: arp }).retval).toBe(TcAct.OK);
  });

  it('repeats and reports a mean duration', () => {
    zeroCounts();
    const pkt = tcpPacket({ src: '10.0.0.1', dst: '203.0.113.9', sport: 1, dport: 80 });
    const r = filter.testRun({ data: pkt, repeat: 1000 });
    expect(r.retval).toBe(TcAct.OK);
    expect(r.durationNs).toBeGreaterThan(0);
    expect(r.durationNs).toBeLessThan(1_000_000);
    expect(count(0)).toBe(1000n);
  });

  it('returns the modified packet', () => {
    const pkt = tcpPacket({ src: '10.0.0.1', dst: '10.0.0.2', sport: 5, dport: 6 });
    const r = obj.program('tc_swap_mac').testRun({ data: pkt });
    expect(r.retval).toBe(TcAct.OK);
    const out = r.dataOut!;
    expect(out.subarray(0, 6)).toEqual(pkt.subarray(6, 12));
    expect(out.subarray(6, 12)).toEqual(pkt.subarray(0, 6));
    expect(out.subarray(12)).toEqual(pkt.subarray(12));
    expect(obj.program('tc_swap_mac').testRun({ data: pkt, dataOutSize: 0 }).dataOut).toBeUndefined();
  });

  it('passes a context in and reads it back (skb mark)', () => {
    const ctx = Buffer.alloc(12);
    ctx.writeUInt32LE(42, 8); // struct __sk_buff: len, pkt_type, mark
    const r = filter.testRun({ data: tcpPacket({ src: '1.1.1.1', dst: '2.2.2.2', sport: 1, dport: 2 }), ctxIn: ctx, ctxOutSize: 512 });
    expect(r.ctxOut).toBeDefined();
    expect(r.ctxOut!.length).toBeGreaterThanOrEqual(12);
    expect(r.ctxOut!.readUInt32LE(8)).toBe(42);
  });

  it('rejects bad input with a typed error', () => {
    let err: unknown;
    try {
      filter.testRun({ data: Buffer.alloc(4) }); // shorter than an Ethernet header
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BpfError);
    expect(err).toMatchObject({ op: 'bpf_prog_test_run_opts', code: 'EINVAL', program: 'tc_filter', object: 'test_prog' });
  });

  it('agrees with a longest-prefix model on generated prefixes and destinations', () => {
    const octet = fc.integer({ min: 0, max: 255 });
    const ip = fc.tuple(fc.constant(10), octet, octet, octet).map((o) => o.join('.'));
    const prefix = fc.record({ ip, len: fc.integer({ min: 8, max: 32 }), drop: fc.boolean() });
    fc.assert(
      fc.property(fc.array(prefix, { maxLength: 12 }), fc.array(ip, { minLength: 1, maxLength: 12 }), (prefixes, dsts) => {
        lpm.clear();
        const model = new Map<string, { net: number; len: number; drop: boolean }>();
        for (const p of prefixes) {
          const net = (toInt(p.ip) & mask(p.len)) >>> 0;
          model.set(`${net}/${p.len}`, { net, len: p.len, drop: p.drop });
          lpm.update(lpmKey(fromInt(net), p.len), u32(p.drop ? 1 : 0));
        }
        for (const dst of dsts) {
          const d = toInt(dst);
          let best: { len: number; drop: boolean } | undefined;
          for (const e of model.values()) {
            if (((d & mask(e.len)) >>> 0) === e.net && (best === undefined || e.len > best.len)) best = e;
          }
          const want = best?.drop ? TcAct.SHOT : TcAct.OK;
          const got = filter.testRun({ data: tcpPacket({ src: '10.9.9.9', dst, sport: 1000, dport: 80 }), dataOutSize: 0 }).retval;
          expect(got, `dst ${dst}`).toBe(want);
        }
      }),
      { numRuns: 100 },
    );
  });

  it('per-CPU counters are read per possible CPU', () => {
    expect(counts.lookupPerCpu(u32(0))).toHaveLength(numPossibleCpus());
  });
});

function toInt(ip: string): number {
  return ip.split('.').reduce((acc, o) => ((acc << 8) | Number(o)) >>> 0, 0);
}

function fromInt(n: number): string {
  return [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.');
}

function mask(len: number): number {
  return len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
}
