// The tc programs on the real kernel: table-driven cases for the decision algorithm in
// bpf/README.md, run as packets through BPF_PROG_TEST_RUN with maps filled through libbpf-ts.
import { RingBuffer } from 'libbpf-ts';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { LoadedDatapath, TEST_IFINDEX, needRoot } from './harness.js';
import { arpFrame, frame, ipPacket } from './packets.js';
import type { PacketSpec } from './packets.js';
import { decodeCounters, decodeCtKey, decodeCtValue, decodeEvent, encodeCounterKey } from '../../src/datapath/ebpf/layout.js';
import type { DirName, EndpointConfig, Rule } from '../../src/datapath/ebpf/layout.js';

const EP = 7;
const POD = '10.0.0.2';
const NODE = '10.0.0.1';
const REMOTE = '192.0.2.10';
const POD6 = 'fd00::2';
const NODE6 = 'fd00::1';
const REMOTE6 = '2001:db8::10';

function rule(tier: Rule['tier'], action: Rule['action'], o: Partial<Rule> = {}): Rule {
  return { proto: 0, portLo: 0, portHi: 0, tier, action, fqdn: false, fqdnSlot: 0, ruleId: 1, ...o };
}
const tcp = (sport: number, dport: number) => ({ proto: 'tcp' as const, sport, dport });
const udp = (sport: number, dport: number) => ({ proto: 'udp' as const, sport, dport });
const out = (l4: PacketSpec['l4'], dst = REMOTE, extra: Partial<PacketSpec> = {}): PacketSpec => ({ src: dst.includes(':') ? POD6 : POD, dst, l4, ...extra });
const inn = (l4: PacketSpec['l4'], src = REMOTE, extra: Partial<PacketSpec> = {}): PacketSpec => ({ src, dst: src.includes(':') ? POD6 : POD, l4, ...extra });

interface Step {
  dir: DirName;
  pkt: PacketSpec | Buffer;
  expect: 'allow' | 'deny';
  /** Before this step: (re)learn entries. */
  learn?: Array<{ slot: number; addr: string; ttlMs: number; epId?: number }>;
}

interface Case {
  name: string;
  ep?: Partial<EndpointConfig> | null;
  policy?: Array<{ dir: DirName; cidr: string; rules: Rule[]; epId?: number }>;
  steps: Step[];
}

const cases: Case[] = [
  { name: 'unknown ifindex passes everything', ep: null, steps: [{ dir: 'egress', pkt: out(tcp(1000, 22)), expect: 'allow' }] },
  {
    name: 'not-enforced endpoint passes',
    ep: { mode: 'notEnforced', egressIsolated: true },
    steps: [{ dir: 'egress', pkt: out(tcp(1000, 22)), expect: 'allow' }],
  },
  { name: 'standard default allows', ep: { mode: 'standard' }, steps: [{ dir: 'egress', pkt: out(tcp(1000, 22)), expect: 'allow' }] },
  { name: 'strict default denies', ep: { mode: 'strict' }, steps: [{ dir: 'egress', pkt: out(tcp(1000, 22)), expect: 'deny' }] },
  {
    name: 'admin accept beats a later admin deny and baseline deny',
    ep: { mode: 'strict' },
    policy: [{ dir: 'egress', cidr: '0.0.0.0/0', rules: [rule('admin', 'accept'), rule('admin', 'deny'), rule('baseline', 'deny')] }],
    steps: [{ dir: 'egress', pkt: out(tcp(1000, 22)), expect: 'allow' }],
  },
  {
    name: 'admin deny beats an NP allow',
    ep: { mode: 'standard', egressIsolated: true },
    policy: [{ dir: 'egress', cidr: '192.0.2.0/24', rules: [rule('admin', 'deny'), rule('np', 'accept')] }],
    steps: [{ dir: 'egress', pkt: out(tcp(1000, 22)), expect: 'deny' }],
  },
  {
    name: 'admin pass skips the rest of admin, NP decides',
    ep: { mode: 'strict', egressIsolated: true },
    policy: [{ dir: 'egress', cidr: '192.0.2.0/24', rules: [rule('admin', 'pass'), rule('admin', 'deny'), rule('np', 'accept')] }],
    steps: [{ dir: 'egress', pkt: out(tcp(1000, 22)), expect: 'allow' }],
  },
  {
    name: 'admin pass then baseline deny',
    ep: { mode: 'standard' },
    policy: [{ dir: 'egress', cidr: '192.0.2.0/24', rules: [rule('admin', 'pass'), rule('admin', 'accept'), rule('baseline', 'deny')] }],
    steps: [{ dir: 'egress', pkt: out(tcp(1000, 22)), expect: 'deny' }],
  },
  {
    name: 'non-matching admin rules are skipped',
    ep: { mode: 'standard' },
    policy: [{ dir: 'egress', cidr: '192.0.2.0/24', rules: [rule('admin', 'deny', { proto: 17 }), rule('admin', 'deny', { proto: 6, portLo: 80, portHi: 80 })] }],
    steps: [{ dir: 'egress', pkt: out(tcp(1000, 22)), expect: 'allow' }, { dir: 'egress', pkt: out(tcp(1000, 80)), expect: 'deny' }],
  },
  {
    name: 'NP-isolated without a matching NP rule denies; baseline accept is not consulted',
    ep: { mode: 'standard', egressIsolated: true },
    policy: [{ dir: 'egress', cidr: '192.0.2.0/24', rules: [rule('np', 'accept', { proto: 6, portLo: 443, portHi: 443 }), rule('baseline', 'accept')] }],
    steps: [{ dir: 'egress', pkt: out(tcp(1000, 443)), expect: 'allow' }, { dir: 'egress', pkt: out(tcp(1000, 80)), expect: 'deny' }],
  },
  {
    name: 'NP-isolated with no LPM entry at all denies',
    ep: { mode: 'standard', egressIsolated: true },
    steps: [{ dir: 'egress', pkt: out(udp(1000, 53)), expect: 'deny' }],
  },
  {
    name: 'NP rules are ignored when the direction is not isolated',
    ep: { mode: 'strict' },
    policy: [{ dir: 'egress', cidr: '0.0.0.0/0', rules: [rule('np', 'accept')] }],
    steps: [{ dir: 'egress', pkt: out(tcp(1000, 22)), expect: 'deny' }],
  },
  {
    name: 'baseline accept / deny / pass to default',
    ep: { mode: 'strict' },
    policy: [{
      dir: 'egress', cidr: '192.0.2.0/24',
      rules: [rule('baseline', 'accept', { proto: 6, portLo: 1, portHi: 100 }), rule('baseline', 'pass', { proto: 17 }), rule('baseline', 'deny', { proto: 17 }), rule('baseline', 'accept')],
    }],
    steps: [
      { dir: 'egress', pkt: out(tcp(1000, 22)), expect: 'allow' },
      { dir: 'egress', pkt: out(udp(1000, 53)), expect: 'deny' }, // pass -> strict default
      { dir: 'egress', pkt: out(tcp(1000, 8080)), expect: 'allow' },
    ],
  },
  {
    name: 'baseline pass goes to the standard default (allow)',
    ep: { mode: 'standard' },
    policy: [{ dir: 'egress', cidr: '192.0.2.0/24', rules: [rule('baseline', 'pass'), rule('baseline', 'deny')] }],
    steps: [{ dir: 'egress', pkt: out(tcp(1000, 22)), expect: 'allow' }],
  },
  {
    name: 'port range bounds are inclusive',
    ep: { mode: 'strict', noCtInsert: true },
    policy: [{ dir: 'egress', cidr: '192.0.2.0/24', rules: [rule('admin', 'accept', { proto: 6, portLo: 8000, portHi: 8080 })] }],
    steps: [
      { dir: 'egress', pkt: out(tcp(1000, 7999)), expect: 'deny' },
      { dir: 'egress', pkt: out(tcp(1000, 8000)), expect: 'allow' },
      { dir: 'egress', pkt: out(tcp(1000, 8080)), expect: 'allow' },
      { dir: 'egress', pkt: out(tcp(1000, 8081)), expect: 'deny' },
      { dir: 'egress', pkt: out(udp(1000, 8000)), expect: 'deny' },
    ],
  },
  {
    name: 'protocol any without ports matches TCP, UDP, SCTP, ICMP and other protocols',
    ep: { mode: 'strict', noCtInsert: true },
    policy: [{ dir: 'egress', cidr: '192.0.2.10/32', rules: [rule('admin', 'accept')] }],
    steps: [
      { dir: 'egress', pkt: out(tcp(1, 2)), expect: 'allow' },
      { dir: 'egress', pkt: out(udp(1, 2)), expect: 'allow' },
      { dir: 'egress', pkt: out({ proto: 'sctp', sport: 1, dport: 2 }), expect: 'allow' },
      { dir: 'egress', pkt: out({ proto: 'icmp', type: 8, id: 9 }), expect: 'allow' },
      { dir: 'egress', pkt: out({ proto: 'raw', number: 47 }), expect: 'allow' },
      { dir: 'egress', pkt: out(tcp(1, 2), '192.0.2.11'), expect: 'deny' },
    ],
  },
  {
    name: 'ICMP never matches a rule with ports, even protocol any',
    ep: { mode: 'strict', noCtInsert: true },
    policy: [{ dir: 'egress', cidr: '0.0.0.0/0', rules: [rule('admin', 'accept', { proto: 0, portLo: 1, portHi: 65535 })] }],
    steps: [
      { dir: 'egress', pkt: out({ proto: 'icmp', type: 8, id: 9 }), expect: 'deny' },
      { dir: 'egress', pkt: out(udp(5, 9)), expect: 'allow' },
      { dir: 'egress', pkt: out({ proto: 'raw', number: 47 }), expect: 'deny' },
    ],
  },
  {
    name: 'the longest prefix list is used',
    ep: { mode: 'standard', noCtInsert: true },
    policy: [
      { dir: 'egress', cidr: '192.0.0.0/8', rules: [rule('admin', 'deny')] },
      { dir: 'egress', cidr: '192.0.2.0/24', rules: [rule('admin', 'accept')] },
      { dir: 'egress', cidr: '192.0.2.128/25', rules: [rule('admin', 'deny')] },
    ],
    steps: [
      { dir: 'egress', pkt: out(tcp(1, 2), '192.0.2.10'), expect: 'allow' },
      { dir: 'egress', pkt: out(tcp(1, 2), '192.0.2.200'), expect: 'deny' },
      { dir: 'egress', pkt: out(tcp(1, 2), '192.1.0.1'), expect: 'deny' },
      { dir: 'egress', pkt: out(tcp(1, 2), '10.9.9.9'), expect: 'allow' },
    ],
  },
  {
    name: 'rules of the other direction and of other endpoints do not apply',
    ep: { mode: 'standard', noCtInsert: true },
    policy: [
      { dir: 'ingress', cidr: '0.0.0.0/0', rules: [rule('admin', 'deny')] },
      { dir: 'egress', cidr: '0.0.0.0/0', rules: [rule('admin', 'deny')], epId: EP + 1 },
    ],
    steps: [
      { dir: 'egress', pkt: out(tcp(1, 2)), expect: 'allow' },
      { dir: 'ingress', pkt: inn(tcp(1, 2)), expect: 'deny' },
    ],
  },
  {
    name: 'FQDN rule: live learned entry allows; expired, other slot or other endpoint do not',
    ep: { mode: 'strict', noCtInsert: true },
    policy: [{ dir: 'egress', cidr: '0.0.0.0/0', rules: [rule('admin', 'accept', { fqdn: true, fqdnSlot: 3, proto: 6, portLo: 443, portHi: 443 })] }],
    steps: [
      { dir: 'egress', pkt: out(tcp(1000, 443)), expect: 'deny' },
      { dir: 'egress', pkt: out(tcp(1000, 443)), expect: 'deny', learn: [{ slot: 4, addr: REMOTE, ttlMs: 60_000 }, { slot: 3, addr: REMOTE, ttlMs: 60_000, epId: EP + 1 }] },
      { dir: 'egress', pkt: out(tcp(1000, 443)), expect: 'allow', learn: [{ slot: 3, addr: REMOTE, ttlMs: 60_000 }] },
      { dir: 'egress', pkt: out(tcp(1000, 80)), expect: 'deny' },
      { dir: 'egress', pkt: out(tcp(1000, 443), '192.0.2.11'), expect: 'deny' },
      { dir: 'egress', pkt: out(tcp(1000, 443)), expect: 'deny', learn: [{ slot: 3, addr: REMOTE, ttlMs: -1 }] },
    ],
  },
  {
    name: 'FQDN rule in the NP tier and on IPv6',
    ep: { mode: 'standard', egressIsolated: true, noCtInsert: true },
    policy: [{ dir: 'egress', cidr: '::/0', rules: [rule('np', 'accept', { fqdn: true, fqdnSlot: 1 })] }],
    steps: [
      { dir: 'egress', pkt: out(tcp(1000, 443), REMOTE6), expect: 'deny' },
      { dir: 'egress', pkt: out(tcp(1000, 443), REMOTE6), expect: 'allow', learn: [{ slot: 1, addr: REMOTE6, ttlMs: 60_000 }] },
    ],
  },
  {
    name: 'conntrack: replies of an allowed flow pass, a new flow the other way is judged',
    ep: { mode: 'strict', ingressIsolated: true },
    policy: [{ dir: 'egress', cidr: '192.0.2.0/24', rules: [rule('admin', 'accept', { proto: 6, portLo: 443, portHi: 443 })] }],
    steps: [
      { dir: 'ingress', pkt: inn(tcp(443, 40000)), expect: 'deny' },
      { dir: 'egress', pkt: out(tcp(40000, 443)), expect: 'allow' },
      { dir: 'ingress', pkt: inn(tcp(443, 40000)), expect: 'allow' },
      { dir: 'egress', pkt: out(tcp(40000, 443)), expect: 'allow' },
      { dir: 'ingress', pkt: inn(tcp(443, 40001)), expect: 'deny' },
      { dir: 'ingress', pkt: inn(udp(443, 40000)), expect: 'deny' },
    ],
  },
  {
    name: 'conntrack: an established flow survives the expiry of the learned IP that allowed it',
    ep: { mode: 'strict' },
    policy: [{ dir: 'egress', cidr: '0.0.0.0/0', rules: [rule('np', 'accept'), rule('baseline', 'accept', { fqdn: true, fqdnSlot: 2 })] }],
    steps: [
      { dir: 'egress', pkt: out(tcp(40000, 443)), expect: 'allow', learn: [{ slot: 2, addr: REMOTE, ttlMs: 60_000 }] },
      { dir: 'egress', pkt: out(tcp(40000, 443)), expect: 'allow', learn: [{ slot: 2, addr: REMOTE, ttlMs: -1 }] },
      { dir: 'ingress', pkt: inn(tcp(443, 40000)), expect: 'allow' },
      { dir: 'egress', pkt: out(tcp(40001, 443)), expect: 'deny' },
    ],
  },
  {
    name: 'conntrack: replies to an allowed ingress flow pass egress',
    ep: { mode: 'strict', egressIsolated: true },
    policy: [{ dir: 'ingress', cidr: '192.0.2.0/24', rules: [rule('baseline', 'accept', { proto: 17, portLo: 53, portHi: 53 })] }],
    steps: [
      { dir: 'ingress', pkt: inn(udp(5353, 53)), expect: 'allow' },
      { dir: 'egress', pkt: out(udp(53, 5353)), expect: 'allow' },
      { dir: 'egress', pkt: out(udp(53, 5354)), expect: 'deny' },
    ],
  },
  {
    name: 'ICMP echo: the reply passes, an unsolicited request does not',
    ep: { mode: 'strict' },
    policy: [{ dir: 'egress', cidr: '192.0.2.10/32', rules: [rule('admin', 'accept', { proto: 1 })] }],
    steps: [
      { dir: 'egress', pkt: out({ proto: 'icmp', type: 8, id: 77 }), expect: 'allow' },
      { dir: 'ingress', pkt: inn({ proto: 'icmp', type: 0, id: 77 }), expect: 'allow' },
      { dir: 'ingress', pkt: inn({ proto: 'icmp', type: 0, id: 78 }), expect: 'deny' },
      { dir: 'ingress', pkt: inn({ proto: 'icmp', type: 8, id: 77 }), expect: 'deny' },
    ],
  },
  {
    name: 'related ICMP errors pass when they embed a tracked flow',
    ep: { mode: 'strict' },
    policy: [{ dir: 'egress', cidr: '192.0.2.0/24', rules: [rule('admin', 'accept', { proto: 17 })] }],
    steps: [
      { dir: 'egress', pkt: out(udp(5000, 9999)), expect: 'allow' },
      { dir: 'ingress', pkt: inn({ proto: 'icmp', type: 3, code: 3, inner: ipPacket(out(udp(5000, 9999))) }, '198.51.100.1'), expect: 'allow' },
      { dir: 'ingress', pkt: inn({ proto: 'icmp', type: 11, inner: ipPacket(out(udp(5000, 9999))) }, '198.51.100.1'), expect: 'allow' },
      { dir: 'ingress', pkt: inn({ proto: 'icmp', type: 3, code: 3, inner: ipPacket(out(udp(5000, 9998))) }, '198.51.100.1'), expect: 'deny' },
      { dir: 'ingress', pkt: inn({ proto: 'icmp', type: 3, code: 3 }, '198.51.100.1'), expect: 'deny' },
    ],
  },
  {
    name: 'related ICMPv6 packet-too-big passes',
    ep: { mode: 'strict' },
    policy: [{ dir: 'egress', cidr: '2001:db8::/32', rules: [rule('admin', 'accept', { proto: 6 })] }],
    steps: [
      { dir: 'egress', pkt: out(tcp(40000, 443), REMOTE6), expect: 'allow' },
      { dir: 'ingress', pkt: inn({ proto: 'icmp', type: 2, inner: ipPacket(out(tcp(40000, 443), REMOTE6)) }, '2001:db8:ffff::1'), expect: 'allow' },
      { dir: 'ingress', pkt: inn({ proto: 'icmp', type: 2, inner: ipPacket(out(tcp(40000, 444), REMOTE6)) }, '2001:db8:ffff::1'), expect: 'deny' },
    ],
  },
  {
    name: 'ingress from the own node IP is always allowed; egress to it is judged',
    ep: { mode: 'strict', egressIsolated: true, ingressIsolated: true },
    policy: [{ dir: 'ingress', cidr: '0.0.0.0/0', rules: [rule('admin', 'deny')] }],
    steps: [
      { dir: 'ingress', pkt: inn(tcp(50000, 8080), NODE), expect: 'allow' },
      { dir: 'egress', pkt: out(tcp(8080, 50000), NODE), expect: 'allow' }, // the reply
      { dir: 'egress', pkt: out(tcp(1, 22), NODE), expect: 'deny' },
      { dir: 'ingress', pkt: inn(tcp(50000, 8080), NODE6), expect: 'allow' },
      { dir: 'ingress', pkt: inn(tcp(50000, 8080), '10.0.0.3'), expect: 'deny' },
    ],
  },
  {
    name: 'the pod talking to its own IP is allowed',
    ep: { mode: 'strict', egressIsolated: true, ingressIsolated: true, noCtInsert: true },
    policy: [{ dir: 'egress', cidr: '0.0.0.0/0', rules: [rule('admin', 'deny')] }, { dir: 'ingress', cidr: '::/0', rules: [rule('admin', 'deny')] }],
    steps: [
      { dir: 'egress', pkt: out(tcp(1, 80), POD), expect: 'allow' },
      { dir: 'ingress', pkt: inn(tcp(1, 80), POD), expect: 'allow' },
      { dir: 'ingress', pkt: inn(tcp(1, 80), POD6), expect: 'allow' },
      { dir: 'egress', pkt: out(tcp(1, 80), POD6), expect: 'allow' },
    ],
  },
  {
    name: 'IPv6 rules, hop-by-hop header, NDP and non-first fragments',
    ep: { mode: 'strict', noCtInsert: true },
    policy: [{ dir: 'egress', cidr: '2001:db8::/64', rules: [rule('baseline', 'accept', { proto: 17, portLo: 53, portHi: 53 })] }],
    steps: [
      { dir: 'egress', pkt: out(udp(1000, 53), REMOTE6), expect: 'allow' },
      { dir: 'egress', pkt: out(udp(1000, 53), REMOTE6, { hopByHop: true }), expect: 'allow' },
      { dir: 'egress', pkt: out(udp(1000, 54), REMOTE6, { hopByHop: true }), expect: 'deny' },
      { dir: 'egress', pkt: out(udp(1000, 53), '2001:db8:0:1::10'), expect: 'deny' },
      { dir: 'egress', pkt: out(udp(1000, 53), REMOTE6, { fragOffset: 0 }), expect: 'allow' },
      { dir: 'egress', pkt: out(udp(1000, 54), REMOTE6, { fragOffset: 0 }), expect: 'deny' },
      { dir: 'egress', pkt: out(udp(1000, 54), REMOTE6, { fragOffset: 185 }), expect: 'allow' },
      { dir: 'egress', pkt: out({ proto: 'icmp', type: 135 }, 'ff02::1:ff00:1'), expect: 'allow' },
      { dir: 'ingress', pkt: inn({ proto: 'icmp', type: 136 }, 'fe80::1'), expect: 'allow' },
      { dir: 'egress', pkt: out({ proto: 'icmp', type: 128, id: 1 }, REMOTE6), expect: 'deny' },
    ],
  },
  {
    name: 'IPv4 fragments: the first is judged, the others pass; ARP passes; a truncated L4 header is dropped',
    ep: { mode: 'strict', noCtInsert: true },
    steps: [
      { dir: 'egress', pkt: out(udp(1000, 53), REMOTE, { fragOffset: 0 }), expect: 'deny' },
      { dir: 'egress', pkt: out(udp(1000, 53), REMOTE, { fragOffset: 185 }), expect: 'allow' },
      { dir: 'egress', pkt: arpFrame(), expect: 'allow' },
      // (The kernel's test-run refuses frames shorter than an IPv4 header, so truncate inside L4.)
      { dir: 'egress', pkt: out(udp(1000, 53), REMOTE6, { truncate: 14 + 40 + 2 }), expect: 'deny' },
      { dir: 'egress', pkt: out(tcp(1000, 53), REMOTE, { truncate: 36 }), expect: 'deny' },
    ],
  },
];

describe.skipIf(!needRoot)('dnsgate tc programs (BPF_PROG_TEST_RUN)', () => {
  let dp: LoadedDatapath;
  beforeAll(() => {
    dp = new LoadedDatapath('program');
  });
  afterAll(() => dp?.close());
  beforeEach(() => dp.reset());

  function endpoint(over: Partial<EndpointConfig>): EndpointConfig {
    return {
      epId: EP, mode: 'standard', egressIsolated: false, ingressIsolated: false, allowSample: 0,
      podIp4: POD, nodeIp4: NODE, podIp6: POD6, nodeIp6: NODE6, ...over,
    };
  }

  it.each(cases)('$name', (c) => {
    if (c.ep !== null) dp.setEndpoint(TEST_IFINDEX, endpoint(c.ep ?? {}));
    for (const p of c.policy ?? []) dp.setPolicy(p.epId ?? EP, p.dir, p.cidr, p.rules);
    c.steps.forEach((s, i) => {
      for (const l of s.learn ?? []) dp.learn(l.epId ?? EP, l.slot, l.addr, l.ttlMs);
      const data = Buffer.isBuffer(s.pkt) ? s.pkt : frame(s.pkt);
      expect({ step: i, verdict: dp.run(s.dir, data) }).toEqual({ step: i, verdict: s.expect });
    });
  });

  it('noCtInsert leaves conntrack empty; a normal allow inserts the original tuple', () => {
    dp.setEndpoint(TEST_IFINDEX, endpoint({ noCtInsert: true }));
    expect(dp.run('egress', frame(out(tcp(1234, 80))))).toBe('allow');
    expect(dp.maps.ct.keys()).toHaveLength(0);
    dp.setEndpoint(TEST_IFINDEX, endpoint({}));
    expect(dp.run('egress', frame(out(tcp(1234, 80))))).toBe('allow');
    const keys = dp.maps.ct.keys().map(decodeCtKey);
    expect(keys).toEqual([{ epId: EP, family: 4, proto: 6, podAddr: POD, peerAddr: REMOTE, podPort: 1234, peerPort: 80 }]);
    const value = dp.maps.ct.lookup(dp.maps.ct.keys()[0] ?? Buffer.alloc(0));
    expect(value && decodeCtValue(value)).toMatchObject({ dir: 'egress', reason: 'default', tier: 'none', replySeen: false });
    expect(dp.run('ingress', frame(inn(tcp(80, 1234))))).toBe('allow');
    const after = dp.maps.ct.lookup(dp.maps.ct.keys()[0] ?? Buffer.alloc(0));
    expect(after && decodeCtValue(after)).toMatchObject({ dir: 'egress', replySeen: true });
  });

  it('events: every deny, allows only when sampled; counters per endpoint and direction', () => {
    const ring = dp.maps.events;
    const records: Buffer[] = [];
    const rb = new RingBuffer(ring, (r) => records.push(Buffer.from(r)), { start: false });
    try {
      rb.consume();
      const before = decodeCounters(dp.maps.counters.lookupPerCpu(encodeCounterKey(EP, 'egress')) ?? []);
      dp.setEndpoint(TEST_IFINDEX, endpoint({ mode: 'strict', allowSample: 0 }));
      dp.setPolicy(EP, 'egress', '192.0.2.0/24', [rule('baseline', 'accept', { proto: 6, portLo: 443, portHi: 443, ruleId: 4242 })]);
      expect(dp.run('egress', frame(out(tcp(1000, 443))))).toBe('allow');
      expect(dp.run('egress', frame(out(tcp(1000, 443))))).toBe('allow');
      expect(dp.run('egress', frame(out(udp(1000, 53))))).toBe('deny');
      let evs = rb.consume().map(decodeEvent);
      expect(evs).toHaveLength(1);
      expect(evs[0]).toMatchObject({
        epId: EP, ifindex: TEST_IFINDEX, dir: 'egress', family: 4, proto: 17, saddr: POD, daddr: REMOTE,
        sport: 1000, dport: 53, verdict: 'deny', tier: 'none', reason: 'default', ruleId: 0,
      });
      dp.setEndpoint(TEST_IFINDEX, endpoint({ mode: 'strict', allowSample: 1 }));
      expect(dp.run('egress', frame(out(tcp(1001, 443))))).toBe('allow');
      evs = rb.consume().map(decodeEvent);
      expect(evs).toHaveLength(1);
      expect(evs[0]).toMatchObject({ verdict: 'allow', tier: 'baseline', reason: 'rule', ruleId: 4242, sport: 1001, dport: 443 });
      const after = decodeCounters(dp.maps.counters.lookupPerCpu(encodeCounterKey(EP, 'egress')) ?? []);
      expect(after.allowedPackets - before.allowedPackets).toBe(3n);
      expect(after.deniedPackets - before.deniedPackets).toBe(1n);
      expect(after.newFlows - before.newFlows).toBe(2n);
    } finally {
      rb.close();
    }
  });

  it('a test-run context can carry another ifindex (endpoints are keyed by it)', () => {
    dp.setEndpoint(TEST_IFINDEX, endpoint({ mode: 'strict' }));
    const ctx = Buffer.alloc(48);
    ctx.writeUInt32LE(TEST_IFINDEX, 40);
    expect(dp.program('egress').testRun({ data: frame(out(tcp(1, 2))), ctxIn: ctx, dataOutSize: 0 }).retval).toBe(2);
  });
});

