// Fuzzing with fast-check: well over 100k malformed or mutated queries and upstream responses,
// through the parsers directly and through a running proxy. Nothing may crash or reject unhandled,
// and nothing may be learned that an independent decoder (dns-packet) does not find in a
// well-formed response along the CNAME chain of the query name.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSocket, type Socket } from 'node:dgram';
import { isIP } from 'node:net';
import { createRequire } from 'node:module';
import fc from 'fast-check';
import * as dnsPacket from 'dns-packet';
import { learnableAddresses } from '../../src/dns/answer.js';
import { DnsWireError } from '../../src/dns/errors.js';
import { readQuestion, sameQuestion } from '../../src/dns/wire.js';
import { mutate, mutationArb, responseArb } from './helpers/mutate.js';
import { rules, startFixture, type Fixture } from './helpers/fixture.js';
import { tcpQueries, udpQuery } from './helpers/client.js';

const canonicalIp = (ip: string): string => (isIP(ip) === 6 ? new URL(`http://[${ip}]/`).hostname.slice(1, -1) : ip);

interface RawAnswer {
  name: string;
  type: string;
  class: string;
  flush?: boolean;
  data?: unknown;
}
interface DnsPacketInternals {
  question: { decode: ((buf: Buffer, at: number) => unknown) & { bytes: number } };
  answer: { decode: ((buf: Buffer, at: number) => RawAnswer) & { bytes: number } };
  name: { decode: ((buf: Buffer, at: number) => string) & { bytes: number } };
}
const dp = createRequire(import.meta.url)('dns-packet') as DnsPacketInternals;

/**
 * Independent decoding with dns-packet's record decoders: every record must be well-formed, and
 * IN-class A/AAAA/CNAME rdata must decode; the rdata of other types is opaque here (as for the proxy),
 * since no decoder knows every type. Undefined when the message does not parse.
 */
function decodeAnswers(buf: Buffer): RawAnswer[] | undefined {
  try {
    if (buf.length < 12) return undefined;
    let at = 12;
    for (let i = 0; i < buf.readUInt16BE(4); i++) {
      dp.question.decode(buf, at);
      at += dp.question.decode.bytes;
    }
    const an = buf.readUInt16BE(6);
    const total = an + buf.readUInt16BE(8) + buf.readUInt16BE(10);
    const out: RawAnswer[] = [];
    for (let i = 0; i < total; i++) {
      dp.name.decode(buf, at);
      const fixed = at + dp.name.decode.bytes;
      if (fixed + 10 > buf.length) return undefined;
      const type = buf.readUInt16BE(fixed);
      const end = fixed + 10 + buf.readUInt16BE(fixed + 8);
      if (end > buf.length) return undefined;
      // Like the proxy, only IN-class A/AAAA/CNAME rdata means anything here.
      if ((type === 1 || type === 28 || type === 5) && buf.readUInt16BE(fixed + 2) === 1) {
        const a = dp.answer.decode(buf, at);
        if (at + dp.answer.decode.bytes !== end) return undefined;
        if (i < an) out.push(a);
      }
      at = end;
    }
    return out;
  } catch {
    return undefined;
  }
}

/** Addresses reachable from qname through CNAMEs, per dns-packet; undefined if the message does not parse or its CNAME chain is invalid (nothing may be learned). */
function oracle(msg: Buffer, qname: string): Set<string> | undefined {
  const decoded = decodeAnswers(msg);
  if (decoded === undefined) return undefined;
  // dns-packet strips mDNS's cache-flush bit from the class; in unicast DNS 0x8001 is not IN.
  const answers = decoded.filter((a) => a.class === 'IN' && a.flush !== true);
  const cname = new Map<string, string>();
  for (const a of answers) {
    if (a.type !== 'CNAME' || typeof a.data !== 'string') continue;
    const seen = cname.get(a.name.toLowerCase());
    // Two targets for one name: invalid, nothing learned (answer.ts).
    if (seen !== undefined && seen !== a.data.toLowerCase()) return undefined;
    cname.set(a.name.toLowerCase(), a.data.toLowerCase());
  }
  const chain = new Set([qname.toLowerCase()]);
  let cur = qname.toLowerCase();
  for (let i = 0; ; i++) {
    const next = cname.get(cur);
    if (next === undefined) break;
    // A loop or more than 16 hops: invalid.
    if (chain.has(next) || i === 16) return undefined;
    chain.add(next);
    cur = next;
  }
  const out = new Set<string>();
  for (const a of answers) {
    if ((a.type === 'A' || a.type === 'AAAA') && typeof a.data === 'string' && chain.has(a.name.toLowerCase())) out.add(canonicalIp(a.data));
  }
  return out;
}

const hostnameOnly = (msg: Buffer): boolean => {
  try {
    const d = dnsPacket.decode(msg);
    return [...(d.questions ?? []), ...(d.answers ?? [])].every((r) => /^[a-zA-Z0-9.-]*$/.test(r.name));
  } catch {
    return false;
  }
};

describe('parsers on generated input', () => {
  it('readQuestion: 40k mutated queries only ever throw DnsWireError', () => {
    fc.assert(
      fc.property(responseArb, fc.array(mutationArb, { minLength: 1, maxLength: 4 }), ({ query }, muts) => {
        const bad = mutate(query, muts);
        try {
          const q = readQuestion(bad);
          expect(q.end).toBeLessThanOrEqual(bad.length);
          expect(q.name.length).toBeLessThan(1100);
        } catch (err) {
          expect(err).toBeInstanceOf(DnsWireError);
        }
      }),
      { numRuns: 40_000 },
    );
  });

  it('learnableAddresses: 5k valid responses agree exactly with dns-packet (invalid CNAME chains rejected by both)', () => {
    fc.assert(
      fc.property(responseArb, ({ qname, msg }) => {
        const q = readQuestion(msg);
        const want = oracle(msg, qname);
        if (want === undefined) return void expect(() => learnableAddresses(msg, q.end, q.name)).toThrow(DnsWireError);
        const ours = new Set(learnableAddresses(msg, q.end, q.name).map((a) => a.ip));
        expect(ours).toEqual(want);
      }),
      { numRuns: 5_000 },
    );
  });

  it('learnableAddresses: 60k mutated responses never learn what dns-packet does not see', () => {
    let learnedFromMutated = 0;
    fc.assert(
      fc.property(responseArb, fc.array(mutationArb, { minLength: 1, maxLength: 3 }), fc.boolean(), ({ qname, msg, query }, muts, keepQuestion) => {
        const qEnd = readQuestion(query).end;
        const bad = mutate(msg, muts, keepQuestion ? qEnd : 0);
        let got;
        try {
          got = learnableAddresses(bad, qEnd, qname.toLowerCase());
        } catch (err) {
          expect(err).toBeInstanceOf(DnsWireError);
          return;
        }
        for (const a of got) {
          expect(isIP(a.ip)).not.toBe(0);
          expect(a.ttl).toBeGreaterThanOrEqual(0);
          expect(a.ttl).toBeLessThanOrEqual(0x7fffffff);
        }
        if (got.length === 0) return;
        learnedFromMutated++;
        // Only comparable when the question survived and every name is plain hostname text.
        if (sameQuestion(query, readQuestion(query), bad) && hostnameOnly(bad)) {
          const expected = oracle(bad, qname);
          expect(expected, 'dns-packet rejects (or the chain is invalid in) a message we learned from').toBeDefined();
          expect(new Set(got.map((a) => a.ip))).toEqual(expected);
        }
      }),
      { numRuns: 60_000 },
    );
    expect(learnedFromMutated).toBeGreaterThan(1000);
  });
});

describe('a running proxy under mutated traffic', () => {
  let f: Fixture;
  let fuzzUpstream: Socket;
  const taught = new Map<string, Set<string>>();
  let upstreamCount = 0;
  const unhandled: unknown[] = [];
  const onUnhandled = (e: unknown): void => void unhandled.push(e);

  beforeAll(async () => {
    process.on('unhandledRejection', onUnhandled);
    // An upstream that answers every query with a mutated version of a plausible answer.
    const samples = fc.sample(fc.tuple(responseArb, fc.array(mutationArb, { minLength: 0, maxLength: 3 }), fc.boolean()), { numRuns: 4000, seed: 42 });
    fuzzUpstream = createSocket('udp4');
    fuzzUpstream.on('message', (msg, rinfo) => {
      let d: dnsPacket.DecodedPacket;
      try {
        d = dnsPacket.decode(msg);
      } catch {
        return;
      }
      const q = d.questions?.[0];
      if (q === undefined) return;
      const [{ msg: template }, muts, keepQuestion] = samples[upstreamCount++ % samples.length]!;
      const t = dnsPacket.decode(template);
      const answers = (t.answers ?? []).map((a, i) => (i === 0 ? { ...a, name: q.name } : a));
      const genuine = dnsPacket.encode({ id: d.id, type: 'response', flags: dnsPacket.RECURSION_AVAILABLE, questions: [q], answers });
      const qEnd = readQuestion(msg).end;
      const sent = mutate(genuine, muts, keepQuestion ? qEnd : 2);
      const o = oracle(sent, q.name);
      if (o !== undefined) {
        const key = readQuestion(msg).name;
        const set = taught.get(key) ?? new Set<string>();
        for (const ip of o) set.add(ip);
        taught.set(key, set);
      }
      fuzzUpstream.send(sent, rinfo.port, rinfo.address);
    });
    await new Promise<void>((r) => fuzzUpstream.bind(0, '127.0.0.1', () => r()));
    // config.upstreams overrides the fixture's own (idle) TestUpstream.
    f = await startFixture({ upstreams: [`127.0.0.1:${fuzzUpstream.address().port}`], upstreamTimeoutMs: 200, upstreamAttempts: 1, maxInflightPerClient: 20_000 });
    f.view.setPod(['127.0.0.1'], { pod: 'ns/fuzz', domainRules: rules('*.example.test'), egressIsolated: true });
  });
  afterAll(async () => {
    process.off('unhandledRejection', onUnhandled);
    await f?.close();
    fuzzUpstream?.close();
  });

  it('20k mutated UDP queries and their mutated answers: no crash, still serving, nothing learned from invalid data', async () => {
    const queries = fc.sample(fc.tuple(responseArb, fc.array(mutationArb, { minLength: 0, maxLength: 3 })), { numRuns: 20_000, seed: 7 });
    const client = createSocket('udp4');
    let replies = 0;
    client.on('message', () => replies++);
    await new Promise<void>((r) => client.bind(0, '127.0.0.1', () => r()));
    for (let i = 0; i < queries.length; i += 250) {
      for (const [{ query }, muts] of queries.slice(i, i + 250)) client.send(mutate(query, muts), f.port, '127.0.0.1');
      await new Promise((r) => setTimeout(r, 25));
    }
    // Everything in flight drains (answers, SERVFAIL after the upstream timeout, or drops).
    for (let i = 0; i < 200 && f.proxy.inFlight > 0; i++) await new Promise((r) => setTimeout(r, 50));
    client.close();
    expect(replies).toBeGreaterThan(5000);
    expect(upstreamCount).toBeGreaterThan(5000);

    // Every learned (name, ip) was in a well-formed answer for that name.
    let learned = 0;
    for (const rec of f.datapath.learnLog) {
      for (const e of rec.entries) {
        learned++;
        expect(taught.get(e.name)?.has(e.ip), `${e.name} -> ${e.ip}`).toBe(true);
      }
    }
    expect(learned).toBeGreaterThan(100);
    expect(unhandled).toEqual([]);
    expect(f.proxy.inFlight).toBe(0);
    // Still serving: a well-formed query gets a reply (its answer is as mutated as any other).
    const ok = await udpQuery(f.port, dnsPacket.encode({ id: 9, type: 'query', questions: [{ name: 'alive.example.test', type: 'A', class: 'IN' }] }));
    expect(ok?.readUInt16BE(0)).toBe(9);
  }, 120_000);

  it('2k TCP streams of mutated framed queries: no crash, other clients still served', async () => {
    const streams = fc.sample(
      fc.array(fc.tuple(responseArb, fc.array(mutationArb, { maxLength: 3 })), { minLength: 1, maxLength: 5 }),
      { numRuns: 2000, seed: 11 },
    );
    let total = 0;
    for (let i = 0; i < streams.length; i += 50) {
      await Promise.all(
        streams.slice(i, i + 50).map((s) => {
          total += s.length;
          return tcpQueries(f.port, s.map(([{ query }, muts]) => mutate(query, muts)), s.length, 400);
        }),
      );
    }
    expect(total).toBeGreaterThan(4000);
    expect(unhandled).toEqual([]);
    const ok = await udpQuery(f.port, dnsPacket.encode({ id: 10, type: 'query', questions: [{ name: 'alive.example.test', type: 'A', class: 'IN' }] }));
    expect(ok?.readUInt16BE(0)).toBe(10);
  }, 120_000);
});
