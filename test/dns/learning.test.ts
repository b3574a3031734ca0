// Learning through the proxy: what is learned, for whom, with which expiry, and the hold-until-
// programmed contract, exercised with dig and raw clients from distinct loopback source addresses.
import { afterEach, describe, expect, it } from 'vitest';
import * as dnsPacket from 'dns-packet';
import type { DomainRuleRef } from '../../src/datapath/types.js';
import { dig, udpQuery } from './helpers/client.js';
import { rules, startFixture, type Fixture } from './helpers/fixture.js';

const POD_A = { ip: '127.0.0.2', pod: 'ns/pod-a' };
const POD_B = { ip: '127.0.0.3', pod: 'ns/pod-b' };

const fixtures: Fixture[] = [];
async function fixture(config: Parameters<typeof startFixture>[0] = {}, domainRules: DomainRuleRef[] = rules('*.example.test'), egressIsolated = true): Promise<Fixture> {
  const f = await startFixture(config);
  fixtures.push(f);
  f.view.setPod([POD_A.ip], { pod: POD_A.pod, domainRules, egressIsolated });
  f.view.setPod([POD_B.ip], { pod: POD_B.pod, domainRules: rules('*.other.test'), egressIsolated });
  return f;
}
afterEach(async () => {
  for (const f of fixtures.splice(0)) await f.close();
});

const digFrom = (f: Fixture, src: string, ...args: string[]) => dig(f.port, ['-b', src, ...args]);
const query = (name: string, id = 7): Buffer =>
  dnsPacket.encode({ id, type: 'query', flags: dnsPacket.RECURSION_DESIRED, questions: [{ name, type: 'A', class: 'IN' }] });
const rcodeOf = (b: Buffer | undefined): number => (b === undefined ? -1 : b[3]! & 0xf);

describe('what is learned', () => {
  it.each([
    ['ttl within bounds', 300, 300],
    ['ttl below minTTL', 5, 60],
    ['ttl above maxTTL', 200_000, 86_400],
    ['ttl with the top bit set counts as 0', 0x80000001, 60],
  ])('%s: expiry = arrival + clamp(ttl)', async (_l, ttl, expected) => {
    const f = await fixture();
    f.upstream.set('api.example.test', { a: ['192.0.2.1'], aaaa: ['2001:db8::1'], ttl });
    const before = Date.now();
    await digFrom(f, POD_A.ip, 'api.example.test', 'A');
    await digFrom(f, POD_A.ip, 'api.example.test', 'AAAA');
    const after = Date.now();
    for (const ip of ['192.0.2.1', '2001:db8::1']) {
      const e = f.datapath.learnedAllowing(POD_A.pod, ip);
      expect(e, ip).toBeDefined();
      expect(e!.name).toBe('api.example.test');
      expect(e!.rules).toEqual([{ rule: 'test/rule/0', pattern: '*.example.test' }]);
      expect(e!.expiresAt).toBeGreaterThanOrEqual(before + expected * 1000);
      expect(e!.expiresAt).toBeLessThanOrEqual(after + expected * 1000);
    }
  });

  it('follows a CNAME chain in the same response and learns under the query name with the lowest TTL', async () => {
    const f = await fixture();
    f.upstream.set('www.example.test', { cname: 'edge.cdn.test', ttl: 120 });
    f.upstream.set('edge.cdn.test', { cname: 'e1.cdn.test', ttl: 3000 });
    f.upstream.set('e1.cdn.test', { a: ['198.51.100.1', '198.51.100.2'], ttl: 600 });
    const before = Date.now();
    const [r] = await digFrom(f, POD_A.ip, 'WWW.Example.test');
    expect(r!.answers.map((a) => a.type)).toEqual(['CNAME', 'CNAME', 'A', 'A']);
    const learned = f.datapath.learnedOf(POD_A.pod);
    expect(learned.map((e) => e.ip).sort()).toEqual(['198.51.100.1', '198.51.100.2']);
    for (const e of learned) {
      expect(e.name).toBe('www.example.test');
      expect(e.expiresAt - before).toBeGreaterThanOrEqual(120_000);
      expect(e.expiresAt - before).toBeLessThan(125_000);
    }
  });

  it('addresses not reached from the query name are not learned', async () => {
    const f = await fixture();
    // The upstream's raw answer carries an unrelated A record next to the real one.
    const extra = dnsPacket.encode({
      id: 0,
      type: 'response',
      questions: [{ name: 'mix.example.test', type: 'A', class: 'IN' }],
      answers: [
        { name: 'mix.example.test', type: 'A', class: 'IN', ttl: 300, data: '192.0.2.5' },
        { name: 'evil.test', type: 'A', class: 'IN', ttl: 300, data: '203.0.113.66' },
      ],
    });
    f.upstream.set('mix.example.test', { raw: () => extra });
    await digFrom(f, POD_A.ip, 'mix.example.test');
    expect(f.datapath.learnedOf(POD_A.pod).map((e) => e.ip)).toEqual(['192.0.2.5']);
  });

  it.each([
    ['NXDOMAIN', { rcode: 'NXDOMAIN' as const }, 'NXDOMAIN'],
    ['SERVFAIL', { rcode: 'SERVFAIL' as const }, 'SERVFAIL'],
    ['NODATA', { a: [] }, 'NOERROR'],
    ['CNAME to a name without addresses', { cname: 'nowhere.test' }, 'NOERROR'],
  ])('%s passes through and learns nothing', async (_l, rule, status) => {
    const f = await fixture();
    f.upstream.set('neg.example.test', rule);
    const [r] = await digFrom(f, POD_A.ip, 'neg.example.test');
    expect(r!.status).toBe(status);
    expect(f.datapath.learnLog).toHaveLength(0);
  });

  it('a truncated UDP answer without records teaches nothing; the TCP retry does', async () => {
    const f = await fixture();
    f.upstream.set('tc.example.test', { a: ['192.0.2.9'], truncateUdp: true });
    const r = await udpQuery(f.port, query('tc.example.test'), 2000, '127.0.0.1');
    expect(r).toBeDefined();
    expect(f.datapath.learnLog).toHaveLength(0);
    const [d] = await digFrom(f, POD_A.ip, 'tc.example.test');
    expect(d!.answers[0]!.data).toBe('192.0.2.9');
    expect(f.upstream.received.map((q) => q.transport)).toEqual(['udp', 'udp', 'tcp']);
    expect(f.datapath.learnedAllowing(POD_A.pod, '192.0.2.9')).toBeDefined();
  });

  it('a truncated answer carrying addresses is held until they are programmed, and released verbatim', async () => {
    const f = await fixture();
    const tc = dnsPacket.encode({
      id: 0,
      type: 'response',
      flags: dnsPacket.TRUNCATED_RESPONSE | dnsPacket.RECURSION_AVAILABLE,
      questions: [{ name: 'tc.example.test', type: 'A', class: 'IN' }],
      answers: [{ name: 'tc.example.test', type: 'A', class: 'IN', ttl: 300, data: '192.0.2.77' }],
    });
    f.upstream.set('tc.example.test', { raw: () => tc });
    f.datapath.delayLearn(60);
    f.view.setPod(['127.0.0.1'], { pod: 'ns/local', domainRules: rules('*.example.test'), egressIsolated: true });
    const r = await udpQuery(f.port, query('tc.example.test', 77), 2000, '127.0.0.1');
    const receivedAt = Date.now();
    expect(r!.readUInt16BE(0)).toBe(77);
    expect(r!.subarray(2).equals(tc.subarray(2))).toBe(true);
    const learned = f.datapath.learnedAllowing('ns/local', '192.0.2.77');
    expect(learned).toBeDefined();
    expect(f.datapath.learnLog.at(-1)!.programmedAt).toBeLessThanOrEqual(receivedAt);
  });

  it('a truncated answer whose records do not parse goes out without them, TC set, nothing learned', async () => {
    const f = await fixture();
    const full = dnsPacket.encode({
      id: 0,
      type: 'response',
      flags: dnsPacket.TRUNCATED_RESPONSE | dnsPacket.RECURSION_AVAILABLE,
      questions: [{ name: 'tc.example.test', type: 'A', class: 'IN' }],
      answers: [{ name: 'tc.example.test', type: 'A', class: 'IN', ttl: 300, data: '192.0.2.78' }],
      additionals: [{ name: 'ns.example.test', type: 'A', class: 'IN', ttl: 300, data: '192.0.2.79' }],
    });
    // Cut inside the additional record: the answer record is whole, the message is not.
    f.upstream.set('tc.example.test', { raw: () => full.subarray(0, full.length - 3) });
    f.view.setPod(['127.0.0.1'], { pod: 'ns/local', domainRules: rules('*.example.test'), egressIsolated: true });
    const r = await udpQuery(f.port, query('tc.example.test', 78), 2000, '127.0.0.1');
    expect(r).toBeDefined();
    const d = dnsPacket.decode(r!);
    expect(d.id).toBe(78);
    expect(d.flag_tc).toBe(true);
    expect(r!.readUInt8(3) & 0xf).toBe(0);
    expect(d.questions).toEqual([{ name: 'tc.example.test', type: 'A', class: 'IN' }]);
    expect(d.answers).toEqual([]);
    expect(r!.readUInt16BE(6) + r!.readUInt16BE(8)).toBe(0);
    expect(f.datapath.learnLog).toHaveLength(0);
  });

  it('learning is per pod, only for matching patterns, never for unknown sources', async () => {
    const f = await fixture();
    f.upstream.set('a.example.test', { a: ['192.0.2.1'] });
    f.upstream.set('b.other.test', { a: ['192.0.2.2'] });
    await digFrom(f, POD_A.ip, 'a.example.test');
    await digFrom(f, POD_A.ip, 'b.other.test'); // no matching pattern for pod A
    await digFrom(f, POD_B.ip, 'b.other.test');
    await digFrom(f, '127.0.0.4', 'a.example.test'); // not a pod
    expect(f.datapath.learnedOf(POD_A.pod).map((e) => e.ip)).toEqual(['192.0.2.1']);
    expect(f.datapath.learnedOf(POD_B.pod).map((e) => e.ip)).toEqual(['192.0.2.2']);
    expect(f.datapath.learnedAllowing(POD_B.pod, '192.0.2.1')).toBeUndefined();
    expect(f.datapath.counters().learnedEntries).toBe(2);
  });

  it.each(['id', 'question', 'source'] as const)('a forged answer (wrong %s) is never learned', async (spoof) => {
    const f = await fixture();
    f.upstream.set('t.example.test', { a: ['192.0.2.50'], spoof, spoofA: ['6.6.6.6'] });
    await digFrom(f, POD_A.ip, 't.example.test');
    expect(f.datapath.learnedOf(POD_A.pod).map((e) => e.ip)).toEqual(['192.0.2.50']);
  });

  it('a malformed answer section gets SERVFAIL and teaches nothing', async () => {
    const f = await fixture();
    const good = dnsPacket.encode({
      id: 0,
      type: 'response',
      questions: [{ name: 'bad.example.test', type: 'A', class: 'IN' }],
      answers: [{ name: 'bad.example.test', type: 'A', class: 'IN', ttl: 300, data: '192.0.2.5' }],
    });
    f.upstream.set('bad.example.test', { raw: () => good.subarray(0, good.length - 2) });
    const [r] = await digFrom(f, POD_A.ip, 'bad.example.test');
    expect(r!.status).toBe('SERVFAIL');
    expect(f.datapath.learnLog).toHaveLength(0);
  });

  // Every answer that reaches the pod has all its addresses programmed: caps evict older entries
  // (oldest-expiring first), never an address of the answer going out; an answer that alone holds
  // more than a cap allows gets SERVFAIL and teaches nothing.
  it.each<[string, { maxIPsPerName: number; maxLearnedPerPod: number }, [string, string[], number][], string, string[], number]>([
    // label, limits, answers in order [name, addresses, ttl], status of the last, pod's learned IPs after, cap evictions
    ['one answer over maxIPsPerName', { maxIPsPerName: 3, maxLearnedPerPod: 10_000 }, [['many.example.test', ['192.0.2.1', '192.0.2.2', '192.0.2.3', '192.0.2.4', '192.0.2.5'], 300]], 'SERVFAIL', [], 0],
    ['one answer over maxLearnedPerPod', { maxIPsPerName: 1000, maxLearnedPerPod: 2 }, [['many.example.test', ['192.0.2.1', '192.0.2.2', '192.0.2.3'], 300]], 'SERVFAIL', [], 0],
    ['one answer exactly at maxIPsPerName', { maxIPsPerName: 3, maxLearnedPerPod: 10_000 }, [['many.example.test', ['192.0.2.1', '192.0.2.2', '192.0.2.3'], 300]], 'NOERROR', ['192.0.2.1', '192.0.2.2', '192.0.2.3'], 0],
    [
      'a new address expiring before the stored one evicts the stored one',
      { maxIPsPerName: 1, maxLearnedPerPod: 10_000 },
      [['x.example.test', ['192.0.2.1'], 3600], ['x.example.test', ['192.0.2.2'], 60]],
      'NOERROR',
      ['192.0.2.2'],
      1,
    ],
    [
      'the pod cap evicts another name, not the answer going out',
      { maxIPsPerName: 1000, maxLearnedPerPod: 2 },
      [['a.example.test', ['192.0.2.1'], 300], ['b.example.test', ['192.0.2.2'], 3600], ['c.example.test', ['192.0.2.3'], 60]],
      'NOERROR',
      ['192.0.2.2', '192.0.2.3'],
      1,
    ],
  ])('caps: %s', async (_label, learnedLimits, answers, lastStatus, learnedAfter, capEvictions) => {
    const f = await fixture({ learnedLimits });
    let last: Awaited<ReturnType<typeof digFrom>>[number] | undefined;
    for (const [name, a, ttl] of answers) {
      f.upstream.set(name, { a, ttl });
      [last] = await digFrom(f, POD_A.ip, name);
    }
    expect(last!.status).toBe(lastStatus);
    const programmed = f.datapath.learnedOf(POD_A.pod).map((e) => e.ip).sort();
    expect(programmed).toEqual(learnedAfter);
    // Whatever the pod received is programmed.
    for (const a of last!.answers) if (a.type === 'A') expect(programmed).toContain(a.data);
    expect(f.proxy.store.entries(POD_A.pod).map((e) => e.ip).sort()).toEqual(learnedAfter);
    const ev = await f.proxy.metrics.evictions.get();
    expect(ev.values.find((v) => v.labels.reason === 'cap')?.value ?? 0).toBe(capEvictions);
  });
});

describe('hold until programmed', () => {
  it('no answer reaches the pod before its entries are programmed', async () => {
    const f = await fixture();
    f.upstream.set('h.example.test', { a: ['192.0.2.1'] });
    f.datapath.delayLearn(120);
    const sent = Date.now();
    const reply = await udpQuery(f.port, query('h.example.test'), 2000, '127.0.0.1');
    expect(reply).toBeDefined();
    // Source 127.0.0.1 is not a pod: released at once, nothing learned.
    expect(Date.now() - sent).toBeLessThan(100);
    f.view.setPod(['127.0.0.1'], { pod: 'ns/local', domainRules: rules('h.example.test'), egressIsolated: false });
    for (let i = 0; i < 3; i++) {
      const before = Date.now();
      const r = await udpQuery(f.port, query('h.example.test', i), 2000, '127.0.0.1');
      const receivedAt = Date.now();
      expect(rcodeOf(r)).toBe(0);
      const programmedAt = f.datapath.learnLog.at(-1)!.programmedAt;
      expect(programmedAt).toBeLessThanOrEqual(receivedAt);
      expect(receivedAt - before).toBeGreaterThanOrEqual(110);
    }
    const held = await f.proxy.metrics.held.get();
    expect(held.values[0]!.value).toBe(0);
  });

  it('a failing datapath means SERVFAIL and nothing usable', async () => {
    const f = await fixture();
    f.upstream.set('f.example.test', { a: ['192.0.2.1'] });
    f.datapath.failLearn('map full');
    const [r] = await digFrom(f, POD_A.ip, 'f.example.test');
    expect(r!.status).toBe('SERVFAIL');
    expect(f.datapath.learnedAllowing(POD_A.pod, '192.0.2.1')).toBeUndefined();
    expect(f.logs.some((l) => l.event === 'program_failed')).toBe(true);
    const m = await f.proxy.metrics.queries.get();
    expect(m.values.find((v) => v.labels.result === 'servfail_program')?.value).toBe(1);
  });

  it('programming slower than programTimeout means SERVFAIL at the timeout', async () => {
    const f = await fixture({ programTimeoutMs: 100 });
    f.upstream.set('t.example.test', { a: ['192.0.2.1'] });
    f.datapath.delayLearn(600);
    const started = Date.now();
    const [r] = await digFrom(f, POD_A.ip, 't.example.test');
    expect(r!.status).toBe('SERVFAIL');
    expect(Date.now() - started).toBeLessThan(500);
    expect(f.logs.some((l) => l.event === 'program_timeout')).toBe(true);
  });

  it("a pod's answers are programmed and released in arrival order, one at a time; other pods run in parallel", async () => {
    const f = await fixture();
    f.upstream.set('same.example.test', { a: ['192.0.2.1'] });
    f.upstream.set('other.example.test', { a: ['192.0.2.2'] });
    const events: string[] = [];
    let call = 0;
    f.datapath.setLearnHook(async (entries) => {
      const n = ++call;
      const name = `${entries[0]!.pod} ${entries[0]!.name}`;
      events.push(`start ${n} ${name}`);
      // The first programming is slow, later ones fast: without ordering the second would win.
      await new Promise((r) => setTimeout(r, n === 1 ? 150 : 5));
      events.push(`end ${n} ${name}`);
    });
    const replies: number[] = [];
    const q = (name: string, id: number, from = '127.0.0.1') =>
      udpQuery(f.port, query(name, id), 2000, '127.0.0.1', from).then((r) => replies.push(r!.readUInt16BE(0)));
    f.view.setPod(['127.0.0.1'], { pod: 'ns/local', domainRules: rules('*.example.test'), egressIsolated: false });
    f.view.setPod(['127.0.0.2'], { pod: 'ns/other', domainRules: rules('*.example.test'), egressIsolated: false });
    const first = q('same.example.test', 1);
    await new Promise((r) => setTimeout(r, 20));
    const second = q('same.example.test', 2);
    // The same pod's other name waits too: caps evict across a pod's names (learning-caps-race).
    const third = q('other.example.test', 3);
    const fourth = q('other.example.test', 4, '127.0.0.2');
    await Promise.all([first, second, third, fourth]);
    const starts = events.filter((e) => e.startsWith('start') && e.includes(' ns/local '));
    expect(starts).toHaveLength(3);
    for (const s of starts.slice(1)) expect(events.indexOf(s)).toBeGreaterThan(events.indexOf('end 1 ns/local same.example.test'));
    expect(replies.indexOf(1)).toBeLessThan(replies.indexOf(2));
    expect(replies.indexOf(1)).toBeLessThan(replies.indexOf(3));
    // Another pod did not wait for the slow one: it learned and was answered meanwhile.
    const otherStart = events.findIndex((e) => e.startsWith('start') && e.endsWith(' ns/other other.example.test'));
    expect(otherStart).toBeGreaterThan(-1);
    expect(otherStart).toBeLessThan(events.indexOf('end 1 ns/local same.example.test'));
    expect(replies[0]).toBe(4);
  });
});

describe('queryFilter', () => {
  it.each([
    ['off', true, 'blocked.test', 'NXDOMAIN-from-upstream'],
    ['refuse', true, 'blocked.test', 'REFUSED'],
    ['nxdomain', true, 'blocked.test', 'NXDOMAIN'],
    ['refuse', false, 'blocked.test', 'NXDOMAIN-from-upstream'],
    ['refuse', true, 'ok.example.test', 'NOERROR'],
    ['refuse', true, 'kube-dns.kube-system.svc.cluster.local', 'NOERROR'],
    ['nxdomain', true, 'cluster.local', 'NOERROR'],
    ['nxdomain', true, 'evilcluster.local', 'NXDOMAIN'],
  ] as const)('%s, isolated=%s, %s -> %s', async (mode, isolated, name, expected) => {
    const f = await fixture({ queryFilter: mode }, rules('*.example.test'), isolated);
    f.upstream.set('ok.example.test', { a: ['192.0.2.1'] });
    f.upstream.set('kube-dns.kube-system.svc.cluster.local', { a: ['10.96.0.10'] });
    f.upstream.set('cluster.local', { a: [] });
    const [r] = await digFrom(f, POD_A.ip, name);
    const forwarded = f.upstream.received.length > 0;
    if (expected === 'NXDOMAIN-from-upstream') {
      expect(r!.status).toBe('NXDOMAIN');
      expect(forwarded).toBe(true);
    } else {
      expect(r!.status).toBe(expected);
      expect(forwarded).toBe(expected === 'NOERROR');
    }
  });
});

describe('pod removal', () => {
  it('forgetPod drops everything the pod learned, in store and datapath, and nothing of other pods', async () => {
    const f = await fixture();
    f.upstream.set('a.example.test', { a: ['192.0.2.1', '192.0.2.2'] });
    f.upstream.set('b.other.test', { a: ['192.0.2.3'] });
    await digFrom(f, POD_A.ip, 'a.example.test');
    await digFrom(f, POD_B.ip, 'b.other.test');
    expect(await f.proxy.forgetPod(POD_A.pod)).toBe(2);
    expect(f.datapath.learnedOf(POD_A.pod)).toEqual([]);
    expect(f.datapath.learnedOf(POD_B.pod).map((e) => e.ip)).toEqual(['192.0.2.3']);
    expect(f.proxy.store.size).toBe(1);
    const gauge = await f.proxy.metrics.learnedEntries.get();
    expect(gauge.values[0]!.value).toBe(1);
  });
});

describe('sweeper', () => {
  it('removes expired learning from store and datapath with bounded work per tick', async () => {
    const f = await fixture({ sweepMaxWork: 2 });
    f.upstream.set('s.example.test', { a: ['192.0.2.1', '192.0.2.2', '192.0.2.3', '192.0.2.4', '192.0.2.5'], ttl: 60 });
    f.upstream.set('long.example.test', { a: ['192.0.2.9'], ttl: 3600 });
    await digFrom(f, POD_A.ip, 's.example.test');
    await digFrom(f, POD_A.ip, 'long.example.test');
    expect(f.datapath.learnedOf(POD_A.pod)).toHaveLength(6);
    const later = Date.now() + 61_000;
    expect(await f.proxy.sweeper.tick(later)).toBe(2);
    expect(await f.proxy.sweeper.tick(later)).toBe(2);
    expect(await f.proxy.sweeper.tick(later)).toBe(1);
    expect(await f.proxy.sweeper.tick(later)).toBe(0);
    expect(f.datapath.learnedOf(POD_A.pod).map((e) => e.ip)).toEqual(['192.0.2.9']);
    expect(f.proxy.store.size).toBe(1);
    // Even before a sweep, an expired entry allows nothing new.
    expect(f.datapath.learnedAllowing(POD_A.pod, '192.0.2.9', Date.now() + 3_601_000)).toBeUndefined();
  });
});
