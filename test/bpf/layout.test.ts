// Pure encode/decode of the map layout: generated round trips and the rejections that keep the
// compiler from writing something the program would misjudge.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as L from '../../src/datapath/ebpf/layout.js';
import type { Rule } from '../../src/datapath/ebpf/layout.js';

const v4 = fc.uint8Array({ minLength: 4, maxLength: 4 });
const v6 = fc.uint8Array({ minLength: 16, maxLength: 16 });
const epId = fc.integer({ min: 1, max: L.MAX_ENDPOINTS - 1 });
const dir = fc.constantFrom<L.DirName>('egress', 'ingress');
const port = fc.integer({ min: 0, max: 65535 });

const ruleArb: fc.Arbitrary<Omit<Rule, 'tier'>> = fc.record({
  proto: fc.constantFrom(0, 1, 6, 17, 58, 132),
  portLo: fc.constant(0),
  portHi: fc.constant(0),
  action: fc.constant<Rule['action']>('accept'),
  fqdn: fc.boolean(),
  fqdnSlot: fc.nat(),
  ruleId: fc.nat({ max: 0xffffffff }),
});

describe('addresses', () => {
  it.each([
    ['10.0.0.1', [10, 0, 0, 1]],
    ['::', new Array(16).fill(0)],
    ['::1', [...new Array(15).fill(0), 1]],
    ['2001:db8::ff00:42:8329', [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0xff, 0, 0, 0x42, 0x83, 0x29]],
    ['::ffff:192.0.2.1', [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1]],
  ])('%s', (text, bytes) => {
    expect(Array.from(L.addrBytes(text))).toEqual(bytes);
  });

  it.each(['2001:DB8:0:0:0:0:0:1', '2001:db8:0:0:1:0:0:1', 'fe80:0:0:0:0:0:0:1'])('RFC 5952 form of %s', (text) => {
    const canonical = { '2001:DB8:0:0:0:0:0:1': '2001:db8::1', '2001:db8:0:0:1:0:0:1': '2001:db8::1:0:0:1', 'fe80:0:0:0:0:0:0:1': 'fe80::1' }[text];
    expect(L.addrText(L.addrBytes(text))).toBe(canonical);
  });

  it.each(['', '1.2.3', '1.2.3.256', '01.2.3.4', '1::2::3', '1:2:3:4:5:6:7:8:9', 'g::1', '1.2.3.4/8'])('rejects %j', (text) => {
    expect(() => L.addrBytes(text)).toThrow(L.LayoutError);
  });

  it('text round trip of any address', () => {
    fc.assert(fc.property(fc.oneof(v4, v6), (b) => {
      expect(Array.from(L.addrBytes(L.addrText(b)))).toEqual(Array.from(b));
    }));
  });
});

describe('keys and values round trip', () => {
  it('endpoints', () => {
    fc.assert(fc.property(
      epId, fc.constantFrom<L.ModeName>('notEnforced', 'standard', 'strict'), fc.boolean(), fc.boolean(), fc.boolean(), fc.nat(),
      fc.option(v4, { nil: undefined }), fc.option(v6, { nil: undefined }),
      (id, mode, e, i, n, sample, ip4, ip6) => {
        const cfg: L.EndpointConfig = { epId: id, mode, egressIsolated: e, ingressIsolated: i, noCtInsert: n, allowSample: sample };
        if (ip4 && ip4.some((x) => x !== 0)) cfg.podIp4 = L.addrText(ip4);
        if (ip6 && ip6.some((x) => x !== 0)) cfg.nodeIp6 = L.addrText(ip6);
        const b = L.encodeEndpoint(cfg);
        expect(b.length).toBe(L.SIZE.endpoint);
        expect(L.decodeEndpoint(b)).toEqual(cfg);
      },
    ));
  });

  it('policy keys clear host bits and carry 40 extra prefix bits', () => {
    fc.assert(fc.property(epId, dir, fc.oneof(v4, v6), fc.nat({ max: 128 }), (id, d, a, len) => {
      const bits = a.length * 8;
      const plen = len % (bits + 1);
      const key = a.length === 4 ? L.encodePolicyKeyV4(id, d, a, plen) : L.encodePolicyKeyV6(id, d, a, plen);
      expect(key.readUInt32LE(0)).toBe(40 + plen);
      const back = L.decodePolicyKey(key);
      expect(back).toMatchObject({ epId: id, dir: d, family: a.length === 4 ? 4 : 6, prefixLen: plen });
      // Re-encoding the decoded (masked) network gives the same key: masking is idempotent.
      const again = a.length === 4 ? L.encodePolicyKeyV4(id, d, back.addr, plen) : L.encodePolicyKeyV6(id, d, back.addr, plen);
      expect(again.equals(key)).toBe(true);
    }));
  });

  it.each([
    ['10.1.2.3/8', 4, '10.0.0.0', 8],
    ['10.1.2.3', 4, '10.1.2.3', 32],
    ['2001:db8:ffff::1/33', 6, '2001:db8:8000::', 33],
    ['::/0', 6, '::', 0],
  ])('cidr %s', (cidr, family, addr, len) => {
    const { family: f, key } = L.encodePolicyKeyCidr(3, 'ingress', cidr);
    expect(f).toBe(family);
    expect(L.decodePolicyKey(key)).toEqual({ epId: 3, dir: 'ingress', family, addr, prefixLen: len });
  });

  it('rule lists, in tier order', () => {
    const tiered = fc.tuple(fc.array(ruleArb, { maxLength: 20 }), fc.array(ruleArb, { maxLength: 20 }), fc.array(ruleArb, { maxLength: 20 }));
    fc.assert(fc.property(tiered, fc.tuple(port, port), ([a, n, b], [p1, p2]) => {
      const rules: Rule[] = [
        ...a.map((r) => ({ ...r, tier: 'admin' as const, action: r.fqdn ? ('accept' as const) : ('pass' as const) })),
        ...n.map((r) => ({ ...r, tier: 'np' as const, portLo: Math.min(p1, p2) || 1, portHi: Math.max(p1, p2, 1) })),
        ...b.map((r) => ({ ...r, tier: 'baseline' as const })),
      ];
      const buf = L.encodeRuleList(rules);
      expect(buf.length).toBe(L.SIZE.ruleList);
      expect(L.decodeRuleList(buf)).toEqual(rules);
    }));
  });

  it('learned keys and values', () => {
    fc.assert(fc.property(epId, fc.nat(), fc.oneof(v4, v6), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), (id, slot, a, exp) => {
      const k = L.encodeLearnedKey({ epId: id, fqdnSlot: slot, addr: a });
      expect(L.decodeLearnedKey(k)).toEqual({ epId: id, fqdnSlot: slot, addr: L.addrText(a) });
      expect(L.decodeLearnedValue(L.encodeLearnedValue(exp))).toBe(exp);
    }));
  });

  it('conntrack keys and values', () => {
    fc.assert(fc.property(epId, dir, fc.nat({ max: 255 }), fc.boolean(), v6, v6, port, port, (id, d, proto, six, s, t, sp, dp) => {
      const podAddr = six ? s : s.subarray(0, 4);
      const peerAddr = six ? t : t.subarray(0, 4);
      const k = L.encodeCtKey({ epId: id, proto, podAddr, peerAddr, podPort: sp, peerPort: dp });
      expect(L.decodeCtKey(k)).toEqual({
        epId: id, family: six ? 6 : 4, proto, podAddr: L.addrText(podAddr), peerAddr: L.addrText(peerAddr), podPort: sp, peerPort: dp,
      });
      const v: L.CtValue = { lastSeenNs: BigInt(sp) * 1_000_003n, ruleId: dp, tier: 'np', reason: 'rule', replySeen: six, dir: d };
      expect(L.decodeCtValue(L.encodeCtValue(v))).toEqual(v);
    }));
  });

  it('counters sum over CPUs', () => {
    const cpu = (a: number, d: number, n: number, l: number): Buffer => {
      const b = Buffer.alloc(L.SIZE.counters);
      [a, d, n, l].forEach((x, i) => b.writeBigUInt64LE(BigInt(x), i * 8));
      return b;
    };
    expect(L.decodeCounters([cpu(1, 2, 3, 4), cpu(10, 20, 30, 40)])).toEqual({ allowedPackets: 11n, deniedPackets: 22n, newFlows: 33n, eventsLost: 44n });
    expect(L.encodeCounterKey(5, 'ingress').readUInt32LE(0)).toBe(11);
  });

  it('monotonic conversion', () => {
    expect(L.monotonicNsFromEpochMs(2_000, 1_000, 5_000_000_000n)).toBe(6_000_000_000n);
    expect(L.monotonicNsFromEpochMs(0, 10_000, 1_000_000n)).toBe(0n);
  });
});

describe('rejections', () => {
  const ok: Rule = { proto: 6, portLo: 80, portHi: 80, tier: 'admin', action: 'deny', fqdn: false, fqdnSlot: 0, ruleId: 1 };
  it.each<[string, Rule[], string]>([
    ['too many rules', new Array<Rule>(L.MAX_RULES + 1).fill(ok), 'count'],
    ['tiers out of order', [{ ...ok, tier: 'baseline' }, ok], 'tier'],
    ['NP deny', [{ ...ok, tier: 'np' }], 'action'],
    ['FQDN deny', [{ ...ok, fqdn: true }], 'action'],
    ['reversed port range', [{ ...ok, portLo: 90, portHi: 80 }], 'portLo'],
    ['port 0 with a non-zero end', [{ ...ok, portLo: 0, portHi: 80 }], 'portLo'],
    ['port above 65535', [{ ...ok, portHi: 65536 }], 'portHi'],
    ['protocol above 255', [{ ...ok, proto: 256 }], 'proto'],
  ])('rule list: %s', (_name, rules, field) => {
    let err: unknown;
    try {
      L.encodeRuleList(rules);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(L.LayoutError);
    expect((err as L.LayoutError).field).toContain(field);
  });

  it.each<[string, () => unknown]>([
    ['ep id 0', () => L.encodeEndpointKey(0)],
    ['ep id out of range', () => L.encodePolicyKeyV4(L.MAX_ENDPOINTS, 'egress', '1.2.3.4', 32)],
    ['v6 address in a v4 key', () => L.encodePolicyKeyV4(1, 'egress', '::1', 32)],
    ['prefix too long', () => L.encodePolicyKeyV4(1, 'egress', '1.2.3.4', 33)],
    ['v6 node IP in the v4 field', () => L.encodeEndpoint({ epId: 1, mode: 'strict', egressIsolated: false, ingressIsolated: false, allowSample: 0, nodeIp4: '::1' })],
    ['mixed families in a ct key', () => L.encodeCtKey({ epId: 1, proto: 6, podAddr: '1.2.3.4', peerAddr: '::1', podPort: 1, peerPort: 2 })],
    ['negative expiry', () => L.encodeLearnedValue(-1n)],
  ])('%s', (_name, fn) => {
    expect(fn).toThrow(L.LayoutError);
  });
});
