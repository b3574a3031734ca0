// Forwarding behaviour with real clients (dig, raw UDP/TCP) against a real upstream on loopback.
import { afterEach, describe, expect, it } from 'vitest';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import * as dnsPacket from 'dns-packet';
import { dig, tcpQueries, udpQuery } from './helpers/client.js';
import { startFixture, type Fixture } from './helpers/fixture.js';
import { TestUpstream } from './helpers/test-upstream.js';

const fixtures: Fixture[] = [];
async function fixture(...args: Parameters<typeof startFixture>): Promise<Fixture> {
  const f = await startFixture(...args);
  fixtures.push(f);
  return f;
}
afterEach(async () => {
  for (const f of fixtures.splice(0)) await f.close();
});

const query = (name: string, type: dnsPacket.RecordType = 'A', id = 4242, edns?: number): Buffer =>
  dnsPacket.encode({
    id,
    type: 'query',
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ name, type, class: 'IN' }],
    additionals: edns === undefined ? [] : [{ type: 'OPT', name: '.', udpPayloadSize: edns, flags: 0, options: [] } as unknown as dnsPacket.Answer],
  });

/** Response bytes must equal what the upstream sent, apart from the two ID bytes. */
function expectVerbatim(reply: Buffer, sent: Buffer, clientId: number): void {
  expect(reply.readUInt16BE(0)).toBe(clientId);
  expect(reply.subarray(2).equals(sent.subarray(2))).toBe(true);
}

describe('UDP and TCP forwarding with dig', () => {
  it.each([
    ['udp', []],
    ['tcp', ['+tcp']],
    ['udp edns 512', ['+bufsize=512']],
    ['udp no edns', ['+noedns']],
    ['udp edns 4096', ['+bufsize=4096']],
  ])('%s: answers A and AAAA', async (_label, extra) => {
    const f = await fixture();
    f.upstream.set('www.example.test', { a: ['192.0.2.10', '192.0.2.11'], aaaa: ['2001:db8::10'] });
    const [a] = await dig(f.port, [...extra, 'www.example.test', 'A']);
    expect(a!.status).toBe('NOERROR');
    expect(a!.answers.map((r) => r.data).sort()).toEqual(['192.0.2.10', '192.0.2.11']);
    const [aaaa] = await dig(f.port, [...extra, 'www.example.test', 'AAAA']);
    expect(aaaa!.answers.map((r) => r.data)).toEqual(['2001:db8::10']);
  });

  it.each(['WWW.Example.TEST', 'wWw.eXaMpLe.TeSt', 'www.EXAMPLE.test'])('preserves 0x20 case %s over UDP and TCP', async (name) => {
    const f = await fixture();
    f.upstream.set('www.example.test', { a: ['192.0.2.10'] });
    for (const extra of [[], ['+tcp']]) {
      const [r] = await dig(f.port, [...extra, name, 'A']);
      expect(r!.status).toBe('NOERROR');
      expect(r!.stdout).toContain(`;${name}.`);
      expect(r!.answers[0]!.name).toBe(`${name}.`);
    }
  });

  it('large answers: UDP gets TC from the upstream, dig retries over TCP which goes TCP upstream', async () => {
    const f = await fixture();
    const many = Array.from({ length: 200 }, (_, i) => `10.1.${i >> 8}.${i & 255}`);
    f.upstream.set('big.example.test', { a: many });
    for (const size of ['+bufsize=512', '+bufsize=1232', '+noedns']) {
      const [r] = await dig(f.port, [size, 'big.example.test', 'A']);
      expect(r!.answers).toHaveLength(200);
    }
    const transports = f.upstream.received.filter((q) => q.name === 'big.example.test').map((q) => q.transport);
    expect(transports.filter((t) => t === 'udp')).toHaveLength(3);
    expect(transports.filter((t) => t === 'tcp')).toHaveLength(3);
    // Without dig's retry the TC answer itself reaches the client unchanged.
    const reply = await udpQuery(f.port, query('big.example.test', 'A', 77));
    expect(dnsPacket.decode(reply!).flag_tc).toBe(true);
    expectVerbatim(reply!, f.upstream.sent.at(-1)!.raw, 77);
  });

  it('dig +tcp +keepopen sends several queries on one connection', async () => {
    const f = await fixture();
    for (const n of ['a', 'b', 'c', 'd']) f.upstream.set(`${n}.example.test`, { a: [`192.0.2.${n.charCodeAt(0)}`] });
    const rs = await dig(f.port, ['+tcp', '+keepopen', 'a.example.test', 'b.example.test', 'c.example.test', 'd.example.test']);
    expect(rs.map((r) => r.answers[0]?.data)).toEqual(['192.0.2.97', '192.0.2.98', '192.0.2.99', '192.0.2.100']);
  });

  it('IPv6 listener on ::1 forwards to an IPv6 upstream', async () => {
    const up = await new TestUpstream().start('::1');
    up.set('six.example.test', { aaaa: ['2001:db8::6'] });
    const f = await fixture({ listen: [{ host: '::1', port: 0 }] }, [up]);
    const [r] = await dig(f.port, ['six.example.test', 'AAAA'], '::1');
    expect(r!.answers[0]!.data).toBe('2001:db8::6');
    const [t] = await dig(f.port, ['+tcp', 'six.example.test', 'AAAA'], '::1');
    expect(t!.answers[0]!.data).toBe('2001:db8::6');
  });
});

describe('answers are verbatim apart from the ID', () => {
  it.each([
    ['NOERROR with EDNS', 'ok.example.test', { a: ['192.0.2.1'] }, 1232],
    ['NXDOMAIN', 'nx.example.test', { rcode: 'NXDOMAIN' as const }, 1232],
    ['SERVFAIL', 'sf.example.test', { rcode: 'SERVFAIL' as const }, undefined],
    ['NODATA', 'nodata.example.test', { a: [] }, undefined],
    ['CNAME chain', 'alias.example.test', { cname: 'ok.example.test' }, 4096],
  ])('%s', async (_label, name, rule, edns) => {
    const f = await fixture();
    f.upstream.set('ok.example.test', { a: ['192.0.2.1'] });
    f.upstream.set(name, rule);
    for (const id of [1, 0xbeef]) {
      const q = query(name, 'A', id, edns);
      const reply = await udpQuery(f.port, Buffer.from(q));
      expectVerbatim(reply!, f.upstream.sent.at(-1)!.raw, id);
      const [tcpReply] = await tcpQueries(f.port, [Buffer.from(q)]);
      expectVerbatim(tcpReply!, f.upstream.sent.at(-1)!.raw, id);
      // The query reached the upstream unchanged apart from its ID, too.
      expect(f.upstream.received.at(-1)!.raw.subarray(2).equals(q.subarray(2))).toBe(true);
    }
  });
});

describe('RFC 5452: IDs and ports', () => {
  it('upstream IDs are random and unrelated to client IDs; source ports vary', async () => {
    const f = await fixture({ udpSockets: 8, udpMaxUsesPerSocket: 20 });
    f.upstream.set('r.example.test', { a: ['192.0.2.1'] });
    for (let i = 0; i < 300; i++) await udpQuery(f.port, query('r.example.test', 'A', 1000));
    const got = f.upstream.received.filter((r) => r.transport === 'udp');
    expect(got).toHaveLength(300);
    const ids = new Set(got.map((r) => r.id));
    expect(ids.size).toBeGreaterThan(290); // 300 draws from 65536: collisions are rare
    expect(got.filter((r) => r.id === 1000).length).toBeLessThan(3);
    const steps = got.slice(1).filter((r, i) => r.id === got[i]!.id + 1).length;
    expect(steps).toBeLessThan(3);
    // 8 sockets replaced every 20 queries: 300 queries use many distinct ports.
    expect(new Set(got.map((r) => r.port)).size).toBeGreaterThan(15);
  });

  // Forgeries from another source port and case variants of the question: spoof-forgery.test.ts.
  it.each(['id', 'question'] as const)('a forged answer with the wrong %s is dropped and counted', async (spoof) => {
    const f = await fixture();
    f.upstream.set('target.example.test', { a: ['192.0.2.50'], spoof, spoofA: ['6.6.6.6'] });
    const reply = await udpQuery(f.port, query('target.example.test', 'A', 5));
    const decoded = dnsPacket.decode(reply!);
    expect(decoded.answers?.map((a) => (a as { data?: unknown }).data)).toEqual(['192.0.2.50']);
    const drops = await f.proxy.metrics.spoofDrops.get();
    const reason = { id: 'unknown_id', question: 'wrong_question' }[spoof];
    expect(drops.values.find((v) => v.labels.reason === reason)?.value).toBe(1);
    expect(f.logs.some((l) => l.event === 'spoof_drop')).toBe(true);
  });
});

describe('TCP', () => {
  it('pipelined queries in one write are answered as they complete, out of order', async () => {
    const f = await fixture();
    f.upstream.set('slow.example.test', { a: ['192.0.2.1'], delayMs: 300 });
    for (const n of ['f1', 'f2', 'f3']) f.upstream.set(`${n}.example.test`, { a: ['192.0.2.2'] });
    const msgs = [query('slow.example.test', 'A', 1), query('f1.example.test', 'A', 2), query('f2.example.test', 'A', 3), query('f3.example.test', 'A', 4)];
    const replies = await tcpQueries(f.port, msgs);
    const ids = replies.map((r) => r.readUInt16BE(0));
    expect(ids.slice(0, 3).sort()).toEqual([2, 3, 4]);
    expect(ids[3]).toBe(1);
  });

  it('each reply arrives with its length prefix in the same segment', async () => {
    const f = await fixture();
    f.upstream.set('p.example.test', { a: ['192.0.2.1'] });
    const chunks: Buffer[] = await new Promise((resolve) => {
      const got: Buffer[] = [];
      const s = connect(f.port, '127.0.0.1', () => {
        const q = query('p.example.test');
        s.write(Buffer.concat([Buffer.from([0, q.length]), q]));
      });
      s.on('data', (c) => {
        got.push(c);
        s.destroy();
        resolve(got);
      });
    });
    expect(chunks[0]!.readUInt16BE(0)).toBe(chunks[0]!.length - 2);
  });

  it('a ~64 KB answer goes through TCP intact', async () => {
    const f = await fixture();
    // dns-packet does not compress names: 22 bytes per record for `h.test`.
    const many = Array.from({ length: 2900 }, (_, i) => `10.2.${i >> 8}.${i & 255}`);
    f.upstream.set('h.test', { a: many });
    const [reply] = await tcpQueries(f.port, [query('h.test', 'A', 9)]);
    expect(reply!.length).toBeGreaterThan(63_000);
    expect(dnsPacket.decode(reply!).answers).toHaveLength(2900);
  });

  it('a client that sends half a frame does not stall others, and idle connections close', async () => {
    const f = await fixture({ tcpIdleMs: 200 });
    f.upstream.set('p.example.test', { a: ['192.0.2.1'] });
    const stuck = connect(f.port, '127.0.0.1');
    await new Promise((r) => stuck.once('connect', r));
    const closed = new Promise<number>((resolve) => stuck.once('close', () => resolve(Date.now())));
    stuck.on('error', () => {});
    const wroteAt = Date.now();
    stuck.write(Buffer.from([0x00, 0x40, 0x12]));
    const [r] = await dig(f.port, ['+tcp', 'p.example.test']);
    expect(r!.status).toBe('NOERROR');
    // The proxy closes it (this side never does) on its timer: not at once, and well before the
    // test would give up waiting.
    const closedAt = await Promise.race([closed, new Promise<number>((resolve) => setTimeout(() => resolve(-1), 3000))]);
    expect(closedAt, 'the proxy never closed the stalled connection').not.toBe(-1);
    expect(closedAt - wroteAt).toBeGreaterThanOrEqual(150);
    expect(closedAt - wroteAt).toBeLessThan(2000);
  });

  it('connections beyond the per-client limit are closed', async () => {
    const f = await fixture({ tcpMaxConnectionsPerClient: 2 });
    const socks = [0, 1, 2].map(() => connect(f.port, '127.0.0.1'));
    const closed = await Promise.all(
      socks.map((s) => new Promise<boolean>((resolve) => {
        s.on('close', () => resolve(true));
        s.on('error', () => {});
        setTimeout(() => resolve(false), 300);
      })),
    );
    expect(closed.filter(Boolean)).toHaveLength(1);
    for (const s of socks) s.destroy();
  });
});

describe('failures and limits', () => {
  it('fails over from a dead upstream to a live one', async () => {
    const dead = await new TestUpstream().start();
    dead.dead = true;
    const live = await new TestUpstream().start();
    live.set('fo.example.test', { a: ['192.0.2.7'] });
    const f = await fixture({ upstreamTimeoutMs: 200 }, [dead, live]);
    for (const extra of [[], ['+tcp']]) {
      const [r] = await dig(f.port, [...extra, 'fo.example.test']);
      expect(r!.answers[0]!.data).toBe('192.0.2.7');
    }
    expect(dead.received.length).toBeGreaterThan(0);
  });

  it.each([
    ['dead', { drop: true }],
    ['too slow', { a: ['192.0.2.1'], delayMs: 1500 }],
  ])('%s upstream: the client gets SERVFAIL after the retries', async (_l, rule) => {
    const f = await fixture({ upstreamTimeoutMs: 150, upstreamAttempts: 2 });
    f.upstream.set('x.example.test', rule);
    const started = Date.now();
    const reply = await udpQuery(f.port, query('x.example.test', 'A', 31));
    expect(Date.now() - started).toBeLessThan(1000);
    const d = dnsPacket.decode(reply!);
    expect(d.id).toBe(31);
    expect(d.flags! & 0xf).toBe(2);
    expect(d.questions?.[0]?.name).toBe('x.example.test');
    expect(f.upstream.received).toHaveLength(2);
  });

  it('an upstream port that is closed fails over at once (ICMP on the connected socket), not after the timeout', async () => {
    const probe = createSocket('udp4');
    await new Promise<void>((r) => probe.bind(0, '127.0.0.1', () => r()));
    const closedPort = probe.address().port;
    probe.close();
    const live = await new TestUpstream().start();
    live.set('icmp.example.test', { a: ['192.0.2.8'] });
    const f = await fixture({ upstreamTimeoutMs: 2000, upstreams: [`127.0.0.1:${closedPort}`, live.address] }, [live]);
    const started = Date.now();
    const reply = await udpQuery(f.port, query('icmp.example.test', 'A', 3));
    expect(Date.now() - started).toBeLessThan(1000);
    expect((dnsPacket.decode(reply!).answers?.[0] as { data?: string }).data).toBe('192.0.2.8');
  });

  it.each([
    ['EDNS with DO', 1232, true],
    ['EDNS', 4096, false],
    ['no EDNS', undefined, false],
  ])('SERVFAIL to a query with %s answers EDNS with EDNS', async (_l, edns, dnssecOk) => {
    const f = await fixture({ upstreamTimeoutMs: 100, upstreamAttempts: 1 });
    f.upstream.set('dead.example.test', { drop: true });
    const q = dnsPacket.encode({
      id: 12,
      type: 'query',
      flags: dnsPacket.RECURSION_DESIRED,
      questions: [{ name: 'dead.example.test', type: 'A', class: 'IN' }],
      additionals:
        edns === undefined ? [] : [{ type: 'OPT', name: '.', udpPayloadSize: edns, flags: dnssecOk ? dnsPacket.DNSSEC_OK : 0, options: [] } as unknown as dnsPacket.Answer],
    });
    const reply = await udpQuery(f.port, q);
    const d = dnsPacket.decode(reply!);
    expect(d.flags! & 0xf).toBe(2);
    const opt = d.additionals?.find((a) => a.type === 'OPT') as { udpPayloadSize?: number; flags?: number } | undefined;
    if (edns === undefined) {
      expect(opt).toBeUndefined();
    } else {
      expect(opt?.udpPayloadSize).toBe(1232);
      expect(((opt?.flags ?? 0) & dnsPacket.DNSSEC_OK) !== 0).toBe(dnssecOk);
    }
    if (edns !== undefined) {
      const [r] = await dig(f.port, [`+bufsize=${edns}`, 'dead.example.test']);
      expect(r!.status).toBe('SERVFAIL');
      expect(r!.stdout).toContain('OPT PSEUDOSECTION');
    }
  });

  it('a slow upstream within the timeout is waited for', async () => {
    const f = await fixture({ upstreamTimeoutMs: 500 });
    f.upstream.set('s.example.test', { a: ['192.0.2.1'], delayMs: 200 });
    const [r] = await dig(f.port, ['s.example.test']);
    expect(r!.answers[0]!.data).toBe('192.0.2.1');
  });

  it('the per-client in-flight limit drops UDP queries beyond it', async () => {
    const f = await fixture({ maxInflightPerClient: 5 });
    f.upstream.set('s.example.test', { a: ['192.0.2.1'], delayMs: 200 });
    const replies = await Promise.all(Array.from({ length: 10 }, (_, i) => udpQuery(f.port, query('s.example.test', 'A', i), 1000)));
    expect(replies.filter((r) => r !== undefined)).toHaveLength(5);
    const m = await f.proxy.metrics.queries.get();
    expect(m.values.find((v) => v.labels.result === 'dropped_limit')?.value).toBe(5);
  });

  it.each([
    ['no question', 'FORMERR', (q: Buffer) => Buffer.concat([q.subarray(0, 4), Buffer.from([0, 0]), q.subarray(6, 12)])],
    ['two questions', 'FORMERR', (q: Buffer) => Buffer.concat([q.subarray(0, 4), Buffer.from([0, 2]), q.subarray(6)])],
    ['truncated name', 'FORMERR', (q: Buffer) => q.subarray(0, 16)],
    ['no qtype', 'FORMERR', (q: Buffer) => q.subarray(0, q.length - 3)],
    ['compression pointer', 'FORMERR', (q: Buffer) => Buffer.concat([q.subarray(0, 12), Buffer.from([0xc0, 0x0c, 0, 1, 0, 1])])],
    ['NOTIFY opcode', 'NOTIMP', (q: Buffer) => Buffer.concat([q.subarray(0, 2), Buffer.from([q[2]! | 0x20, q[3]!]), q.subarray(4)])],
  ])('%s -> %s with the client ID', async (_l, rcode, mutate) => {
    const f = await fixture();
    const bad = mutate(query('m.example.test', 'A', 0x1234));
    const reply = await udpQuery(f.port, Buffer.from(bad));
    expect(reply!.readUInt16BE(0)).toBe(0x1234);
    expect(reply![2]! & 0x80).toBe(0x80);
    expect(reply![3]! & 0x0f).toBe(rcode === 'FORMERR' ? 1 : 4);
    const [tcp] = await tcpQueries(f.port, [Buffer.from(bad)]);
    expect(tcp!.readUInt16BE(0)).toBe(0x1234);
    expect(f.upstream.received).toHaveLength(0);
  });

  it.each([
    ['shorter than a header', Buffer.from([1, 2, 3])],
    ['a response', Buffer.from(dnsPacket.encode({ id: 5, type: 'response', questions: [{ name: 'a.b', type: 'A', class: 'IN' }] }))],
  ])('%s gets no reply at all', async (_l, msg) => {
    const f = await fixture();
    expect(await udpQuery(f.port, msg, 300)).toBeUndefined();
  });
});
