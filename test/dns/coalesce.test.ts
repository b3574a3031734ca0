// RFC 5452 section 9.1: identical queries in flight go upstream once per transport; every client
// still gets its own answer (own ID, own question case) and learning stays per client.
import { afterEach, describe, expect, it } from 'vitest';
import { createSocket } from 'node:dgram';
import fc from 'fast-check';
import * as dnsPacket from 'dns-packet';
import { tcpQueries, udpQuery } from './helpers/client.js';
import { rules, startFixture, type Fixture } from './helpers/fixture.js';
import { flipCase } from './helpers/test-upstream.js';

const fixtures: Fixture[] = [];
async function fixture(...args: Parameters<typeof startFixture>): Promise<Fixture> {
  const f = await startFixture(...args);
  fixtures.push(f);
  return f;
}
afterEach(async () => {
  for (const f of fixtures.splice(0)) await f.close();
});

interface Shape {
  type?: dnsPacket.RecordType;
  rd?: boolean;
  cd?: boolean;
  ad?: boolean;
  edns?: number;
  ednsVersion?: number;
  dnssecOk?: boolean;
  /** A COOKIE option (RFC 7873) with this 8-byte client cookie. */
  cookie?: string;
  trailing?: number[];
}

function query(name: string, id: number, s: Shape = {}): Buffer {
  const flags =
    (s.rd === false ? 0 : dnsPacket.RECURSION_DESIRED) | (s.cd === true ? dnsPacket.CHECKING_DISABLED : 0) | (s.ad === true ? dnsPacket.AUTHENTIC_DATA : 0);
  const options = s.cookie === undefined ? [] : [{ code: 10, data: Buffer.from(s.cookie.padEnd(8, '.').slice(0, 8)) }];
  const opt = { type: 'OPT', name: '.', udpPayloadSize: s.edns ?? 1232, ednsVersion: s.ednsVersion ?? 0, flags: s.dnssecOk === true ? dnsPacket.DNSSEC_OK : 0, options };
  const msg = dnsPacket.encode({
    id,
    type: 'query',
    flags,
    questions: [{ name, type: s.type ?? 'A', class: 'IN' }],
    additionals: s.edns === 0 ? [] : [opt as unknown as dnsPacket.Answer],
  });
  return s.trailing === undefined ? msg : Buffer.concat([msg, Buffer.from(s.trailing)]);
}

/** One datagram from a given local source address (127.0.0.0/8 is all local on Linux). */
function udpFrom(src: string, port: number, msg: Buffer): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    const timer = setTimeout(() => {
      s.close();
      resolve(undefined);
    }, 3000);
    s.on('message', (m) => {
      clearTimeout(timer);
      s.close();
      resolve(m);
    });
    s.bind(0, src, () => s.send(msg, port, '127.0.0.1'));
  });
}

/** A different mix of letter cases for client i (0x20 as each stub would randomise it). */
const caseVariant = (name: string, i: number): string =>
  [...name].map((c, k) => (((i >> k % 8) & 1) === 1 ? flipCase(c) : c)).join('');

const upstreamCount = (f: Fixture, transport: 'udp' | 'tcp', name: string): number =>
  f.upstream.received.filter((r) => r.transport === transport && r.name.toLowerCase() === name).length;

describe('identical queries in flight are coalesced', () => {
  it('UDP: 20 clients, one upstream query, each reply with its own ID and question case', async () => {
    const f = await fixture();
    f.upstream.set('same.example.test', { a: ['192.0.2.7', '192.0.2.8'], delayMs: 150 });
    const names = Array.from({ length: 20 }, (_, i) => caseVariant('same.example.test', i));
    const replies = await Promise.all(names.map((n, i) => udpQuery(f.port, query(n, 1000 + i))));
    expect(upstreamCount(f, 'udp', 'same.example.test')).toBe(1);
    const genuine = f.upstream.sent[0]!.raw;
    replies.forEach((r, i) => {
      expect(r).toBeDefined();
      expect(r!.readUInt16BE(0)).toBe(1000 + i);
      const d = dnsPacket.decode(r!);
      expect(d.questions![0]!.name).toBe(names[i]);
      // Apart from ID and the question name's case, the upstream's bytes.
      expect(r!.length).toBe(genuine.length);
      const nameEnd = 12 + names[i]!.length + 2;
      expect(r!.subarray(2, 12).equals(genuine.subarray(2, 12))).toBe(true);
      expect(r!.subarray(nameEnd).equals(genuine.subarray(nameEnd))).toBe(true);
    });
  });

  it('TCP: queries pipelined on one connection and on several go upstream once', async () => {
    const f = await fixture();
    f.upstream.set('same.example.test', { a: ['192.0.2.7'], delayMs: 150 });
    const batches = await Promise.all([
      tcpQueries(f.port, [0, 1, 2, 3].map((i) => query(caseVariant('same.example.test', i), 10 + i))),
      tcpQueries(f.port, [query('SAME.example.test', 20)]),
      tcpQueries(f.port, [query('same.EXAMPLE.test', 21)]),
    ]);
    expect(upstreamCount(f, 'tcp', 'same.example.test')).toBe(1);
    const ids = batches.flat().map((r) => r.readUInt16BE(0));
    expect(ids.sort((a, b) => a - b)).toEqual([10, 11, 12, 13, 20, 21]);
    for (const r of batches.flat()) expect(dnsPacket.decode(r).answers!.map((a) => (a as { data?: unknown }).data)).toEqual(['192.0.2.7']);
  });

  it.each<[string, Shape]>([
    ['another type', { type: 'AAAA' }],
    ['RD clear', { rd: false }],
    ['CD set', { cd: true }],
    ['DO set', { dnssecOk: true }],
    ['no EDNS', { edns: 0 }],
    ['AD set', { ad: true }],
    ['EDNS version 1', { ednsVersion: 1 }],
    ['an EDNS option (a client COOKIE the upstream echoes)', { cookie: 'abcdefgh' }],
    ['bytes after the last record', { trailing: [0, 0, 0] }],
  ])('is not merged with a query differing by %s', async (_l, shape) => {
    const f = await fixture();
    f.upstream.set('same.example.test', { a: ['192.0.2.7'], aaaa: ['2001:db8::7'], delayMs: 150 });
    const [a, b] = await Promise.all([udpQuery(f.port, query('same.example.test', 1)), udpQuery(f.port, query('same.example.test', 2, shape))]);
    expect(a).toBeDefined();
    expect(b).toBeDefined();
    expect(upstreamCount(f, 'udp', 'same.example.test')).toBe(2);
  });

  it('is merged whatever the advertised UDP size (the client cannot multiply its copies that way)', async () => {
    const f = await fixture();
    f.upstream.set('same.example.test', { a: ['192.0.2.7'], delayMs: 150 });
    const replies = await Promise.all([512, 1232, 4096, 1400].map((size, i) => udpQuery(f.port, query('same.example.test', i, { edns: size }))));
    expect(replies.every((r) => r !== undefined)).toBe(true);
    expect(upstreamCount(f, 'udp', 'same.example.test')).toBe(1);
  });

  it('identical queries with the same EDNS option are merged', async () => {
    const f = await fixture();
    f.upstream.set('same.example.test', { a: ['192.0.2.7'], delayMs: 150 });
    const replies = await Promise.all([0, 1, 2].map((i) => udpQuery(f.port, query('same.example.test', i, { cookie: 'samesame', dnssecOk: true }))));
    expect(replies.every((r) => r !== undefined)).toBe(true);
    expect(upstreamCount(f, 'udp', 'same.example.test')).toBe(1);
  });

  it('at most 4 variants of one question are upstream at a time; the others wait, none is refused', async () => {
    const f = await fixture();
    f.upstream.set('same.example.test', { a: ['192.0.2.7'], delayMs: 200 });
    const pending = Array.from({ length: 10 }, (_, i) => udpQuery(f.port, query('same.example.test', i, { cookie: `client${i}` })));
    await new Promise((r) => setTimeout(r, 100));
    expect(upstreamCount(f, 'udp', 'same.example.test')).toBe(4);
    const replies = await Promise.all(pending);
    expect(replies.map((r) => r?.readUInt16BE(0))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(replies.every((r) => (r![3]! & 0xf) === 0)).toBe(true);
    expect(upstreamCount(f, 'udp', 'same.example.test')).toBe(10);
    // Each got the upstream's answer to its own query (its own cookie echoed back).
    replies.forEach((r, i) => {
      const o = dnsPacket.decode(r!).additionals!.find((a) => a.type === 'OPT') as unknown as { options: { code: number; data: Buffer }[] };
      expect(Buffer.from(o.options[0]!.data).toString()).toBe(`client${i}`.padEnd(8, '.').slice(0, 8));
    });
  });

  it('per transport, and only while in flight (no caching)', async () => {
    const f = await fixture();
    f.upstream.set('same.example.test', { a: ['192.0.2.7'], delayMs: 100 });
    await Promise.all([udpQuery(f.port, query('same.example.test', 1)), tcpQueries(f.port, [query('same.example.test', 2)])]);
    expect(upstreamCount(f, 'udp', 'same.example.test')).toBe(1);
    expect(upstreamCount(f, 'tcp', 'same.example.test')).toBe(1);
    await udpQuery(f.port, query('same.example.test', 3));
    expect(upstreamCount(f, 'udp', 'same.example.test')).toBe(2);
  });

  it('a failing upstream: every waiting client gets SERVFAIL after the leader\'s attempts only', async () => {
    const f = await fixture({ upstreamTimeoutMs: 100, upstreamAttempts: 3 });
    f.upstream.set('dead.example.test', { drop: true });
    const replies = await Promise.all([0, 1, 2, 3, 4].map((i) => udpQuery(f.port, query('dead.example.test', 50 + i))));
    for (const [i, r] of replies.entries()) {
      expect(r!.readUInt16BE(0)).toBe(50 + i);
      expect(r![3]! & 0xf).toBe(2);
    }
    expect(upstreamCount(f, 'udp', 'dead.example.test')).toBe(3);
  });

  it('learning stays per client: two pods asking together both learn, through one upstream query', async () => {
    const f = await fixture();
    f.upstream.set('shared.example.test', { a: ['192.0.2.9'], delayMs: 150 });
    f.view.setPod(['127.0.0.2'], { pod: 'ns/a', domainRules: rules('*.example.test'), egressIsolated: false });
    f.view.setPod(['127.0.0.3'], { pod: 'ns/b', domainRules: rules('shared.example.test'), egressIsolated: false });
    f.view.setPod(['127.0.0.4'], { pod: 'ns/c', domainRules: rules('*.other.test'), egressIsolated: false });
    f.datapath.delayLearn(50);
    const replies = await Promise.all(['127.0.0.2', '127.0.0.3', '127.0.0.4'].map((src, i) => udpFrom(src, f.port, query('shared.example.test', 70 + i))));
    expect(replies.map((r) => r?.readUInt16BE(0))).toEqual([70, 71, 72]);
    expect(upstreamCount(f, 'udp', 'shared.example.test')).toBe(1);
    expect(f.datapath.learnedAllowing('ns/a', '192.0.2.9')).toBeDefined();
    expect(f.datapath.learnedAllowing('ns/b', '192.0.2.9')).toBeDefined();
    // A pod with no rule for the name is answered but learns nothing from the shared answer.
    expect(f.datapath.learnedAllowing('ns/c', '192.0.2.9')).toBeUndefined();
  });

  it('generated: any number of copies in any case mix go upstream once, each answered as asked', async () => {
    const f = await fixture();
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 40 }), fc.nat(255), async (copies, caseSeed) => {
        const base = `r${run++}.example.test`;
        f.upstream.set(base, { a: ['192.0.2.1'], delayMs: 60 });
        const names = Array.from({ length: copies }, (_, i) => caseVariant(base, caseSeed + i));
        const replies = await Promise.all(names.map((n, i) => udpQuery(f.port, query(n, i))));
        expect(upstreamCount(f, 'udp', base)).toBe(1);
        replies.forEach((r, i) => {
          expect(r!.readUInt16BE(0)).toBe(i);
          expect(dnsPacket.decode(r!).questions![0]!.name).toBe(names[i]);
        });
      }),
      { numRuns: 25 },
    );
  });
});

describe('outstanding queries per upstream socket', () => {
  it('a full socket sends the query on another one: all sockets fill before anything is refused', async () => {
    const f = await fixture({ udpSockets: 4, udpMaxPendingPerSocket: 2, upstreamAttempts: 1 });
    const names = Array.from({ length: 8 }, (_, i) => `d${i}.example.test`);
    for (const n of names) f.upstream.set(n, { a: ['192.0.2.3'], delayMs: 150 });
    const replies = await Promise.all(names.map((n, i) => udpQuery(f.port, query(n, i))));
    expect(replies.map((r) => r![3]! & 0xf)).toEqual(names.map(() => 0));
    expect(f.upstream.received).toHaveLength(8);
    expect(f.proxy.udpPool.outstanding).toBe(0);
    // One more than all sockets hold is refused without going upstream (then SERVFAIL).
    const over = Array.from({ length: 9 }, (_, i) => `e${i}.example.test`);
    for (const n of over) f.upstream.set(n, { a: ['192.0.2.3'], delayMs: 150 });
    const more = await Promise.all(over.map((n, i) => udpQuery(f.port, query(n, i))));
    expect(more.filter((r) => (r![3]! & 0xf) === 2)).toHaveLength(1);
    expect(f.upstream.received).toHaveLength(16);
  });
});
