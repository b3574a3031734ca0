// Where one rule matches, as prefixes with (protocol, port, slot) boxes, computed ONCE per distinct
// rule content and shared by every endpoint direction that uses it (rule variants are interned by
// what they say: 900 NetworkPolicies with the same "UDP 53 anywhere" rule share one). Pod
// selectors become the selected pods' own IPs, nodes their addresses, ipBlocks their CIDR minus
// except, networks their CIDRs, domainNames a slot-guarded entry on 0.0.0.0/0 and ::/0. Named
// ports resolve against the destination pod (egress: per destination pod IP; ingress: the local
// pod, whose resolution is part of the variant's identity), and egress rules selecting Service
// backends also match the ClusterIP at the Service port, exactly as src/policy/match.ts and
// evaluate.ts decide for one flow.
//
// A variant's prefixes split in two: static ones (CIDRs, nodes, the default routes) that no pod
// change can alter, and host prefixes that depend on pods (a pod's /32, a Service's ClusterIP).
// A pod change recomputes the host prefixes at that pod's addresses (and at the ClusterIPs of the
// Services it backs) in the variants it can affect, and reports what changed.
import { type NamedPort as PodNamedPort, type PodEntry, findNamedPorts } from '../policy/cluster-index.js';
import { type Cidr, cidrContainsIP, formatCidr, hostCidr, ipBlockContains, parseCidr, subtractCidrs } from '../policy/cidr.js';
import { type IPAddress, familyBits, formatIP } from '../policy/ip.js';
import { type Target, portsMatch } from '../policy/match.js';
import type { Direction, PeerModel, PortModel, RuleModel } from '../policy/model.js';
import { formatSelector, selectorMatches } from '../policy/selector.js';
import { ANY_BOX, type Box } from './boxes.js';
import { type ClusterView, type ServiceView, ipKey } from './cluster-view.js';
import { type Selection, type SelectionIndex, selectionKey } from './selections.js';
import { PROTO } from './types.js';

/** One prefix as the table builder needs it: canonical text, the CIDR and its numeric form. */
export interface PrefixInfo {
  readonly key: string;
  readonly cidr: Cidr;
  readonly addr: string;
  /** IPv4 base as a number (the trie walks bits without bigint); 0 for IPv6. */
  readonly v4: number;
  /** A host prefix (/32, /128): what pods and ClusterIPs contribute. */
  readonly host: boolean;
}

/** Interned box lists: equal lists are one object with one id (cheap signatures). */
export interface BoxSet {
  readonly id: number;
  readonly boxes: readonly Box[];
}

/** Whether a prefix key ("addr/len") is a host prefix (/32, /128): those follow pods and Services. */
export function isHostKey(key: string): boolean {
  return key.includes(':') ? key.endsWith('/128') : key.endsWith('/32');
}

/** The IPv4 address of a host key as a number, without allocating. */
export function v4OfKey(key: string): number {
  let value = 0;
  let part = 0;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if (c === 46 || c === 47) {
      value = value * 256 + part;
      part = 0;
      if (c === 47) break;
    } else part = part * 10 + (c - 48);
  }
  return value;
}

export const ALL_V4: Cidr = parseCidr('0.0.0.0/0');
export const ALL_V6: Cidr = parseCidr('::/0');

const PROTO_NUM = { TCP: PROTO.tcp, UDP: PROTO.udp, SCTP: PROTO.sctp } as const;

export function prefixInfo(cidr: Cidr): PrefixInfo {
  const addr = formatIP({ family: cidr.family, value: cidr.base });
  return {
    key: `${addr}/${cidr.prefixLength}`,
    cidr,
    addr,
    v4: cidr.family === 4 ? Number(cidr.base) : 0,
    host: cidr.prefixLength === familyBits(cidr.family),
  };
}


function boxOrder(a: Box, b: Box): number {
  return a.slot - b.slot || a.proto - b.proto || a.lo - b.lo || a.hi - b.hi;
}

/** Interns box lists in canonical order (the order of a rule's own boxes never changes a verdict). */
export class BoxInterner {
  private readonly byKey = new Map<string, BoxSet>();
  private next = 1;

  intern(boxes: readonly Box[]): BoxSet {
    const sorted = [...boxes].sort(boxOrder);
    const uniq: Box[] = [];
    let key = '';
    for (const b of sorted) {
      const prev = uniq[uniq.length - 1];
      if (prev && boxOrder(prev, b) === 0) continue;
      uniq.push(b);
      key += `${b.proto}:${b.lo}:${b.hi}:${b.slot},`;
    }
    let set = this.byKey.get(key);
    if (!set) this.byKey.set(key, (set = { id: this.next++, boxes: uniq }));
    return set;
  }
}

function portKey(p: PortModel, direction: Direction, local: PodEntry): string {
  switch (p.kind) {
    case 'range':
      return `R${p.protocol}${p.start}-${p.end}`;
    case 'allPorts':
      return `A${p.protocol}`;
    case 'named': {
      if (direction === 'Egress') return `n${p.protocol ?? '*'}:${p.name}`;
      const resolved = namedMatches(local, p).map((np) => `R${np.protocol}${np.port}-${np.port}`);
      return resolved.length > 0 ? resolved.join('+') : 'x';
    }
  }
}

function peerKey(p: PeerModel): string {
  switch (p.kind) {
    case 'pods':
      return `P${selectionKey(p)}`;
    case 'ipBlock':
      return `B${formatCidr(p.block.cidr)}-${p.block.except.map(formatCidr).join('-')}`;
    case 'networks':
      return `N${p.cidrs.map(formatCidr).join(',')}`;
    case 'nodes':
      return `D${formatSelector(p.selector)}`;
    case 'domainNames':
      return `F${p.patterns.join(',')}`;
  }
}

/** What a rule says, for one direction, slot and (ingress) local named-port resolution. */
export function variantKey(direction: Direction, rule: RuleModel, slot: number, local: PodEntry): string {
  const peers = rule.peers === 'any' ? '*' : rule.peers.map(peerKey).join(';');
  const ports = rule.ports === 'any' ? '*' : rule.ports.map((p) => portKey(p, direction, local)).join(';');
  return `${direction}|${slot}|${peers}|${ports}`;
}

type NamedPort = Extract<PortModel, { kind: 'named' }>;

/** The pod's container ports a named rule port stands for (a name may be on several containers). */
function namedMatches(pod: PodEntry, p: NamedPort): PodNamedPort[] {
  return findNamedPorts(pod, p.name).filter((np) => p.protocol === null || p.protocol === np.protocol);
}

let nextVariantId = 1;

export class RuleVariant {
  /** A short identity (table shapes name variants by it). */
  readonly id = nextVariantId++;
  /**
   * Every prefix the variant contributes at (static and host, merged) and its boxes. Host
   * prefixes are only keys (the table builder reads their address from the key): a node holds
   * tens of thousands of them.
   */
  readonly entries = new Map<string, BoxSet>();
  /** The pod-independent part (CIDRs, nodes, default routes). */
  readonly staticPart = new Map<string, BoxSet>();
  /** The non-host prefixes among the entries. */
  readonly cidrs = new Map<string, PrefixInfo>();
  readonly staticBoxes: Box[] = [];
  readonly named: NamedPort[] = [];
  readonly selections: Selection[] = [];
  private readonly selectionOf = new Map<PeerModel, Selection>();
  readonly anyPeer: boolean;
  readonly hasPodsPeer: boolean;
  readonly hasDomain: boolean;
  /** A `nodes` peer: its static part follows Node labels and addresses. */
  readonly hasNodesPeer: boolean;
  /** Endpoint directions using the variant (opaque to this module). */
  readonly users = new Set<object>();

  constructor(
    readonly key: string,
    readonly direction: Direction,
    readonly rule: RuleModel,
    readonly slot: number,
    local: PodEntry,
    selections: SelectionIndex,
  ) {
    this.anyPeer = rule.peers === 'any';
    this.hasPodsPeer = rule.peers !== 'any' && rule.peers.some((p) => p.kind === 'pods');
    this.hasDomain = rule.peers !== 'any' && rule.peers.some((p) => p.kind === 'domainNames');
    this.hasNodesPeer = rule.peers !== 'any' && rule.peers.some((p) => p.kind === 'nodes');
    if (rule.ports === 'any') this.staticBoxes.push(ANY_BOX);
    else {
      for (const p of rule.ports) {
        if (p.kind === 'range') this.staticBoxes.push({ proto: PROTO_NUM[p.protocol], lo: p.start, hi: p.end, slot: 0 });
        else if (p.kind === 'allPorts') this.staticBoxes.push({ proto: PROTO_NUM[p.protocol], lo: 1, hi: 65535, slot: 0 });
        else if (direction === 'Ingress') {
          for (const np of namedMatches(local, p)) this.staticBoxes.push({ proto: PROTO_NUM[np.protocol], lo: np.port, hi: np.port, slot: 0 });
        } else this.named.push(p);
      }
    }
    if (rule.peers !== 'any') {
      for (const p of rule.peers) {
        if (p.kind !== 'pods') continue;
        const s = selections.acquire(p);
        this.selections.push(s);
        this.selectionOf.set(p, s);
      }
    }
  }

  /** Whether a pods peer of the rule selects the pod (never a host-network pod). */
  private selected(pod: PodEntry): boolean {
    return !pod.hostNetwork && this.selections.some((s) => s.members.has(pod.key));
  }

  private peerHasPodIP(peer: PeerModel, pod: PodEntry, ip: IPAddress, view: ClusterView): boolean {
    switch (peer.kind) {
      case 'pods':
        return !pod.hostNetwork && (this.selectionOf.get(peer)?.members.has(pod.key) ?? false);
      case 'ipBlock':
        return ipBlockContains(peer.block, ip);
      case 'networks':
        return peer.cidrs.some((c) => cidrContainsIP(c, ip));
      case 'nodes':
        return view.nodesAt(ip).some((n) => selectorMatches(peer.selector, n.labels));
      case 'domainNames':
        return false;
    }
  }

  /** Builds every prefix from scratch (first use). */
  build(view: ClusterView, boxes: BoxInterner, splits: (peer: Extract<PeerModel, { kind: 'ipBlock' }>) => Cidr[]): void {
    const acc = new Map<string, { prefix: PrefixInfo; boxes: Box[] }>();
    const add = (cidr: Cidr, bs: readonly Box[]): void => {
      const info = prefixInfo(cidr);
      const have = acc.get(info.key);
      if (have) have.boxes.push(...bs);
      else acc.set(info.key, { prefix: info, boxes: [...bs] });
    };
    const rule = this.rule;
    if (this.staticBoxes.length > 0) {
      if (rule.peers === 'any') {
        add(ALL_V4, this.staticBoxes);
        add(ALL_V6, this.staticBoxes);
      } else {
        for (const peer of rule.peers) {
          switch (peer.kind) {
            case 'domainNames':
              if (this.direction === 'Egress') {
                const withSlot = this.staticBoxes.map((b) => ({ ...b, slot: this.slot }));
                add(ALL_V4, withSlot);
                add(ALL_V6, withSlot);
              }
              break;
            case 'ipBlock':
              for (const c of splits(peer)) add(c, this.staticBoxes);
              break;
            case 'networks':
              for (const c of peer.cidrs) add(c, this.staticBoxes);
              break;
            case 'nodes':
              for (const n of view.nodes.values()) if (selectorMatches(peer.selector, n.labels)) for (const a of n.addresses) add(hostCidr(a), this.staticBoxes);
              break;
            case 'pods':
              break;
          }
        }
      }
    }
    for (const [k, v] of acc) {
      const set = boxes.intern(v.boxes);
      this.staticPart.set(k, set);
      this.entries.set(k, set);
      if (!v.prefix.host) this.cidrs.set(k, v.prefix);
    }
    // Host prefixes: the addresses of selected pods, of pods with a named port, of Services.
    const hosts = new Map<string, IPAddress>();
    const ownIPs = (pod: PodEntry): void => {
      for (const ip of view.ownedIPs(pod)) hosts.set(ipKey(ip), ip);
    };
    const services = new Set<ServiceView>();
    const egressServices = this.direction === 'Egress' && (this.anyPeer || this.hasPodsPeer);
    for (const s of this.selections) {
      for (const key of s.members) {
        const pod = view.pods.get(key);
        if (!pod) continue;
        if (this.staticBoxes.length > 0) ownIPs(pod);
        if (egressServices) for (const ip of view.ownedIPs(pod)) for (const svc of view.servicesListing(ip)) services.add(svc);
      }
    }
    if (this.direction === 'Egress') for (const p of this.named) for (const pod of view.podsWithNamedPort(p.name)) ownIPs(pod);
    if (egressServices && this.anyPeer) for (const svc of view.services.values()) services.add(svc);
    for (const svc of services) for (const ip of view.serviceClusterIPs(svc)) hosts.set(ipKey(ip), ip);
    for (const ip of hosts.values()) this.refreshHost(ip, view, boxes);
  }

  /**
   * A Node changed: recomputes the static part at host address `ip` (what build() puts there from
   * node addresses, and from ipBlocks or networks naming exactly that host), then the whole host
   * prefix. Returns its key if the contribution changed.
   */
  refreshStaticHost(ip: IPAddress, view: ClusterView, boxes: BoxInterner, splits: (peer: Extract<PeerModel, { kind: 'ipBlock' }>) => Cidr[]): string | null {
    const key = `${ipKey(ip)}/${familyBits(ip.family)}`;
    const found: Box[] = [];
    if (this.staticBoxes.length > 0 && this.rule.peers !== 'any') {
      const isHere = (c: Cidr): boolean => c.family === ip.family && c.prefixLength === familyBits(ip.family) && c.base === ip.value;
      for (const peer of this.rule.peers) {
        if (peer.kind === 'ipBlock' ? splits(peer).some(isHere) : peer.kind === 'networks' ? peer.cidrs.some(isHere) : peer.kind === 'nodes' && view.nodesAt(ip).some((n) => selectorMatches(peer.selector, n.labels))) {
          found.push(...this.staticBoxes);
        }
      }
    }
    if (found.length > 0) this.staticPart.set(key, boxes.intern(found));
    else this.staticPart.delete(key);
    return this.refreshHost(ip, view, boxes);
  }

  /**
   * Recomputes the host prefix of `ip`; returns its key if the contribution changed. `ip` must
   * be the address object of the pod or Service that holds it, or any equal address.
   */
  refreshHost(ip: IPAddress, view: ClusterView, boxes: BoxInterner): string | null {
    const addr = ipKey(ip);
    const key = `${addr}/${familyBits(ip.family)}`;
    const found = this.hostBoxes(addr, ip, view);
    const st = this.staticPart.get(key);
    if (st) found.push(...st.boxes);
    const before = this.entries.get(key);
    if (found.length === 0) {
      if (!before) return null;
      this.entries.delete(key);
      return key;
    }
    const set = boxes.intern(found);
    if (before === set) return null;
    this.entries.set(key, set);
    return key;
  }

  /** The pod- and Service-dependent boxes at one host address. */
  private hostBoxes(addr: string, ip: IPAddress, view: ClusterView): Box[] {
    const out: Box[] = [];
    const owner = view.podAtKey(addr);
    if (owner) {
      if (this.staticBoxes.length > 0 && this.selected(owner)) out.push(...this.staticBoxes);
      if (this.direction === 'Egress') {
        for (const p of this.named) for (const np of namedMatches(owner, p)) {
          const box: Box = { proto: PROTO_NUM[np.protocol], lo: np.port, hi: np.port, slot: 0 };
          const peers = this.rule.peers;
          if (peers === 'any') {
            out.push(box);
            continue;
          }
          if (peers.some((peer) => this.peerHasPodIP(peer, owner, ip, view))) out.push(box);
          if (this.slot !== 0 && this.hasDomain) out.push({ ...box, slot: this.slot });
        }
      }
      return out;
    }
    if (this.direction !== 'Egress' || !(this.anyPeer || this.hasPodsPeer)) return out;
    const svc = view.serviceAtKey(addr);
    if (!svc) return out;
    for (const sp of svc.ports) {
      const hit = view.backends(svc, sp.protocol, sp.port).some((b) => {
        if (!this.anyPeer && !this.selected(b.pod)) return false;
        const target: Target = { ip: b.ip, pod: b.pod, nodes: [], port: b.targetPort, portOwner: b.pod, viaService: svc.key };
        return portsMatch(this.rule.ports, sp.protocol, target);
      });
      if (hit) out.push({ proto: PROTO_NUM[sp.protocol], lo: sp.port, hi: sp.port, slot: 0 });
    }
    return out;
  }
}

/** All variants of one compiler, by content, with the indexes a pod change needs. */
export class VariantRegistry {
  private readonly byKey = new Map<string, RuleVariant>();
  private readonly bySelection = new Map<Selection, Set<RuleVariant>>();
  private readonly byNamedPort = new Map<string, Set<RuleVariant>>();
  private readonly anyEgress = new Set<RuleVariant>();
  private readonly splitCache = new WeakMap<PeerModel, Cidr[]>();
  readonly boxes = new BoxInterner();

  constructor(
    private readonly view: ClusterView,
    private readonly selections: SelectionIndex,
  ) {}

  private readonly splits = (peer: Extract<PeerModel, { kind: 'ipBlock' }>): Cidr[] => {
    let s = this.splitCache.get(peer);
    if (!s) this.splitCache.set(peer, (s = subtractCidrs(peer.block.cidr, peer.block.except)));
    return s;
  };

  acquire(direction: Direction, rule: RuleModel, slot: number, local: PodEntry, user: object): RuleVariant {
    const key = variantKey(direction, rule, slot, local);
    let v = this.byKey.get(key);
    if (!v) {
      v = new RuleVariant(key, direction, rule, slot, local, this.selections);
      v.build(this.view, this.boxes, this.splits);
      this.byKey.set(key, v);
      for (const s of v.selections) addTo(this.bySelection, s, v);
      if (direction === 'Egress') for (const p of v.named) addTo(this.byNamedPort, p.name, v);
      if (direction === 'Egress' && v.anyPeer) this.anyEgress.add(v);
    }
    v.users.add(user);
    return v;
  }

  release(v: RuleVariant, user: object): void {
    v.users.delete(user);
    if (v.users.size > 0 || this.byKey.get(v.key) !== v) return;
    this.byKey.delete(v.key);
    for (const s of v.selections) {
      removeFrom(this.bySelection, s, v);
      this.selections.release(s);
    }
    for (const p of v.named) removeFrom(this.byNamedPort, p.name, v);
    this.anyEgress.delete(v);
  }

  /**
   * Pods appeared, changed, went or gained/lost an address to another pod (the view and the
   * selections already reflect it; `touched` are the selections that held or hold any of them):
   * recompute the host prefixes they can affect. Returns, per variant, the prefix keys that changed.
   */
  podChanged(pods: readonly PodEntry[], touched: Iterable<Selection>): Map<RuleVariant, string[]> {
    const ips = new Map<string, IPAddress>();
    for (const p of pods) for (const ip of p.ips) ips.set(ipKey(ip), ip);
    const clusterIPs = new Map<string, IPAddress>();
    let podOnClusterIP = false;
    for (const ip of ips.values()) {
      for (const svc of this.view.servicesListing(ip)) for (const c of svc.clusterIPs) clusterIPs.set(ipKey(c), c);
      if (this.view.serviceAtKey(ipKey(ip))) podOnClusterIP = true;
    }
    const variants = new Set<RuleVariant>();
    for (const s of touched) for (const v of this.bySelection.get(s) ?? []) variants.add(v);
    for (const p of pods) for (const np of p.namedPorts) for (const v of this.byNamedPort.get(np.name) ?? []) variants.add(v);
    if (clusterIPs.size > 0) for (const v of this.anyEgress) variants.add(v);
    // A pod holding a ClusterIP hides that Service's prefix from every rule that could match it.
    if (podOnClusterIP) for (const v of this.byKey.values()) if (v.direction === 'Egress' && (v.anyPeer || v.hasPodsPeer)) variants.add(v);
    return this.refresh(variants, [...ips.values(), ...clusterIPs.values()]);
  }

  /**
   * A Node's labels or addresses changed (the view already reflects it): recompute, at its old
   * and new addresses, every rule with a `nodes` peer (static part and all).
   */
  nodeChanged(addresses: readonly IPAddress[]): Map<RuleVariant, string[]> {
    const out = new Map<RuleVariant, string[]>();
    if (addresses.length === 0) return out;
    for (const v of this.byKey.values()) {
      if (!v.hasNodesPeer) continue;
      const changed: string[] = [];
      for (const ip of addresses) {
        const k = v.refreshStaticHost(ip, this.view, this.boxes, this.splits);
        if (k !== null) changed.push(k);
      }
      if (changed.length > 0) out.set(v, changed);
    }
    return out;
  }

  /** A Service or its EndpointSlices changed: recompute its ClusterIPs in every rule that may match them. */
  serviceChanged(clusterIPs: readonly IPAddress[]): Map<RuleVariant, string[]> {
    const variants = [...this.byKey.values()].filter((v) => v.direction === 'Egress' && (v.anyPeer || v.hasPodsPeer));
    return this.refresh(variants, clusterIPs);
  }

  private refresh(variants: Iterable<RuleVariant>, ips: readonly IPAddress[]): Map<RuleVariant, string[]> {
    const out = new Map<RuleVariant, string[]>();
    for (const v of variants) {
      const changed: string[] = [];
      for (const ip of ips) {
        const k = v.refreshHost(ip, this.view, this.boxes);
        if (k !== null) changed.push(k);
      }
      if (changed.length > 0) out.set(v, changed);
    }
    return out;
  }
}

export function serviceIPs(views: readonly (ServiceView | undefined)[]): IPAddress[] {
  const out = new Map<string, IPAddress>();
  for (const v of views) for (const ip of v?.clusterIPs ?? []) out.set(ipKey(ip), ip);
  return [...out.values()];
}

function addTo<K, V>(m: Map<K, Set<V>>, k: K, v: V): void {
  let s = m.get(k);
  if (!s) m.set(k, (s = new Set()));
  s.add(v);
}

function removeFrom<K, V>(m: Map<K, Set<V>>, k: K, v: V): void {
  const s = m.get(k);
  if (!s) return;
  s.delete(v);
  if (s.size === 0) m.delete(k);
}
