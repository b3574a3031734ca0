// IP and CIDR logic: tables for the edge cases, fast-check against bigint / WHATWG references.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type Cidr,
  InvalidAddressError,
  InvalidCidrError,
  cidrContainsCidr,
  cidrContainsIP,
  cidrRange,
  formatCidr,
  formatIP,
  ipBlockContains,
  makeCidr,
  parseCidr,
  parseIP,
  subtractCidrs,
} from '../../src/policy/index.js';

describe('parseIP / formatIP', () => {
  it.each([
    ['10.0.0.1', 4, 0x0a000001n, '10.0.0.1'],
    ['255.255.255.255', 4, 0xffffffffn, '255.255.255.255'],
    ['::', 6, 0n, '::'],
    ['::1', 6, 1n, '::1'],
    ['2001:DB8:0:0:0:0:0:1', 6, 0x20010db8000000000000000000000001n, '2001:db8::1'],
    ['2001:db8:0:1:0:0:0:1', 6, 0x20010db8000000010000000000000001n, '2001:db8:0:1::1'],
    ['2001:db8::1:0:0:1', 6, 0x20010db8000000000001000000000001n, '2001:db8::1:0:0:1'],
    ['1:0:1:1:1:1:1:1', 6, 0x00010000000100010001000100010001n, '1:0:1:1:1:1:1:1'],
    ['::ffff:1.2.3.4', 6, 0xffff01020304n, '::ffff:102:304'],
    ['fe80::', 6, 0xfe800000000000000000000000000000n, 'fe80::'],
  ])('%s', (text, family, value, canonical) => {
    const ip = parseIP(text);
    expect(ip).toEqual({ family, value });
    expect(formatIP(ip)).toBe(canonical);
  });

  it.each(['', '1.2.3', '1.2.3.4.5', '256.0.0.1', '01.2.3.4', '1.2.3.-1', 'a.b.c.d', ':::', '1::2::3', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7', '12345::', 'fe80::1%eth0', '::1.2.3', 'g::1', '1:2:3:4:5:6:7::8'])(
    'rejects %j',
    (text) => {
      expect(() => parseIP(text)).toThrow(InvalidAddressError);
    },
  );

  it('round-trips every IPv4 address', () => {
    fc.assert(
      fc.property(fc.ipV4(), (text) => {
        const ip = parseIP(text);
        const want = text.split('.').reduce((acc, p) => acc * 256n + BigInt(Number(p)), 0n);
        expect(ip).toEqual({ family: 4, value: want });
        expect(formatIP(ip)).toBe(text);
      }),
    );
  });

  it('formats IPv6 like the WHATWG URL serialiser (RFC 5952 compression) and round-trips', () => {
    fc.assert(
      fc.property(fc.ipV6(), (text) => {
        const ip = parseIP(text);
        const want = new URL(`http://[${text}]/`).hostname.slice(1, -1);
        expect(formatIP(ip)).toBe(want);
        expect(parseIP(formatIP(ip))).toEqual(ip);
      }),
    );
  });
});

const v4cidr = fc.record({ value: fc.bigInt({ min: 0n, max: (1n << 32n) - 1n }), len: fc.integer({ min: 0, max: 32 }) }).map(({ value, len }) => makeCidr(4, value, len));
const v4ip = fc.bigInt({ min: 0n, max: (1n << 32n) - 1n }).map((value) => ({ family: 4 as const, value }));
const v6cidr = fc.record({ value: fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }), len: fc.integer({ min: 0, max: 128 }) }).map(({ value, len }) => makeCidr(6, value, len));

/** The obvious definition: the top `len` bits agree. */
function refContains(c: Cidr, value: bigint, bits: number): boolean {
  const shift = BigInt(bits - c.prefixLength);
  return value >> shift === c.base >> shift;
}

describe('CIDRs', () => {
  it.each([
    ['10.0.0.0/8', '10.0.0.0/8'],
    ['10.1.2.3/8', '10.0.0.0/8'],
    ['0.0.0.0/0', '0.0.0.0/0'],
    ['1.2.3.4/32', '1.2.3.4/32'],
    ['2001:db8::1/32', '2001:db8::/32'],
    ['::/0', '::/0'],
  ])('parses %s as %s', (text, canonical) => {
    expect(formatCidr(parseCidr(text))).toBe(canonical);
  });

  it.each(['10.0.0.0', '10.0.0.0/33', '::/129', '10.0.0.0/-1', '10.0.0.0/08', 'x/8', '10.0.0.0/'])('rejects %j', (text) => {
    expect(() => parseCidr(text)).toThrow(InvalidCidrError);
  });

  it('IPv4 containment agrees with the bigint reference', () => {
    fc.assert(fc.property(v4cidr, v4ip, (c, ip) => cidrContainsIP(c, ip) === refContains(c, ip.value, 32)));
  });

  it('IPv6 containment agrees with the bigint reference, near the prefix too', () => {
    fc.assert(
      fc.property(v6cidr, fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }), fc.boolean(), (c, v, near) => {
        const value = near ? c.base ^ (v & 0xffn) : v;
        return cidrContainsIP(c, { family: 6, value }) === refContains(c, value, 128);
      }),
    );
  });

  it('families never mix', () => {
    fc.assert(fc.property(v4cidr, fc.bigInt({ min: 0n, max: (1n << 32n) - 1n }), (c, value) => !cidrContainsIP(c, { family: 6, value })));
  });

  it('a CIDR contains exactly the addresses of its range', () => {
    fc.assert(
      fc.property(v4cidr, v4ip, (c, ip) => {
        const { first, last } = cidrRange(c);
        return cidrContainsIP(c, ip) === (first <= ip.value && ip.value <= last);
      }),
    );
  });

  it('cidrContainsCidr = every address of the inner is in the outer', () => {
    fc.assert(
      fc.property(v4cidr, v4cidr, (a, b) => {
        const r = cidrRange(b);
        const ra = cidrRange(a);
        return cidrContainsCidr(a, b) === (ra.first <= r.first && r.last <= ra.last);
      }),
    );
  });
});

describe('ipBlock except and subtractCidrs', () => {
  // Small prefixes around one base so that excepts often overlap the block.
  const near = fc.record({ delta: fc.bigInt({ min: 0n, max: 255n }), len: fc.integer({ min: 20, max: 32 }) }).map(({ delta, len }) => makeCidr(4, 0x0a000000n + delta * 16n, len));
  const block = fc.record({ cidr: fc.integer({ min: 16, max: 28 }).map((len) => makeCidr(4, 0x0a000000n, len)), except: fc.array(near, { maxLength: 5 }) });
  const addr = fc.bigInt({ min: 0x0a000000n - 16n, max: 0x0a001000n }).map((value) => ({ family: 4 as const, value }));

  it('an address is in the block iff it is in the CIDR and in no except', () => {
    fc.assert(
      fc.property(block, addr, (b, ip) => ipBlockContains(b, ip) === (refContains(b.cidr, ip.value, 32) && !b.except.some((e) => refContains(e, ip.value, 32)))),
    );
  });

  it('subtractCidrs yields disjoint sorted prefixes covering exactly the ipBlock', () => {
    fc.assert(
      fc.property(block, fc.array(addr, { minLength: 20, maxLength: 20 }), (b, probes) => {
        const parts = subtractCidrs(b.cidr, b.except);
        for (let i = 1; i < parts.length; i++) {
          expect(cidrRange(parts[i - 1] as Cidr).last < cidrRange(parts[i] as Cidr).first).toBe(true);
        }
        const edges = parts.flatMap((p) => [cidrRange(p).first, cidrRange(p).last]).map((value) => ({ family: 4 as const, value }));
        for (const ip of [...probes, ...edges]) {
          expect(parts.some((p) => cidrContainsIP(p, ip))).toBe(ipBlockContains(b, ip));
        }
      }),
    );
  });

  it.each([
    ['10.0.0.0/24', ['10.0.0.0/25'], ['10.0.0.128/25']],
    ['10.0.0.0/24', ['10.0.0.0/24'], []],
    ['10.0.0.0/24', ['10.0.0.0/8'], []],
    ['10.0.0.0/24', ['192.168.0.0/16', '::/0'], ['10.0.0.0/24']],
    ['10.0.0.0/30', ['10.0.0.1/32'], ['10.0.0.0/32', '10.0.0.2/31']],
  ])('%s minus %j', (cidr, excepts, want) => {
    expect(subtractCidrs(parseCidr(cidr), excepts.map(parseCidr)).map(formatCidr)).toEqual(want);
  });
});
