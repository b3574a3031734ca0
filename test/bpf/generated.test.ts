// Generated maps and packets: the program's verdict must equal a direct reading of the decision
// algorithm in bpf/README.md (longest prefix, then the tier walk). Conntrack is off for the
// endpoint (noCtInsert) so every packet is judged by policy alone.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LoadedDatapath, TEST_IFINDEX, needRoot } from './harness.js';
import { frame } from './packets.js';
import type { PacketSpec } from './packets.js';
import { addrBytes } from '../../src/datapath/ebpf/layout.js';
import type { DirName, ModeName, Rule } from '../../src/datapath/ebpf/layout.js';

const EP = 9;
const POD = '10.0.0.2';
const PREFIXES = ['0.0.0.0/0', '192.0.2.0/24', '192.0.2.0/28', '192.0.2.8/29', '192.0.2.10/32', '198.51.100.0/24'];
const PEERS = ['192.0.2.10', '192.0.2.3', '192.0.2.9', '192.0.2.200', '198.51.100.5', '203.0.113.1'];
const PORTS = [53, 80, 443, 8080];

interface Entry { dir: DirName; cidr: string; rules: Rule[] }
interface Learned { slot: number; addr: string; live: boolean }
interface Pkt { dir: DirName; peer: string; proto: 'tcp' | 'udp' | 'icmp'; dport: number }
interface Scenario { mode: ModeName; egressIsolated: boolean; ingressIsolated: boolean; entries: Entry[]; learned: Learned[]; packets: Pkt[] }

const portRange = fc.oneof(
  fc.constant([0, 0] as const),
  fc.constantFrom(...PORTS).map((p) => [p, p] as const),
  fc.tuple(fc.integer({ min: 1, max: 9000 }), fc.integer({ min: 0, max: 500 })).map(([lo, w]) => [lo, Math.min(65535, lo + w)] as const),
);

const ruleArb: fc.Arbitrary<Rule> = fc
  .record({
    tier: fc.constantFrom<Rule['tier']>('admin', 'np', 'baseline'),
    action: fc.constantFrom<Rule['action']>('accept', 'deny', 'pass'),
    proto: fc.constantFrom(0, 0, 6, 17, 1),
    ports: portRange,
    fqdn: fc.boolean(),
    fqdnSlot: fc.integer({ min: 0, max: 2 }),
    ruleId: fc.integer({ min: 1, max: 1000 }),
  })
  .map((r) => ({
    proto: r.proto,
    portLo: r.ports[0],
    portHi: r.ports[1],
    tier: r.tier,
    action: r.tier === 'np' || r.fqdn ? 'accept' : r.action,
    fqdn: r.fqdn,
    fqdnSlot: r.fqdnSlot,
    ruleId: r.ruleId,
  }));

const TIER_RANK = { admin: 1, np: 2, baseline: 3 } as const;

const scenarioArb: fc.Arbitrary<Scenario> = fc.record({
  mode: fc.constantFrom<ModeName>('standard', 'strict'),
  egressIsolated: fc.boolean(),
  ingressIsolated: fc.boolean(),
  entries: fc.uniqueArray(
    fc.record({
      dir: fc.constantFrom<DirName>('egress', 'ingress'),
      cidr: fc.constantFrom(...PREFIXES),
      // A stable sort by tier keeps the generated order inside each tier.
      rules: fc.array(ruleArb, { maxLength: 10 }).map((rs) => [...rs].sort((a, b) => TIER_RANK[a.tier] - TIER_RANK[b.tier])),
    }),
    { maxLength: 6, selector: (e) => `${e.dir} ${e.cidr}` },
  ),
  learned: fc.array(fc.record({ slot: fc.integer({ min: 0, max: 2 }), addr: fc.constantFrom(...PEERS), live: fc.boolean() }), { maxLength: 5 }),
  packets: fc.array(
    fc.record({
      dir: fc.constantFrom<DirName>('egress', 'ingress'),
      peer: fc.constantFrom(...PEERS),
      proto: fc.constantFrom<Pkt['proto']>('tcp', 'udp', 'icmp'),
      dport: fc.constantFrom(...PORTS, 1, 65535),
    }),
    { minLength: 1, maxLength: 6 },
  ),
});

function inPrefix(addr: string, cidr: string): boolean {
  const [net, lenText] = cidr.split('/');
  const a = addrBytes(addr);
  const n = addrBytes(net ?? '');
  const len = Number(lenText);
  for (let bit = 0; bit < len; bit++) {
    const mask = 0x80 >> (bit % 8);
    if (((a[bit >> 3] ?? 0) & mask) !== ((n[bit >> 3] ?? 0) & mask)) return false;
  }
  return true;
}

/** bpf/README.md, "Decision algorithm", steps 5-6, for an endpoint without conntrack. */
function expected(s: Scenario, p: Pkt): 'allow' | 'deny' {
  const candidates = s.entries.filter((e) => e.dir === p.dir && inPrefix(p.peer, e.cidr));
  candidates.sort((a, b) => Number(b.cidr.split('/')[1]) - Number(a.cidr.split('/')[1]));
  const list = candidates[0]?.rules ?? [];
  const isolated = p.dir === 'egress' ? s.egressIsolated : s.ingressIsolated;
  const protoNum = { tcp: 6, udp: 17, icmp: 1 }[p.proto];
  const matches = (r: Rule): boolean => {
    if (r.proto !== 0 && r.proto !== protoNum) return false;
    if (!(r.portLo === 0 && r.portHi === 0)) {
      if (p.proto === 'icmp' || p.dport < r.portLo || p.dport > r.portHi) return false;
    }
    if (r.fqdn) {
      const live = s.learned.filter((l) => l.slot === r.fqdnSlot && l.addr === p.peer);
      // The last write of a key wins in the map.
      if (live.length === 0 || !live[live.length - 1]!.live) return false;
    }
    return true;
  };
  let skipAdmin = false;
  for (const r of list) {
    if (r.tier === 'admin') {
      if (skipAdmin || !matches(r)) continue;
      if (r.action === 'pass') { skipAdmin = true; continue; }
      return r.action === 'accept' ? 'allow' : 'deny';
    }
    if (r.tier === 'np') {
      if (isolated && matches(r)) return 'allow';
      continue;
    }
    if (isolated) break;
    if (!matches(r)) continue;
    if (r.action === 'pass') break;
    return r.action === 'accept' ? 'allow' : 'deny';
  }
  if (isolated) return 'deny';
  return s.mode === 'strict' ? 'deny' : 'allow';
}

function packet(p: Pkt): Buffer {
  const l4: PacketSpec['l4'] = p.proto === 'icmp' ? { proto: 'icmp', type: 8, id: 5 } : { proto: p.proto, sport: 33333, dport: p.dport };
  return frame(p.dir === 'egress' ? { src: POD, dst: p.peer, l4 } : { src: p.peer, dst: POD, l4 });
}

describe.skipIf(!needRoot)('generated maps and packets agree with the documented algorithm', () => {
  let dp: LoadedDatapath;
  beforeAll(() => {
    dp = new LoadedDatapath('generated');
  });
  afterAll(() => dp?.close());

  it('random rule lists, prefixes, learned entries and packets', () => {
    fc.assert(
      fc.property(scenarioArb, (s) => {
        dp.reset();
        dp.setEndpoint(TEST_IFINDEX, {
          epId: EP, mode: s.mode, egressIsolated: s.egressIsolated, ingressIsolated: s.ingressIsolated,
          noCtInsert: true, allowSample: 0, podIp4: POD, nodeIp4: '10.0.0.1',
        });
        for (const e of s.entries) dp.setPolicy(EP, e.dir, e.cidr, e.rules);
        for (const l of s.learned) dp.learn(EP, l.slot, l.addr, l.live ? 600_000 : -1);
        for (const p of s.packets) expect({ p, verdict: dp.run(p.dir, packet(p)) }).toEqual({ p, verdict: expected(s, p) });
      }),
      { numRuns: 1500 },
    );
  });
});
