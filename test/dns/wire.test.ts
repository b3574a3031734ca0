// The cheap message readers and writers of the query path, on tables and generated input.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as dnsPacket from 'dns-packet';
import { ipv6Text, readName } from '../../src/dns/answer.js';
import { underSuffix } from '../../src/dns/query-filter.js';
import { RandomSource } from '../../src/dns/random.js';
import { FrameReader, frame } from '../../src/dns/tcp-framing.js';
import { parseUpstream } from '../../src/dns/upstream-addr.js';
import { resolveConfig } from '../../src/dns/config.js';
import { DnsConfigError, DnsWireError } from '../../src/dns/errors.js';
import { copyQuestionName, makeReply, readQuestion, sameQuestion, sameVariant } from '../../src/dns/wire.js';

const q = (name: string, type: dnsPacket.RecordType = 'A'): Buffer =>
  dnsPacket.encode({ id: 1, type: 'query', questions: [{ name, type, class: 'IN' }] });

describe('readQuestion', () => {
  it.each([
    ['Www.Example.COM', 'www.example.com'],
    ['a-b_c.example', 'a-b_c.example'],
    ['.', ''],
  ])('%s reads as %s', (name, expected) => {
    const msg = q(name);
    const got = readQuestion(msg);
    expect(got.name).toBe(expected);
    expect(got.end).toBe(msg.length);
    expect(got.qtype).toBe(1);
    expect(got.qclass).toBe(1);
  });

  it.each([
    ['a dot inside a label', Buffer.from([3, 0x61, 0x2e, 0x62, 3, 0x63, 0x6f, 0x6d, 0]), 'a\\046b.com'],
    ['a star label', Buffer.from([1, 0x2a, 3, 0x63, 0x6f, 0x6d, 0]), '\\042.com'],
    ['a space and a high byte', Buffer.from([2, 0x20, 0xff, 0]), '\\032\\255'],
  ])('escapes %s so it can never match a pattern', (_l, wireName, expected) => {
    const msg = Buffer.concat([q('x').subarray(0, 12), wireName, Buffer.from([0, 1, 0, 1])]);
    expect(readQuestion(msg).name).toBe(expected);
  });

  it('rejects names longer than 255 bytes', () => {
    const long = Buffer.concat([...Array.from({ length: 5 }, () => Buffer.from([63, ...Buffer.alloc(63, 0x61)])), Buffer.from([0, 0, 1, 0, 1])]);
    expect(() => readQuestion(Buffer.concat([q('x').subarray(0, 12), long]))).toThrow(DnsWireError);
  });
});

describe('sameQuestion / copyQuestionName', () => {
  it('matches only the exact question bytes', () => {
    const query = q('MiXeD.example.COM');
    expect(sameQuestion(query, readQuestion(query), Buffer.from(query))).toBe(true);
  });

  it.each([
    ['another name', q('other.example.com')],
    ['another type', q('mixed.example.com', 'AAAA')],
    ['a shorter message', q('mixed.example.com').subarray(0, 20)],
    ['the name in another letter case', q('mixed.EXAMPLE.com')],
    ['one letter in another case', q('mixed.example.coM')],
  ])('rejects %s', (_l, resp) => {
    const query = q('mixed.example.com');
    expect(sameQuestion(query, readQuestion(query), resp)).toBe(false);
  });

  it('rejects every case variant of a generated name, accepts only the name itself', () =>
    fc.assert(
      fc.property(fc.stringMatching(/^[a-z]{1,10}\.[a-z]{1,10}$/), fc.array(fc.boolean(), { minLength: 21, maxLength: 21 }), (name, flips) => {
        const variant = [...name].map((c, i) => (flips[i] === true ? c.toUpperCase() : c)).join('');
        const query = q(name);
        expect(sameQuestion(query, readQuestion(query), q(variant))).toBe(variant === name);
      }),
    ));

  it('copyQuestionName writes the query case into a response to the same name', () => {
    const query = q('MiXeD.example.COM');
    const resp = Buffer.from(q('mixed.EXAMPLE.com'));
    copyQuestionName(query, readQuestion(query), resp);
    expect(resp.subarray(12).equals(query.subarray(12))).toBe(true);
  });
});

describe('sameVariant', () => {
  const withOpt = (id: number, name: string, size: number, flags = 0x0100): Buffer =>
    dnsPacket.encode({
      id,
      type: 'query',
      flags,
      questions: [{ name, type: 'A', class: 'IN' }],
      additionals: [{ type: 'OPT', name: '.', udpPayloadSize: size, flags: 0, options: [{ code: 10, data: Buffer.from('12345678') }] } as unknown as dnsPacket.Answer],
    });
  const same = (a: Buffer, b: Buffer): boolean => sameVariant(a, readQuestion(a), b, readQuestion(b));

  it('ignores the ID, the name case and the OPT UDP size; any other byte changes it', () =>
    fc.assert(
      fc.property(fc.nat(0xffff), fc.integer({ min: 512, max: 0xffff }), fc.nat(), fc.nat(255), (id, size, at, delta) => {
        const base = withOpt(1, 'www.example.test', 1232);
        expect(same(base, withOpt(id, 'WwW.Example.TEST', size))).toBe(true);
        expect(same(withOpt(id, 'WwW.Example.TEST', size), base)).toBe(true);
        // Change one byte outside the ID, the name and the OPT size field (type and class included): no longer the same.
        const q = readQuestion(base);
        const sizeAt = q.end + 3;
        const spots = [...Array(base.length).keys()].filter((i) => (i >= 2 && i < 12) || (i >= q.nameEnd && i !== sizeAt && i !== sizeAt + 1));
        const i = spots[at % spots.length]!;
        const changed = Buffer.from(base);
        changed[i] = (changed[i]! + 1 + (delta % 255)) & 0xff;
        let parsed = true;
        try {
          readQuestion(changed);
        } catch {
          parsed = false;
        }
        if (parsed) {
          expect(same(base, changed)).toBe(false);
          expect(same(changed, base)).toBe(false);
        }
      }),
    ));
});

describe('makeReply', () => {
  it('keeps ID, opcode, RD, CD and the question; sets QR, RA and the rcode', () => {
    const query = dnsPacket.encode({ id: 0xabcd, type: 'query', flags: dnsPacket.RECURSION_DESIRED | dnsPacket.CHECKING_DISABLED, questions: [{ name: 'x.test', type: 'MX', class: 'IN' }] });
    const d = dnsPacket.decode(makeReply(query, readQuestion(query), 5));
    expect(d.id).toBe(0xabcd);
    expect(d.type).toBe('response');
    expect(d.flag_rd && d.flag_cd && d.flag_ra).toBe(true);
    expect(d.flags! & 0xf).toBe(5);
    expect(d.questions).toEqual([{ name: 'x.test', type: 'MX', class: 'IN' }]);
    expect(d.answers).toEqual([]);
  });
});

describe('answer helpers', () => {
  it('ipv6Text is the RFC 5952 form (as WHATWG URL prints it)', () =>
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.constant(0), fc.nat(0xffff)), { minLength: 8, maxLength: 8 }), (groups) => {
        const buf = Buffer.alloc(16);
        groups.forEach((g, i) => buf.writeUInt16BE(g, 2 * i));
        const full = groups.map((g) => g.toString(16)).join(':');
        const url = new URL(`http://[${full}]/`).hostname.slice(1, -1);
        // URL prints an IPv4-mapped address the same way (hex groups), so the forms coincide.
        expect(ipv6Text(buf, 0)).toBe(url);
      }),
      { numRuns: 5000 },
    ));

  it('readName follows backward pointers and refuses loops', () => {
    const msg = Buffer.concat([Buffer.alloc(12), Buffer.from([3, 0x77, 0x77, 0x77, 0xc0, 0x14]), Buffer.from([0, 0]), Buffer.from([4, 0x74, 0x65, 0x73, 0x74, 0])]);
    // 0x14 = 20 points forward: refused.
    expect(() => readName(msg, 12)).toThrow(DnsWireError);
    const ok = Buffer.concat([Buffer.alloc(12), Buffer.from([4, 0x74, 0x65, 0x73, 0x74, 0]), Buffer.from([3, 0x57, 0x57, 0x57, 0xc0, 0x0c])]);
    expect(readName(ok, 18)).toEqual({ name: 'www.test', next: 24 });
    const loop = Buffer.concat([Buffer.alloc(12), Buffer.from([0xc0, 0x0c])]);
    expect(() => readName(loop, 12)).toThrow(DnsWireError);
  });
});

describe('tcp framing', () => {
  it('reassembles the same messages however the stream is split', () =>
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 0, maxLength: 300 }), { minLength: 1, maxLength: 10 }),
        fc.array(fc.integer({ min: 1, max: 200 }), { minLength: 1, maxLength: 50 }),
        (msgs, cuts) => {
          const stream = Buffer.concat(msgs.map((m) => frame(m)));
          const reader = new FrameReader();
          const got: Buffer[] = [];
          let at = 0;
          for (let i = 0; at < stream.length; i++) {
            const n = cuts[i % cuts.length]!;
            got.push(...reader.push(stream.subarray(at, at + n)));
            at += n;
          }
          expect(got.map((b) => [...b])).toEqual(msgs.map((m) => [...m]));
          expect(reader.buffered).toBe(0);
        },
      ),
    ));
});

describe('small helpers', () => {
  it.each([
    ['cluster.local', true],
    ['a.b.svc.cluster.local', true],
    ['evilcluster.local', false],
    ['cluster.local.evil', false],
    ['local', false],
  ])('underSuffix(%s, [cluster.local]) = %s', (name, expected) => {
    expect(underSuffix(name, ['cluster.local'])).toBe(expected);
  });

  it.each([
    ['10.0.0.2', '10.0.0.2:53'],
    ['10.0.0.2:5353', '10.0.0.2:5353'],
    ['::1', '[::1]:53'],
    ['[0:0::1]:5300', '[::1]:5300'],
  ])('parseUpstream(%s) -> %s', (text, label) => {
    expect(parseUpstream(text).label).toBe(label);
  });

  it.each(['example.com', '10.0.0.1:0', '10.0.0.1:70000', '[::1'])('parseUpstream rejects %s', (text) => {
    expect(() => parseUpstream(text)).toThrow();
  });

  it('RandomSource.below is unbiased enough and in range', () => {
    const r = new RandomSource();
    const counts = new Array<number>(6).fill(0);
    for (let i = 0; i < 60_000; i++) counts[r.below(6)]!++;
    for (const c of counts) expect(Math.abs(c - 10_000)).toBeLessThan(600);
  });
});

describe('resolveConfig', () => {
  it.each([
    ['programTimeoutMs', { programTimeoutMs: 0 }],
    ['upstreamAttempts', { upstreamAttempts: 1.5 }],
    ['queryFilter', { queryFilter: 'drop' as never }],
    ['ttlBounds', { ttlBounds: { minTTL: 100, maxTTL: 10 } }],
    ['listen', { listen: [{ host: '127.0.0.1', port: 70_000 }] }],
  ])('rejects a bad %s with a typed error naming the field', (field, bad) => {
    try {
      resolveConfig({ upstreams: ['127.0.0.1'], ...bad });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(DnsConfigError);
      expect((err as DnsConfigError).field).toBe(field);
    }
  });

  it('fills defaults', () => {
    expect(resolveConfig({ upstreams: ['127.0.0.1'] })).toMatchObject({ programTimeoutMs: 250, queryFilter: 'off', allowedSuffixes: ['cluster.local'] });
  });
});
