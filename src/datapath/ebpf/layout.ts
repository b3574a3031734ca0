// The TypeScript mirror of bpf/dnsgate_layout.h: every map's name, key and value, byte for byte.
// Pure: constants plus encode/decode functions (Buffer in, Buffer out); no syscalls. The BTF test
// (test/bpf/layout-btf.test.ts) compares sizes and offsets here against the compiled object.
//
// Byte order: addresses are network-order bytes (IPv4 in the first 4 of a 16-byte field);
// every other multi-byte field, ports included, is host order (little-endian on the machines
// dnsgate supports: x86_64 and arm64).

// ---- capacities -------------------------------------------------------------------------------

export const MAX_RULES = 64;
export const MAX_ENDPOINTS = 4096;
export const POLICY_V4_MAX = 65536;
export const POLICY_V6_MAX = 65536;
export const LEARNED_MAX = 262144;
export const CT_MAX = 262144;
export const EVENTS_BYTES = 1 << 20;

// ---- map names (pinned by name under the agent's pin root) ------------------------------------

export const MAP = {
  endpoints: 'dg_endpoints',
  policyV4: 'dg_policy_v4',
  policyV6: 'dg_policy_v6',
  learned: 'dg_learned',
  ct: 'dg_ct',
  counters: 'dg_counters',
  events: 'dg_events',
} as const;

export const PROGRAM = {
  /** tc ingress hook of the host veth: packets from the pod (its egress). */
  fromPod: 'dnsgate_from_pod',
  /** tc egress hook of the host veth: packets to the pod (its ingress). */
  toPod: 'dnsgate_to_pod',
} as const;

export const OBJECT_FILE = 'bpf/build/dnsgate.bpf.o';
export const FLOOR_OBJECT_FILE = 'bpf/build/floor.bpf.o';

// ---- enums ------------------------------------------------------------------------------------

export const Dir = { egress: 0, ingress: 1 } as const;
export type DirName = keyof typeof Dir;

export const Mode = { notEnforced: 0, standard: 1, strict: 2 } as const;
export type ModeName = keyof typeof Mode;

export const EpFlag = { egressIsolated: 1, ingressIsolated: 2, noCtInsert: 4 } as const;

export const Tier = { none: 0, admin: 1, np: 2, baseline: 3 } as const;
export type TierName = keyof typeof Tier;

export const Action = { accept: 1, deny: 2, pass: 3 } as const;
export type ActionName = keyof typeof Action;

export const RuleFlag = { fqdn: 1 } as const;

export const Family = { v4: 4, v6: 6 } as const;
export type FamilyNumber = 4 | 6;

export const Verdict = { allow: 1, deny: 2 } as const;
export type VerdictName = keyof typeof Verdict;

export const Reason = { rule: 1, npNoMatch: 2, default: 3, nodeIp: 4, self: 5, malformed: 6 } as const;
export type ReasonName = keyof typeof Reason;

export const CtFlag = { replySeen: 1 } as const;

/** Conntrack idle timeouts in seconds (an entry is dead once now - lastSeen reaches it). */
export const CtTimeoutS = { tcp: 21600, sctp: 21600, udp: 120, icmp: 30, other: 120 } as const;

export const Proto = { any: 0, icmp: 1, tcp: 6, udp: 17, icmpv6: 58, sctp: 132 } as const;

/** LPM prefix bits spent on ep_id (32) and dir (8) before the address. */
export const POLICY_KEY_PREFIX_BITS = 40;

// ---- sizes and offsets (checked against BTF) ---------------------------------------------------

export const SIZE = {
  endpoint: 52,
  policyKeyV4: 16,
  policyKeyV6: 28,
  rule: 16,
  ruleList: 8 + 16 * MAX_RULES,
  learnedKey: 28,
  learnedValue: 8,
  ctKey: 44,
  ctValue: 16,
  counters: 32,
  event: 64,
} as const;

/** Member offsets, by struct (C name) and member name, for the BTF cross-check. */
export const OFFSETS: Readonly<Record<string, Readonly<Record<string, number>>>> = {
  dg_endpoint: { ep_id: 0, mode: 4, flags: 5, allow_sample: 8, node_ip4: 12, pod_ip4: 16, node_ip6: 20, pod_ip6: 36 },
  dg_policy_key_v4: { prefixlen: 0, ep_id: 4, dir: 8, addr: 9 },
  dg_policy_key_v6: { prefixlen: 0, ep_id: 4, dir: 8, addr: 9 },
  dg_rule: { proto: 0, tier: 1, action: 2, flags: 3, port_lo: 4, port_hi: 6, fqdn_slot: 8, rule_id: 12 },
  dg_rule_list: { count: 0, rules: 8 },
  dg_learned_key: { ep_id: 0, fqdn_slot: 4, family: 8, addr: 12 },
  dg_learned_value: { expires_ns: 0 },
  dg_ct_key: { ep_id: 0, family: 4, proto: 5, pod_addr: 8, peer_addr: 24, pod_port: 40, peer_port: 42 },
  dg_ct_value: { last_seen_ns: 0, rule_id: 8, tier: 12, reason: 13, flags: 14, dir: 15 },
  dg_counters: { allowed_packets: 0, denied_packets: 8, new_flows: 16, events_lost: 24 },
  dg_event: {
    ts_ns: 0, ep_id: 8, rule_id: 12, dir: 16, family: 17, proto: 18, verdict: 19, tier: 20, reason: 21,
    saddr: 24, daddr: 40, sport: 56, dport: 58, ifindex: 60,
  },
};

// ---- errors -----------------------------------------------------------------------------------

/** A value that cannot be encoded into (or decoded from) the map layout. */
export class LayoutError extends Error {
  override readonly name = 'LayoutError';
  constructor(
    readonly struct: string,
    readonly field: string,
    readonly value: unknown,
    reason: string,
  ) {
    super(`${struct}.${field}: ${reason} (got ${typeof value === 'bigint' ? `${value}n` : JSON.stringify(value)})`);
  }
}

// ---- addresses --------------------------------------------------------------------------------

/** An address as text (`10.0.0.1`, `fd00::1`) or as its raw 4/16 network-order bytes. */
export type Addr = string | Uint8Array;

function parseV4(text: string): Uint8Array | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i] ?? '';
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    out[i] = n;
  }
  return out;
}

function parseV6(text: string): Uint8Array | undefined {
  let head = text;
  let tailV4: Uint8Array | undefined;
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.', lastColon)) {
    tailV4 = parseV4(text.slice(lastColon + 1));
    if (!tailV4) return undefined;
    head = text.slice(0, lastColon + 1) + '0:0';
  }
  const halves = head.split('::');
  if (halves.length > 2) return undefined;
  const group = (s: string): number[] | undefined => {
    if (s === '') return [];
    const out: number[] = [];
    for (const g of s.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const left = group(halves[0] ?? '');
  const right = halves.length === 2 ? group(halves[1] ?? '') : [];
  if (!left || !right) return undefined;
  const missing = 8 - left.length - right.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  const words = [...left, ...new Array<number>(halves.length === 2 ? missing : 0).fill(0), ...right];
  const out = new Uint8Array(16);
  words.forEach((w, i) => {
    out[i * 2] = w >> 8;
    out[i * 2 + 1] = w & 0xff;
  });
  if (tailV4) out.set(tailV4, 12);
  return out;
}

/** Raw bytes of an address: 4 for IPv4, 16 for IPv6. */
export function addrBytes(addr: Addr, struct = 'address', field = 'addr'): Uint8Array {
  if (addr instanceof Uint8Array) {
    if (addr.length !== 4 && addr.length !== 16) throw new LayoutError(struct, field, addr.length, 'address must be 4 or 16 bytes');
    return addr;
  }
  const b = addr.includes(':') ? parseV6(addr) : parseV4(addr);
  if (!b) throw new LayoutError(struct, field, addr, 'not an IPv4 or IPv6 address');
  return b;
}

export function familyOf(addr: Addr): FamilyNumber {
  return addrBytes(addr).length === 4 ? 4 : 6;
}

/** Canonical text of raw address bytes (RFC 5952 for IPv6). */
export function addrText(bytes: Uint8Array): string {
  if (bytes.length === 4) return Array.from(bytes).join('.');
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push(((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0));
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  const hex = (ws: number[]): string => ws.map((w) => w.toString(16)).join(':');
  if (bestStart < 0) return hex(words);
  return `${hex(words.slice(0, bestStart))}::${hex(words.slice(bestStart + bestLen))}`;
}

/** An address in a 16-byte field, for the given family (IPv4 in the first 4 bytes). */
function addr16(family: FamilyNumber, bytes: Uint8Array): string {
  return addrText(family === 4 ? bytes.subarray(0, 4) : bytes.subarray(0, 16));
}

// ---- field checks -----------------------------------------------------------------------------

function checkInt(struct: string, field: string, v: number, max: number, min = 0): number {
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new LayoutError(struct, field, v, `must be an integer in ${min}..${max}`);
  }
  return v;
}

const U8 = 0xff;
const U16 = 0xffff;
const U32 = 0xffffffff;

function checkEpId(struct: string, v: number): number {
  return checkInt(struct, 'epId', v, MAX_ENDPOINTS - 1, 1);
}

function nameOf<T extends Record<string, number>>(table: T, v: number, struct: string, field: string): keyof T & string {
  for (const [k, n] of Object.entries(table)) if (n === v) return k as keyof T & string;
  throw new LayoutError(struct, field, v, 'unknown value');
}

// ---- endpoints --------------------------------------------------------------------------------

export interface EndpointConfig {
  /** 1..MAX_ENDPOINTS-1; also the counters index (epId * 2 + dir). */
  epId: number;
  mode: ModeName;
  egressIsolated: boolean;
  ingressIsolated: boolean;
  /** Testing/benchmarks only: never insert conntrack entries. */
  noCtInsert?: boolean;
  /** Allow events: 0 none, 1 every allowed new flow, N about one in N. */
  allowSample: number;
  nodeIp4?: Addr;
  nodeIp6?: Addr;
  podIp4?: Addr;
  podIp6?: Addr;
}

export function encodeEndpointKey(ifindex: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(checkInt('dg_endpoints', 'ifindex', ifindex, U32, 1));
  return b;
}

export function decodeEndpointKey(b: Buffer): number {
  return b.readUInt32LE(0);
}

function putFamilyAddr(b: Buffer, off: number, addr: Addr | undefined, family: FamilyNumber, field: string): void {
  if (addr === undefined) return;
  const bytes = addrBytes(addr, 'dg_endpoint', field);
  if (bytes.length !== (family === 4 ? 4 : 16)) throw new LayoutError('dg_endpoint', field, addr, `must be an IPv${family} address`);
  b.set(bytes, off);
}

export function encodeEndpoint(e: EndpointConfig): Buffer {
  const b = Buffer.alloc(SIZE.endpoint);
  b.writeUInt32LE(checkEpId('dg_endpoint', e.epId), 0);
  b.writeUInt8(Mode[e.mode], 4);
  b.writeUInt8(
    (e.egressIsolated ? EpFlag.egressIsolated : 0) |
      (e.ingressIsolated ? EpFlag.ingressIsolated : 0) |
      (e.noCtInsert ? EpFlag.noCtInsert : 0),
    5,
  );
  b.writeUInt32LE(checkInt('dg_endpoint', 'allowSample', e.allowSample, U32), 8);
  putFamilyAddr(b, 12, e.nodeIp4, 4, 'nodeIp4');
  putFamilyAddr(b, 16, e.podIp4, 4, 'podIp4');
  putFamilyAddr(b, 20, e.nodeIp6, 6, 'nodeIp6');
  putFamilyAddr(b, 36, e.podIp6, 6, 'podIp6');
  return b;
}

function optAddr(b: Buffer, off: number, len: number): string | undefined {
  const s = b.subarray(off, off + len);
  return s.every((x) => x === 0) ? undefined : addrText(s);
}

export function decodeEndpoint(b: Buffer): EndpointConfig {
  const flags = b.readUInt8(5);
  const e: EndpointConfig = {
    epId: b.readUInt32LE(0),
    mode: nameOf(Mode, b.readUInt8(4), 'dg_endpoint', 'mode'),
    egressIsolated: (flags & EpFlag.egressIsolated) !== 0,
    ingressIsolated: (flags & EpFlag.ingressIsolated) !== 0,
    noCtInsert: (flags & EpFlag.noCtInsert) !== 0,
    allowSample: b.readUInt32LE(8),
  };
  const nodeIp4 = optAddr(b, 12, 4);
  const podIp4 = optAddr(b, 16, 4);
  const nodeIp6 = optAddr(b, 20, 16);
  const podIp6 = optAddr(b, 36, 16);
  if (nodeIp4) e.nodeIp4 = nodeIp4;
  if (podIp4) e.podIp4 = podIp4;
  if (nodeIp6) e.nodeIp6 = nodeIp6;
  if (podIp6) e.podIp6 = podIp6;
  return e;
}

// ---- policy LPM keys --------------------------------------------------------------------------

export interface PolicyKey {
  epId: number;
  dir: DirName;
  family: FamilyNumber;
  /** Network address (host bits are cleared on encode). */
  addr: string;
  /** Address prefix length, 0..32 or 0..128 (the 40 ep/dir bits are added on encode). */
  prefixLen: number;
}

function maskedAddr(bytes: Uint8Array, prefixLen: number): Uint8Array {
  const out = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) {
    const bits = Math.max(0, Math.min(8, prefixLen - i * 8));
    out[i] = (bytes[i] ?? 0) & ((0xff << (8 - bits)) & 0xff);
  }
  return out;
}

function encodePolicyKey(family: FamilyNumber, epId: number, dir: DirName, addr: Addr, prefixLen: number): Buffer {
  const struct = family === 4 ? 'dg_policy_key_v4' : 'dg_policy_key_v6';
  const bytes = addrBytes(addr, struct, 'addr');
  const bits = family === 4 ? 32 : 128;
  if (bytes.length * 8 !== bits) throw new LayoutError(struct, 'addr', addr, `must be an IPv${family} address`);
  checkInt(struct, 'prefixLen', prefixLen, bits);
  const b = Buffer.alloc(family === 4 ? SIZE.policyKeyV4 : SIZE.policyKeyV6);
  b.writeUInt32LE(POLICY_KEY_PREFIX_BITS + prefixLen, 0);
  b.writeUInt32LE(checkEpId(struct, epId), 4);
  b.writeUInt8(Dir[dir], 8);
  b.set(maskedAddr(bytes, prefixLen), 9);
  return b;
}

export function encodePolicyKeyV4(epId: number, dir: DirName, addr: Addr, prefixLen: number): Buffer {
  return encodePolicyKey(4, epId, dir, addr, prefixLen);
}

export function encodePolicyKeyV6(epId: number, dir: DirName, addr: Addr, prefixLen: number): Buffer {
  return encodePolicyKey(6, epId, dir, addr, prefixLen);
}

/** Parses `a.b.c.d/n` or `x::/n` and encodes the key of the right family. */
export function encodePolicyKeyCidr(epId: number, dir: DirName, cidr: string): { family: FamilyNumber; key: Buffer } {
  const slash = cidr.indexOf('/');
  const addr = slash < 0 ? cidr : cidr.slice(0, slash);
  const family = familyOf(addr);
  const lenText = slash < 0 ? String(family === 4 ? 32 : 128) : cidr.slice(slash + 1);
  if (!/^[0-9]{1,3}$/.test(lenText)) throw new LayoutError('policy key', 'cidr', cidr, 'bad prefix length');
  return { family, key: encodePolicyKey(family, epId, dir, addr, Number(lenText)) };
}

export function decodePolicyKey(b: Buffer): PolicyKey {
  const family: FamilyNumber = b.length === SIZE.policyKeyV4 ? 4 : 6;
  const struct = family === 4 ? 'dg_policy_key_v4' : 'dg_policy_key_v6';
  if (b.length !== SIZE.policyKeyV4 && b.length !== SIZE.policyKeyV6) throw new LayoutError(struct, 'size', b.length, 'wrong key size');
  return {
    epId: b.readUInt32LE(4),
    dir: nameOf(Dir, b.readUInt8(8), struct, 'dir'),
    family,
    addr: addrText(b.subarray(9, 9 + (family === 4 ? 4 : 16))),
    prefixLen: b.readUInt32LE(0) - POLICY_KEY_PREFIX_BITS,
  };
}

// ---- rule lists -------------------------------------------------------------------------------

export interface Rule {
  /** 0 = any protocol, else an IPPROTO_* number (Proto.tcp, ...). */
  proto: number;
  /** 0-0 = any port. A rule with ports never matches a portless protocol (ICMP, ...). */
  portLo: number;
  portHi: number;
  tier: Exclude<TierName, 'none'>;
  action: ActionName;
  /** Matches only when learned[(ep, fqdnSlot, family, peer)] is live. */
  fqdn: boolean;
  fqdnSlot: number;
  /** Reported in events and conntrack values (0 is read as "no rule"). */
  ruleId: number;
}

const TIER_ORDER = { admin: 1, np: 2, baseline: 3 } as const;

/**
 * Encodes the ordered rule list of one prefix. Rejects (never truncates) lists the program would
 * misjudge: too long, not sorted by tier, NP rules other than Accept, FQDN rules other than
 * Accept, bad port ranges.
 */
export function encodeRuleList(rules: readonly Rule[]): Buffer {
  if (rules.length > MAX_RULES) throw new LayoutError('dg_rule_list', 'count', rules.length, `at most ${MAX_RULES} rules per prefix`);
  const b = Buffer.alloc(SIZE.ruleList);
  b.writeUInt32LE(rules.length, 0);
  let lastTier = 0;
  rules.forEach((r, i) => {
    const f = `rules[${i}]`;
    const tier = TIER_ORDER[r.tier];
    if (tier === undefined) throw new LayoutError('dg_rule', `${f}.tier`, r.tier, 'unknown tier');
    if (tier < lastTier) throw new LayoutError('dg_rule', `${f}.tier`, r.tier, 'rules must be sorted admin, np, baseline');
    lastTier = tier;
    if (Action[r.action] === undefined) throw new LayoutError('dg_rule', `${f}.action`, r.action, 'unknown action');
    if (r.tier === 'np' && r.action !== 'accept') throw new LayoutError('dg_rule', `${f}.action`, r.action, 'NP-tier rules only accept');
    if (r.fqdn && r.action !== 'accept') throw new LayoutError('dg_rule', `${f}.action`, r.action, 'FQDN rules only accept');
    checkInt('dg_rule', `${f}.proto`, r.proto, U8);
    checkInt('dg_rule', `${f}.portLo`, r.portLo, U16);
    checkInt('dg_rule', `${f}.portHi`, r.portHi, U16);
    if (!(r.portLo === 0 && r.portHi === 0) && (r.portLo < 1 || r.portLo > r.portHi)) {
      throw new LayoutError('dg_rule', `${f}.portLo`, [r.portLo, r.portHi], 'port range must be 0-0 (any) or 1 <= lo <= hi');
    }
    const o = 8 + i * SIZE.rule;
    b.writeUInt8(r.proto, o);
    b.writeUInt8(tier, o + 1);
    b.writeUInt8(Action[r.action], o + 2);
    b.writeUInt8(r.fqdn ? RuleFlag.fqdn : 0, o + 3);
    b.writeUInt16LE(r.portLo, o + 4);
    b.writeUInt16LE(r.portHi, o + 6);
    b.writeUInt32LE(checkInt('dg_rule', `${f}.fqdnSlot`, r.fqdnSlot, U32), o + 8);
    b.writeUInt32LE(checkInt('dg_rule', `${f}.ruleId`, r.ruleId, U32), o + 12);
  });
  return b;
}

export function decodeRuleList(b: Buffer): Rule[] {
  const count = b.readUInt32LE(0);
  if (count > MAX_RULES) throw new LayoutError('dg_rule_list', 'count', count, `at most ${MAX_RULES}`);
  const out: Rule[] = [];
  for (let i = 0; i < count; i++) {
    const o = 8 + i * SIZE.rule;
    const tier = nameOf(Tier, b.readUInt8(o + 1), 'dg_rule', 'tier');
    if (tier === 'none') throw new LayoutError('dg_rule', 'tier', 0, 'tier 0 in a rule list');
    out.push({
      proto: b.readUInt8(o),
      tier,
      action: nameOf(Action, b.readUInt8(o + 2), 'dg_rule', 'action'),
      fqdn: (b.readUInt8(o + 3) & RuleFlag.fqdn) !== 0,
      portLo: b.readUInt16LE(o + 4),
      portHi: b.readUInt16LE(o + 6),
      fqdnSlot: b.readUInt32LE(o + 8),
      ruleId: b.readUInt32LE(o + 12),
    });
  }
  return out;
}

// ---- learned ----------------------------------------------------------------------------------

export interface LearnedKey {
  epId: number;
  fqdnSlot: number;
  /** The learned IP; its family is the key's family. */
  addr: string;
}

export function encodeLearnedKey(k: { epId: number; fqdnSlot: number; addr: Addr }): Buffer {
  const bytes = addrBytes(k.addr, 'dg_learned_key', 'addr');
  const b = Buffer.alloc(SIZE.learnedKey);
  b.writeUInt32LE(checkEpId('dg_learned_key', k.epId), 0);
  b.writeUInt32LE(checkInt('dg_learned_key', 'fqdnSlot', k.fqdnSlot, U32), 4);
  b.writeUInt8(bytes.length === 4 ? Family.v4 : Family.v6, 8);
  b.set(bytes, 12);
  return b;
}

export function decodeLearnedKey(b: Buffer): LearnedKey {
  const family = b.readUInt8(8);
  if (family !== 4 && family !== 6) throw new LayoutError('dg_learned_key', 'family', family, 'must be 4 or 6');
  return { epId: b.readUInt32LE(0), fqdnSlot: b.readUInt32LE(4), addr: addr16(family, b.subarray(12, 28)) };
}

/** expiresNs is CLOCK_MONOTONIC nanoseconds (see monotonicNsFromEpochMs). */
export function encodeLearnedValue(expiresNs: bigint): Buffer {
  if (expiresNs < 0n || expiresNs > 0xffffffffffffffffn) throw new LayoutError('dg_learned_value', 'expiresNs', expiresNs, 'must fit in u64');
  const b = Buffer.alloc(SIZE.learnedValue);
  b.writeBigUInt64LE(expiresNs, 0);
  return b;
}

export function decodeLearnedValue(b: Buffer): bigint {
  return b.readBigUInt64LE(0);
}

/**
 * Converts an epoch-milliseconds instant (LearnedEntry.expiresAt) to the kernel's CLOCK_MONOTONIC
 * nanoseconds, given one simultaneous reading of both clocks (Date.now() and
 * process.hrtime.bigint(), which is CLOCK_MONOTONIC on Linux, like bpf_ktime_get_ns). Instants
 * already in the past clamp to 0 (expired).
 */
export function monotonicNsFromEpochMs(epochMs: number, nowEpochMs: number, nowMonoNs: bigint): bigint {
  const ns = nowMonoNs + BigInt(Math.round((epochMs - nowEpochMs) * 1e6));
  return ns < 0n ? 0n : ns;
}

// ---- conntrack --------------------------------------------------------------------------------

/**
 * A flow seen from the pod's side: its packets in both directions share this key. ICMP echo: the
 * id goes in podPort when the pod sent the request, in peerPort when the peer did.
 */
export interface CtKey {
  epId: number;
  family: FamilyNumber;
  proto: number;
  podAddr: string;
  peerAddr: string;
  podPort: number;
  peerPort: number;
}

export function encodeCtKey(k: { epId: number; proto: number; podAddr: Addr; peerAddr: Addr; podPort: number; peerPort: number }): Buffer {
  const pod = addrBytes(k.podAddr, 'dg_ct_key', 'podAddr');
  const peer = addrBytes(k.peerAddr, 'dg_ct_key', 'peerAddr');
  if (pod.length !== peer.length) throw new LayoutError('dg_ct_key', 'peerAddr', k.peerAddr, 'podAddr and peerAddr families differ');
  const b = Buffer.alloc(SIZE.ctKey);
  b.writeUInt32LE(checkEpId('dg_ct_key', k.epId), 0);
  b.writeUInt8(pod.length === 4 ? 4 : 6, 4);
  b.writeUInt8(checkInt('dg_ct_key', 'proto', k.proto, U8), 5);
  b.set(pod, 8);
  b.set(peer, 24);
  b.writeUInt16LE(checkInt('dg_ct_key', 'podPort', k.podPort, U16), 40);
  b.writeUInt16LE(checkInt('dg_ct_key', 'peerPort', k.peerPort, U16), 42);
  return b;
}

export function decodeCtKey(b: Buffer): CtKey {
  const family = b.readUInt8(4);
  if (family !== 4 && family !== 6) throw new LayoutError('dg_ct_key', 'family', family, 'must be 4 or 6');
  return {
    epId: b.readUInt32LE(0),
    family,
    proto: b.readUInt8(5),
    podAddr: addr16(family, b.subarray(8, 24)),
    peerAddr: addr16(family, b.subarray(24, 40)),
    podPort: b.readUInt16LE(40),
    peerPort: b.readUInt16LE(42),
  };
}

export interface CtValue {
  /** bpf_ktime_get_ns (CLOCK_MONOTONIC) of the flow's latest packet. */
  lastSeenNs: bigint;
  ruleId: number;
  tier: TierName;
  /** Why the flow was allowed (rule, default, nodeIp, self). */
  reason: ReasonName | 'none';
  replySeen: boolean;
  /** Direction of the packet that opened the flow. */
  dir: DirName;
}

export function encodeCtValue(v: CtValue): Buffer {
  const b = Buffer.alloc(SIZE.ctValue);
  b.writeBigUInt64LE(v.lastSeenNs, 0);
  b.writeUInt32LE(checkInt('dg_ct_value', 'ruleId', v.ruleId, U32), 8);
  b.writeUInt8(Tier[v.tier], 12);
  b.writeUInt8(v.reason === 'none' ? 0 : Reason[v.reason], 13);
  b.writeUInt8(v.replySeen ? CtFlag.replySeen : 0, 14);
  b.writeUInt8(Dir[v.dir], 15);
  return b;
}

export function decodeCtValue(b: Buffer): CtValue {
  const reason = b.readUInt8(13);
  return {
    lastSeenNs: b.readBigUInt64LE(0),
    ruleId: b.readUInt32LE(8),
    tier: nameOf(Tier, b.readUInt8(12), 'dg_ct_value', 'tier'),
    reason: reason === 0 ? 'none' : nameOf(Reason, reason, 'dg_ct_value', 'reason'),
    replySeen: (b.readUInt8(14) & CtFlag.replySeen) !== 0,
    dir: nameOf(Dir, b.readUInt8(15), 'dg_ct_value', 'dir'),
  };
}

/** Idle timeout of a conntrack entry, in nanoseconds, by protocol number. */
export function ctTimeoutNs(proto: number): bigint {
  const s =
    proto === Proto.tcp ? CtTimeoutS.tcp
    : proto === Proto.sctp ? CtTimeoutS.sctp
    : proto === Proto.udp ? CtTimeoutS.udp
    : proto === Proto.icmp || proto === Proto.icmpv6 ? CtTimeoutS.icmp
    : CtTimeoutS.other;
  return BigInt(s) * 1_000_000_000n;
}

// ---- counters ---------------------------------------------------------------------------------

export interface Counters {
  allowedPackets: bigint;
  deniedPackets: bigint;
  newFlows: bigint;
  eventsLost: bigint;
}

export function encodeCounterKey(epId: number, dir: DirName): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(checkEpId('dg_counters', epId) * 2 + Dir[dir], 0);
  return b;
}

/** Sums a per-CPU counters lookup (one Buffer per possible CPU). */
export function decodeCounters(perCpu: readonly Buffer[]): Counters {
  const c: Counters = { allowedPackets: 0n, deniedPackets: 0n, newFlows: 0n, eventsLost: 0n };
  for (const b of perCpu) {
    c.allowedPackets += b.readBigUInt64LE(0);
    c.deniedPackets += b.readBigUInt64LE(8);
    c.newFlows += b.readBigUInt64LE(16);
    c.eventsLost += b.readBigUInt64LE(24);
  }
  return c;
}

// ---- events -----------------------------------------------------------------------------------

export interface DecisionEvent {
  tsNs: bigint;
  epId: number;
  ifindex: number;
  dir: DirName;
  family: FamilyNumber;
  proto: number;
  saddr: string;
  daddr: string;
  sport: number;
  dport: number;
  verdict: VerdictName;
  tier: TierName;
  reason: ReasonName;
  /** The deciding rule's id when reason is 'rule', else 0. */
  ruleId: number;
}

export function decodeEvent(b: Buffer): DecisionEvent {
  if (b.length < SIZE.event) throw new LayoutError('dg_event', 'size', b.length, `must be ${SIZE.event} bytes`);
  const family = b.readUInt8(17);
  if (family !== 4 && family !== 6) throw new LayoutError('dg_event', 'family', family, 'must be 4 or 6');
  return {
    tsNs: b.readBigUInt64LE(0),
    epId: b.readUInt32LE(8),
    ruleId: b.readUInt32LE(12),
    dir: nameOf(Dir, b.readUInt8(16), 'dg_event', 'dir'),
    family,
    proto: b.readUInt8(18),
    verdict: nameOf(Verdict, b.readUInt8(19), 'dg_event', 'verdict'),
    tier: nameOf(Tier, b.readUInt8(20), 'dg_event', 'tier'),
    reason: nameOf(Reason, b.readUInt8(21), 'dg_event', 'reason'),
    saddr: addr16(family, b.subarray(24, 40)),
    daddr: addr16(family, b.subarray(40, 56)),
    sport: b.readUInt16LE(56),
    dport: b.readUInt16LE(58),
    ifindex: b.readUInt32LE(60),
  };
}
