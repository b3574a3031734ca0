// The datapath's decision over compiled tables, in TypeScript, step for step as
// bpf/dnsgate.bpf.c does it for a new flow (after conntrack): self address, node address on
// ingress, one longest-prefix-match lookup, then the tier walk over the prefix's rule list. The
// memory backend and the BPF differential tests use it as the model of the program.
import { type IPAddress, familyBits, formatIP, parseIP } from '../policy/ip.js';
import type { LearnedSet } from './learned-set.js';
import type { CompiledEndpoint, CompiledNode, CompiledRule, DirName, DirectionTable, PrefixEntry, RuleTier } from './types.js';
import { PROTO } from './types.js';

export interface Packet {
  /** The remote address: destination for egress, source for ingress. */
  readonly peer: string;
  readonly protocol: 'TCP' | 'UDP' | 'SCTP' | 'ICMP';
  /** Destination port (ignored for ICMP). */
  readonly port?: number;
}

export type Outcome =
  | { readonly verdict: 'allow'; readonly reason: 'notEnforced' | 'self' | 'nodeIp' | 'default' }
  | { readonly verdict: 'deny'; readonly reason: 'default' | 'npNoMatch' }
  | { readonly verdict: 'allow' | 'deny'; readonly reason: 'rule'; readonly tier: RuleTier; readonly ruleId: number; readonly cidr: string };

interface Lpm {
  /** Prefix lengths present, longest first, per family. */
  readonly lengths: Record<4 | 6, number[]>;
  readonly byLen: Map<string, PrefixEntry>;
}

const lpmCache = new WeakMap<DirectionTable, Lpm>();

function lpmOf(table: DirectionTable): Lpm {
  let lpm = lpmCache.get(table);
  if (!lpm) {
    const lengths: Record<4 | 6, Set<number>> = { 4: new Set(), 6: new Set() };
    const byLen = new Map<string, PrefixEntry>();
    for (const p of table.prefixes.values()) {
      lengths[p.family].add(p.prefixLen);
      const ip = parseIP(p.addr);
      byLen.set(`${p.family}|${p.prefixLen}|${ip.value}`, p);
    }
    lpm = { lengths: { 4: [...lengths[4]].sort((a, b) => b - a), 6: [...lengths[6]].sort((a, b) => b - a) }, byLen };
    lpmCache.set(table, lpm);
  }
  return lpm;
}

/** The longest prefix of the table containing `ip`, if any (the LPM trie lookup). */
export function lookupPrefix(table: DirectionTable, ip: IPAddress): PrefixEntry | undefined {
  const lpm = lpmOf(table);
  const bits = familyBits(ip.family);
  for (const len of lpm.lengths[ip.family]) {
    const mask = ((1n << BigInt(len)) - 1n) << BigInt(bits - len);
    const hit = lpm.byLen.get(`${ip.family}|${len}|${ip.value & mask}`);
    if (hit) return hit;
  }
  return undefined;
}

function protoNumber(protocol: Packet['protocol'], family: 4 | 6): number {
  switch (protocol) {
    case 'TCP':
      return PROTO.tcp;
    case 'UDP':
      return PROTO.udp;
    case 'SCTP':
      return PROTO.sctp;
    case 'ICMP':
      return family === 4 ? PROTO.icmp : PROTO.icmpv6;
  }
}

function ruleMatches(r: CompiledRule, proto: number, port: number | undefined, ep: CompiledEndpoint, peer: string, learned: LearnedSet, now: number): boolean {
  if (r.proto !== 0 && r.proto !== proto) return false;
  if (r.portLo !== 0 || r.portHi !== 0) {
    if (port === undefined || port < r.portLo || port > r.portHi) return false;
  }
  if (r.fqdn && !learned.live(ep.epId, r.fqdnSlot, peer, now)) return false;
  return true;
}

/** The verdict for one new flow of endpoint `endpoint` in direction `dir`. */
export function interpret(node: CompiledNode, endpoint: string, dir: DirName, packet: Packet, learned: LearnedSet, now: number): Outcome {
  const ep = node.endpoints.get(endpoint);
  if (!ep || ep.config.mode === 'notEnforced') return { verdict: 'allow', reason: 'notEnforced' };
  const ip = parseIP(packet.peer);
  const peer = formatIP(ip);
  const c = ep.config;
  if (peer === (ip.family === 4 ? c.podIp4 : c.podIp6)) return { verdict: 'allow', reason: 'self' };
  if (dir === 'ingress' && peer === (ip.family === 4 ? c.nodeIp4 : c.nodeIp6)) return { verdict: 'allow', reason: 'nodeIp' };
  const table = dir === 'egress' ? ep.egress : ep.ingress;
  const isolated = dir === 'egress' ? c.egressIsolated : c.ingressIsolated;
  const proto = protoNumber(packet.protocol, ip.family);
  const port = packet.protocol === 'ICMP' ? undefined : packet.port;
  const entry = lookupPrefix(table, ip);
  let skipAdmin = false;
  for (const r of entry?.rules ?? []) {
    const matches = (): boolean => ruleMatches(r, proto, port, ep, peer, learned, now);
    if (r.tier === 'admin') {
      if (skipAdmin || !matches()) continue;
      if (r.action === 'pass') {
        skipAdmin = true;
        continue;
      }
    } else if (r.tier === 'np') {
      if (!isolated || !matches()) continue;
    } else {
      // The list is sorted by tier: an isolated direction never reaches Baseline.
      if (isolated) break;
      if (!matches()) continue;
      if (r.action === 'pass') break;
    }
    return { verdict: r.action === 'accept' ? 'allow' : 'deny', reason: 'rule', tier: r.tier, ruleId: r.ruleId, cidr: entry?.cidr ?? '' };
  }
  if (isolated) return { verdict: 'deny', reason: 'npNoMatch' };
  return c.mode === 'strict' ? { verdict: 'deny', reason: 'default' } : { verdict: 'allow', reason: 'default' };
}
