// Generators of valid DNS messages and of mutations applied to their bytes, for fuzzing.
import fc from 'fast-check';
import * as dnsPacket from 'dns-packet';
import type { Answer } from 'dns-packet';

export type Mutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'set'; at: number; value: number }
  | { kind: 'set16'; at: number; value: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'insert'; at: number; bytes: number[] }
  | { kind: 'delete'; at: number; count: number };

export const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(600), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(600), value: fc.constantFrom(0, 0xff, 0xc0, 0x3f, 0x40, 1, 5, 28) }),
  // Header counts and pointer-ish values are where parsers break most often.
  fc.record({ kind: fc.constant('set16' as const), at: fc.oneof(fc.constantFrom(4, 6, 8, 10), fc.nat(600)), value: fc.oneof(fc.nat(0xffff), fc.constantFrom(0, 1, 2, 0xffff, 0xc00c, 0xc000)) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat(600) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(600), bytes: fc.array(fc.nat(255), { minLength: 1, maxLength: 8 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(600), count: fc.integer({ min: 1, max: 8 }) }),
);

/** Apply mutations in order; positions wrap to the current length, `minKeep` leading bytes are kept. */
export function mutate(buf: Uint8Array, muts: readonly Mutation[], minKeep = 0): Buffer {
  let b = Buffer.from(buf);
  for (const m of muts) {
    const span = b.length - minKeep;
    if (span <= 0) break;
    const at = minKeep + (m.at % span);
    switch (m.kind) {
      case 'flip':
        b[at] = b[at]! ^ (1 << m.bit);
        break;
      case 'set':
        b[at] = m.value;
        break;
      case 'set16':
        if (at + 1 < b.length) b.writeUInt16BE(m.value, at);
        break;
      case 'truncate':
        b = b.subarray(0, at);
        break;
      case 'insert':
        b = Buffer.concat([b.subarray(0, at), Buffer.from(m.bytes), b.subarray(at)]);
        break;
      case 'delete':
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + m.count)]);
        break;
    }
  }
  return b;
}

const label = fc.stringMatching(/^[a-zA-Z0-9-]{1,12}$/);
export const nameArb = fc.array(label, { minLength: 1, maxLength: 3 }).map((ls) => `${ls.join('.')}.example.test`);

const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((t) => t.join('.'));
const ipv6 = fc.array(fc.nat(0xffff), { minLength: 8, maxLength: 8 }).map((g) => g.map((x) => x.toString(16)).join(':'));

/** A valid response for `qname`: a CNAME chain of random length then A/AAAA records, plus noise. */
export const responseArb = fc
  .record({
    qname: nameArb,
    chain: fc.array(nameArb, { maxLength: 3 }),
    v4: fc.array(ipv4, { maxLength: 4 }),
    v6: fc.array(ipv6, { maxLength: 2 }),
    ttls: fc.array(fc.nat(0xffffffff), { minLength: 8, maxLength: 8 }),
    noise: fc.array(fc.record({ name: nameArb, ip: ipv4 }), { maxLength: 2 }),
    qtype: fc.constantFrom('A' as const, 'AAAA' as const),
  })
  .map(({ qname, chain, v4, v6, ttls, noise, qtype }) => {
    const answers: Answer[] = [];
    let owner = qname;
    chain.forEach((target, i) => {
      answers.push({ name: owner, type: 'CNAME', class: 'IN', ttl: ttls[i]!, data: target });
      owner = target;
    });
    for (const ip of v4) answers.push({ name: owner, type: 'A', class: 'IN', ttl: ttls[5]!, data: ip });
    for (const ip of v6) answers.push({ name: owner, type: 'AAAA', class: 'IN', ttl: ttls[6]!, data: ip });
    for (const n of noise) answers.push({ name: n.name, type: 'A', class: 'IN', ttl: ttls[7]!, data: n.ip });
    const questions = [{ name: qname, type: qtype, class: 'IN' as const }];
    const msg = dnsPacket.encode({ id: 1, type: 'response', flags: dnsPacket.RECURSION_AVAILABLE, questions, answers });
    const query = dnsPacket.encode({ id: 1, type: 'query', flags: dnsPacket.RECURSION_DESIRED, questions });
    return { qname, msg, query };
  });
