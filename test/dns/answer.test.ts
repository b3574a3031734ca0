// learnableAddresses reads an owner that points at the question name once per message, and skips
// the chain walk when there is no CNAME. Both shortcuts must give exactly what the plain reading
// gives: the same message with every owner written out in full, and an independent reference.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_CHAIN, learnableAddresses } from '../../src/dns/answer.js';
import { DnsWireError } from '../../src/dns/errors.js';
import { readQuestion } from '../../src/dns/wire.js';

interface Rec {
  owner: string;
  type: 'A' | 'AAAA' | 'CNAME';
  ttl: number;
  data: string;
}

const labels = (name: string): Buffer => Buffer.concat([...name.split('.').map((l) => Buffer.concat([Buffer.of(l.length), Buffer.from(l, 'latin1')])), Buffer.of(0)]);

/** A response with one question and `recs`; owners equal to the question name are pointers iff `compress`. */
function encode(qname: string, recs: readonly Rec[], compress: boolean): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(0x8180, 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(recs.length, 6);
  const parts = [header, labels(qname), Buffer.of(0, 1, 0, 1)];
  for (const r of recs) {
    parts.push(compress && r.owner.toLowerCase() === qname.toLowerCase() ? Buffer.of(0xc0, 12) : labels(r.owner));
    const rdata =
      r.type === 'A' ? Buffer.from(r.data.split('.').map(Number)) : r.type === 'AAAA' ? Buffer.from(r.data.replace(/:/g, ''), 'hex') : labels(r.data);
    const fixed = Buffer.alloc(10);
    fixed.writeUInt16BE(r.type === 'A' ? 1 : r.type === 'AAAA' ? 28 : 5, 0);
    fixed.writeUInt16BE(1, 2);
    fixed.writeUInt32BE(r.ttl, 4);
    fixed.writeUInt16BE(rdata.length, 8);
    parts.push(fixed, rdata);
  }
  return Buffer.concat(parts);
}

/**
 * SEMANTICS.md 5 read literally, undefined where the answer is invalid: two CNAME targets for one
 * name, a loop, or more than 16 hops. Min TTL along the way, max over duplicate addresses.
 */
function reference(qname: string, recs: readonly Rec[]): Map<string, number> | undefined {
  const norm = (s: string): string => s.toLowerCase();
  const targets = new Map<string, Set<string>>();
  for (const r of recs) if (r.type === 'CNAME') targets.set(norm(r.owner), (targets.get(norm(r.owner)) ?? new Set()).add(norm(r.data)));
  if ([...targets.values()].some((t) => t.size > 1)) return undefined;
  const reach = new Map<string, number>([[norm(qname), Infinity]]);
  let cur = norm(qname);
  let ttl = Infinity;
  for (let hops = 0; ; hops++) {
    const links = recs.filter((r) => r.type === 'CNAME' && norm(r.owner) === cur);
    if (links.length === 0) break;
    if (reach.has(norm(links[0]!.data)) || hops === 16) return undefined;
    ttl = Math.min(ttl, ...links.map((l) => l.ttl));
    cur = norm(links[0]!.data);
    reach.set(cur, ttl);
  }
  const best = new Map<string, number>();
  for (const r of recs) {
    const chain = reach.get(norm(r.owner));
    if (r.type === 'CNAME' || chain === undefined) continue;
    const t = Math.min(chain, r.ttl);
    best.set(r.data, Math.max(best.get(r.data) ?? -1, t));
  }
  return best;
}

const label = fc.stringMatching(/^[a-zA-Z0-9]{1,8}$/);
const nameArb = fc.array(label, { minLength: 2, maxLength: 4 }).map((ls) => ls.join('.'));
const v4 = fc.tuple(fc.nat(255), fc.nat(255)).map(([a, b]) => `10.0.${a}.${b}`);
const v6 = fc.nat(0xffff).map((x) => `20010db8000000000000000000${x.toString(16).padStart(4, '0')}00`.replace(/(.{4})(?!$)/g, '$1:'));

const scenario = fc
  .record({ qname: nameArb, others: fc.array(nameArb, { minLength: 1, maxLength: 3 }), withCname: fc.boolean() })
  .chain(({ qname, others, withCname }) => {
    const owner = fc.constantFrom(qname, qname.toUpperCase(), ...others);
    const ttl = fc.oneof(fc.nat(1000), fc.constantFrom(0, 0x7fffffff));
    const addr = fc.oneof(
      fc.record({ owner, type: fc.constant('A' as const), ttl, data: v4 }),
      fc.record({ owner, type: fc.constant('AAAA' as const), ttl, data: v6 }),
    );
    const cname = fc.record({ owner, type: fc.constant('CNAME' as const), ttl, data: fc.constantFrom(...others) });
    const rec = withCname ? fc.oneof(addr, cname) : addr;
    return fc.record({ qname: fc.constant(qname), recs: fc.array(rec, { maxLength: 8 }) });
  });

describe('learnableAddresses shortcuts', () => {
  it('pointer owners and full owners give the same addresses and TTLs, equal to the reference', () => {
    fc.assert(
      fc.property(scenario, ({ qname, recs }) => {
        const full = encode(qname, recs, false);
        const packed = encode(qname, recs, true);
        const q = readQuestion(full);
        const ref = reference(qname, recs);
        if (ref === undefined) {
          expect(() => learnableAddresses(full, q.end, q.name)).toThrow(DnsWireError);
          expect(() => learnableAddresses(packed, q.end, q.name)).toThrow(DnsWireError);
          return;
        }
        const a = learnableAddresses(full, q.end, q.name);
        const b = learnableAddresses(packed, q.end, q.name);
        expect(b).toEqual(a);
        // The proxy prints IPv6 in RFC 5952 form; compare through the set of IPv4 plus counts.
        expect(a.length).toBe(ref.size);
        for (const x of a) if (!x.ip.includes(':')) expect(x.ttl).toBe(ref.get(x.ip));
      }),
      { numRuns: 3000 },
    );
  });

  it('an owner pointer at the question is read once per message, and still checked', () => {
    const recs: Rec[] = [
      { owner: 'a.test', type: 'A', ttl: 30, data: '10.0.0.1' },
      { owner: 'a.test', type: 'A', ttl: 90, data: '10.0.0.1' },
      { owner: 'a.test', type: 'A', ttl: 60, data: '10.0.0.2' },
    ];
    const msg = encode('a.test', recs, true);
    const q = readQuestion(msg);
    expect(learnableAddresses(msg, q.end, 'a.test')).toEqual([
      { ip: '10.0.0.1', ttl: 90 },
      { ip: '10.0.0.2', ttl: 60 },
    ]);
    // A pointer at offset 12 from inside the question itself would not go backwards.
    const bad = Buffer.from(msg);
    bad[12] = 0xc0;
    bad[13] = 12;
    expect(() => learnableAddresses(bad, q.end, 'a.test')).toThrow();
  });
});

/** q.test -> c1.test -> ... -> c<hops>.test, which holds 10.9.9.9. */
const chain = (hops: number): Rec[] => [
  ...Array.from({ length: hops }, (_, i): Rec => ({ owner: i === 0 ? 'q.test' : `c${i}.test`, type: 'CNAME', ttl: 300 - i, data: `c${i + 1}.test` })),
  { owner: hops === 0 ? 'q.test' : `c${hops}.test`, type: 'A', ttl: 900, data: '10.9.9.9' },
];

describe('CNAME chains the client could read differently are invalid', () => {
  it.each<[string, Rec[], { ip: string; ttl: number }[] | 'invalid']>([
    ['no CNAME', chain(0), [{ ip: '10.9.9.9', ttl: 900 }]],
    [`${MAX_CHAIN} hops`, chain(MAX_CHAIN), [{ ip: '10.9.9.9', ttl: 300 - (MAX_CHAIN - 1) }]],
    [`${MAX_CHAIN + 1} hops`, chain(MAX_CHAIN + 1), 'invalid'],
    ['40 hops', chain(40), 'invalid'],
    [
      'two targets for the query name (the first leads to an address)',
      [
        { owner: 'q.test', type: 'CNAME', ttl: 60, data: 'a.test' },
        { owner: 'q.test', type: 'CNAME', ttl: 60, data: 'b.test' },
        { owner: 'a.test', type: 'A', ttl: 60, data: '10.0.0.1' },
        { owner: 'b.test', type: 'A', ttl: 60, data: '10.0.0.2' },
      ],
      'invalid',
    ],
    [
      'two targets for a name further down the chain',
      [
        { owner: 'q.test', type: 'CNAME', ttl: 60, data: 'a.test' },
        { owner: 'a.test', type: 'CNAME', ttl: 60, data: 'b.test' },
        { owner: 'A.test', type: 'CNAME', ttl: 60, data: 'c.test' },
        { owner: 'b.test', type: 'A', ttl: 60, data: '10.0.0.2' },
      ],
      'invalid',
    ],
    [
      'the same CNAME twice counts once, with its lower TTL',
      [
        { owner: 'q.test', type: 'CNAME', ttl: 90, data: 'a.test' },
        { owner: 'q.test', type: 'CNAME', ttl: 40, data: 'A.test' },
        { owner: 'a.test', type: 'A', ttl: 300, data: '10.0.0.1' },
      ],
      [{ ip: '10.0.0.1', ttl: 40 }],
    ],
    [
      'a loop',
      [
        { owner: 'q.test', type: 'CNAME', ttl: 60, data: 'a.test' },
        { owner: 'a.test', type: 'CNAME', ttl: 60, data: 'q.test' },
        { owner: 'a.test', type: 'A', ttl: 60, data: '10.0.0.1' },
      ],
      'invalid',
    ],
  ])('%s', (_label, recs, expected) => {
    for (const compress of [false, true]) {
      const msg = encode('q.test', recs, compress);
      const q = readQuestion(msg);
      if (expected === 'invalid') expect(() => learnableAddresses(msg, q.end, q.name)).toThrow(DnsWireError);
      else expect(learnableAddresses(msg, q.end, q.name)).toEqual(expected);
    }
  });
});
