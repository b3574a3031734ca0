// UDP replies never exceed the size the client announced (512 without EDNS, else its OPT size):
// a larger one goes out as header + question (+ OPT) with TC, and the client retries over TCP.
import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as dnsPacket from 'dns-packet';
import type { Answer } from 'dns-packet';
import { dig, udpQuery } from './helpers/client.js';
import { startFixture, type Fixture } from './helpers/fixture.js';
import { clientUdpSize, readQuestion, truncateReply } from '../../src/dns/wire.js';

interface OptSpec {
  udpPayloadSize: number;
  flags?: number;
  extendedRcode?: number;
  options?: { code: number; data: Buffer }[];
}
const opt = (o: OptSpec): Answer => ({ type: 'OPT', name: '.', ...o }) as unknown as Answer;

const query = (name: string, edns?: number): Buffer =>
  dnsPacket.encode({
    id: 99,
    type: 'query',
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ name, type: 'A', class: 'IN' }],
    additionals: edns === undefined ? [] : [opt({ udpPayloadSize: edns })],
  });

const addresses = (n: number): string[] => Array.from({ length: n }, (_, i) => `198.51.${i >> 8}.${i & 0xff}`);

describe('clientUdpSize', () => {
  it.each([
    ['no OPT', query('a.test'), 512],
    ['OPT 4096', query('a.test', 4096), 4096],
    ['OPT 1232', query('a.test', 1232), 1232],
    ['OPT below 512', query('a.test', 100), 512],
    // dns-packet writes 0 as 4096: patch the size field of the 11-byte OPT at the end.
    ['OPT 0', ((b: Buffer) => (b.writeUInt16BE(0, b.length - 8), b))(query('a.test', 1000)), 512],
    ['an unreadable question', Buffer.from([0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 1, 9, 1]), 512],
  ])('%s', (_l, msg, size) => expect(clientUdpSize(msg)).toBe(size));
});

describe('truncateReply', () => {
  const replyArb = fc.record({
    name: fc.stringMatching(/^[a-zA-Z0-9]{1,40}(\.[a-zA-Z0-9]{1,40}){0,4}$/),
    count: fc.integer({ min: 0, max: 120 }),
    rcode: fc.integer({ min: 0, max: 5 }),
    opt: fc.option(
      fc.record({
        udpPayloadSize: fc.integer({ min: 1, max: 0xffff }),
        flags: fc.constantFrom(0, dnsPacket.DNSSEC_OK),
        extendedRcode: fc.nat(255),
        options: fc.array(fc.record({ code: fc.integer({ min: 100, max: 200 }), data: fc.uint8Array({ maxLength: 400 }).map((a) => Buffer.from(a)) }), { maxLength: 3 }),
      }),
      { nil: undefined },
    ),
    limit: fc.integer({ min: 512, max: 4096 }),
  });

  it('keeps ID, flags, question and OPT, sets TC, drops every record, fits the limit', () =>
    fc.assert(
      fc.property(replyArb, ({ name, count, rcode, opt: o, limit }) => {
        const reply = dnsPacket.encode({
          id: 4321,
          type: 'response',
          flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE | rcode,
          questions: [{ name, type: 'A', class: 'IN' }],
          answers: addresses(count).map((data) => ({ name, type: 'A', class: 'IN', ttl: 60, data }) as Answer),
          authorities: [{ name, type: 'NS', class: 'IN', ttl: 60, data: 'ns.example.test' } as Answer],
          additionals: o === undefined ? [] : [opt(o)],
        });
        const out = truncateReply(reply, limit);
        expect(out.length).toBeLessThanOrEqual(limit);
        const d = dnsPacket.decode(out);
        expect(d.id).toBe(4321);
        expect(d.flag_tc).toBe(true);
        expect(d.flags! & 0x7fff & ~dnsPacket.TRUNCATED_RESPONSE).toBe(dnsPacket.decode(reply).flags! & 0x7fff);
        expect(out.subarray(12, readQuestion(out).end).equals(reply.subarray(12, readQuestion(reply).end))).toBe(true);
        expect(d.answers).toEqual([]);
        expect(d.authorities).toEqual([]);
        if (o === undefined) {
          expect(d.additionals).toEqual([]);
          return;
        }
        expect(d.additionals).toHaveLength(1);
        const got = d.additionals![0] as unknown as OptSpec & { options: { code: number; data: Buffer }[] };
        expect(got.udpPayloadSize).toBe(o.udpPayloadSize);
        expect(got.flags).toBe(o.flags);
        expect(got.extendedRcode).toBe(o.extendedRcode);
        // Options travel when they fit, else the OPT goes without them.
        const optionBytes = o.options.reduce((n, x) => n + 4 + x.data.length, 0);
        const fits = readQuestion(reply).end + 11 + optionBytes <= limit;
        expect(got.options.map((x) => [x.code, Buffer.from(x.data).toString('hex')])).toEqual(fits ? o.options.map((x) => [x.code, x.data.toString('hex')]) : []);
      }),
      { numRuns: 2000 },
    ));

  it('a reply whose question cannot be read keeps its header only, with TC', () => {
    const bad = Buffer.concat([Buffer.from([0, 7, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12]), Buffer.alloc(600)]);
    const out = truncateReply(bad, 512);
    expect(out).toHaveLength(12);
    expect(out[2]! & 0x02).toBe(0x02);
    expect(out.readUInt16BE(4)).toBe(0);
  });
});

describe('a UDP client gets at most its own size from the proxy', () => {
  const fixtures: Fixture[] = [];
  afterEach(async () => {
    for (const f of fixtures.splice(0)) await f.close();
  });
  // 80 A records: about 1.3 KB, over 512 and 1232, under 4096. The upstream sends it whole over
  // UDP whatever the client said (as some servers and middleboxes do).
  async function bigAnswer(): Promise<Fixture> {
    const f = await startFixture();
    fixtures.push(f);
    f.upstream.set('big.example.test', { a: addresses(80), ignoreUdpSize: true });
    return f;
  }

  it.each([
    ['no EDNS', ['+noedns'], false],
    ['EDNS 512', ['+bufsize=512'], true],
    ['EDNS 1232', ['+bufsize=1232'], true],
  ] as const)('%s: dig +ignore sees TC and no records', async (_l, args, withOpt) => {
    const f = await bigAnswer();
    const [r] = await dig(f.port, ['+ignore', ...args, 'big.example.test', 'A']);
    expect(r!.flags).toContain('tc');
    expect(r!.status).toBe('NOERROR');
    expect(r!.answers).toEqual([]);
    expect(r!.stdout.includes('OPT PSEUDOSECTION')).toBe(withOpt);
    // The upstream did send the whole answer over UDP: the proxy cut it.
    expect(f.upstream.sent.find((s) => s.transport === 'udp')!.raw.length).toBeGreaterThan(1232);
  });

  it('EDNS 4096: the whole answer, no TC', async () => {
    const f = await bigAnswer();
    const [r] = await dig(f.port, ['+ignore', '+bufsize=4096', 'big.example.test', 'A']);
    expect(r!.flags).not.toContain('tc');
    expect(r!.answers).toHaveLength(80);
  });

  it('no EDNS, raw: the datagram is at most 512 bytes and repeats the question', async () => {
    const f = await bigAnswer();
    const msg = query('BiG.eXaMpLe.TeSt');
    const reply = await udpQuery(f.port, msg);
    expect(reply!.length).toBeLessThanOrEqual(512);
    const d = dnsPacket.decode(reply!);
    expect(d.id).toBe(99);
    expect(d.flag_tc).toBe(true);
    expect(d.questions).toEqual([{ name: 'BiG.eXaMpLe.TeSt', type: 'A', class: 'IN' }]);
  });

  it('dig without +ignore retries over TCP and gets every record', async () => {
    const f = await bigAnswer();
    const results = await dig(f.port, ['+noedns', 'big.example.test', 'A']);
    const last = results.at(-1)!;
    expect(last.flags).not.toContain('tc');
    expect(last.answers).toHaveLength(80);
    expect(f.upstream.received.map((r) => r.transport)).toEqual(['udp', 'tcp']);
  });
});
