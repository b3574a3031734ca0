// Where one rule matches, for one endpoint direction: a list of (prefix, boxes). Pod selectors
// become the selected pods' own IPs, nodes their addresses, ipBlocks their CIDR minus except
// (split into prefixes), networks their CIDRs, domainNames a slot-guarded entry on 0.0.0.0/0 and
// ::/0. Named ports resolve against the destination pod (egress: per destination pod IP; ingress:
// the local pod), and egress rules selecting Service backends also match the ClusterIP at the
// Service port, exactly as src/policy/match.ts and evaluate.ts decide for one flow.
import { findNamedPort, type PodEntry } from '../policy/cluster-index.js';
import { type Cidr, cidrContainsIP, hostCidr, ipBlockContains, parseCidr, subtractCidrs } from '../policy/cidr.js';
import type { IPAddress } from '../policy/ip.js';
import { type Target, portsMatch } from '../policy/match.js';
import type { Direction, PeerModel, PodSelection, PortModel, RuleModel } from '../policy/model.js';
import { selectorMatches } from '../policy/selector.js';
import { ANY_BOX, type Box } from './boxes.js';
import type { ClusterView } from './cluster-view.js';
import { PROTO } from './types.js';

export interface Contribution {
  readonly cidr: Cidr;
  readonly boxes: readonly Box[];
}

export const ALL_V4: Cidr = parseCidr('0.0.0.0/0');
export const ALL_V6: Cidr = parseCidr('::/0');

const PROTO_NUM = { TCP: PROTO.tcp, UDP: PROTO.udp, SCTP: PROTO.sctp } as const;

export function selects(sel: PodSelection, pod: PodEntry): boolean {
  const nsOk = sel.namespaces.kind === 'same' ? pod.namespace === sel.namespaces.namespace : selectorMatches(sel.namespaces.selector, pod.namespaceLabels);
  return nsOk && selectorMatches(sel.podSelector, pod.labels);
}

type PodsPeer = Extract<PeerModel, { kind: 'pods' }>;

/**
 * Peer resolution with caches that survive across compilations: the pods each pod peer selects
 * (kept current pod by pod), ipBlock splits, and each egress rule's complete contribution list.
 */
export class PeerResolver {
  private readonly selected = new Map<PodsPeer, Set<PodEntry>>();
  private readonly splits = new WeakMap<PeerModel, Cidr[]>();
  private readonly egressCache = new Map<RuleModel, Contribution[]>();

  constructor(private readonly view: ClusterView) {}

  selectedPods(peer: PodsPeer): Set<PodEntry> {
    let set = this.selected.get(peer);
    if (!set) {
      set = new Set();
      for (const pod of this.view.pods.values()) if (!pod.hostNetwork && selects(peer, pod)) set.add(pod);
      this.selected.set(peer, set);
    }
    return set;
  }

  /** Keeps pod selections current; returns true if some cached peer selected `pod`. */
  podChanged(removed: PodEntry | undefined, added: PodEntry | undefined): boolean {
    let touched = false;
    for (const [peer, set] of this.selected) {
      if (removed && set.delete(removed)) touched = true;
      if (added && !added.hostNetwork && selects(peer, added)) {
        set.add(added);
        touched = true;
      }
    }
    return touched;
  }

  forgetPeers(peers: Iterable<PodsPeer>): void {
    for (const p of peers) this.selected.delete(p);
  }

  dropEgressCache(rule?: RuleModel): void {
    if (rule) this.egressCache.delete(rule);
    else this.egressCache.clear();
  }

  egressCached(rule: RuleModel): boolean {
    return this.egressCache.has(rule);
  }

  private split(peer: Extract<PeerModel, { kind: 'ipBlock' }>): Cidr[] {
    let s = this.splits.get(peer);
    if (!s) {
      s = subtractCidrs(peer.block.cidr, peer.block.except);
      this.splits.set(peer, s);
    }
    return s;
  }

  /** Prefixes of a non-domain peer (as a direct remote end). */
  private peerCidrs(peer: PeerModel): Cidr[] {
    switch (peer.kind) {
      case 'pods': {
        const out: Cidr[] = [];
        for (const pod of this.selectedPods(peer)) for (const ip of this.view.ownedIPs(pod)) out.push(hostCidr(ip));
        return out;
      }
      case 'ipBlock':
        return this.split(peer);
      case 'networks':
        return [...peer.cidrs];
      case 'nodes': {
        const out: Cidr[] = [];
        for (const n of this.view.nodes.values()) if (selectorMatches(peer.selector, n.labels)) for (const a of n.addresses) out.push(hostCidr(a));
        return out;
      }
      case 'domainNames':
        return [];
    }
  }

  /** Whether a non-domain peer matches the IP of pod `pod` as a direct remote end. */
  private peerHasPodIP(peer: PeerModel, pod: PodEntry, ip: IPAddress): boolean {
    switch (peer.kind) {
      case 'pods':
        return !pod.hostNetwork && this.selectedPods(peer).has(pod);
      case 'ipBlock':
        return ipBlockContains(peer.block, ip);
      case 'networks':
        return peer.cidrs.some((c) => cidrContainsIP(c, ip));
      case 'nodes':
        return this.view.nodesAt(ip).some((n) => selectorMatches(peer.selector, n.labels));
      case 'domainNames':
        return false;
    }
  }

  /**
   * The rule's contributions. `slot` is the rule's FQDN slot (0 if it has no domainNames peer);
   * `local` is the enforcing pod (only ingress named ports depend on it).
   */
  contributions(direction: Direction, rule: RuleModel, slot: number, local: PodEntry): readonly Contribution[] {
    if (direction === 'Ingress') return this.build(direction, rule, slot, local);
    let c = this.egressCache.get(rule);
    if (!c) {
      c = this.build(direction, rule, slot, local);
      this.egressCache.set(rule, c);
    }
    return c;
  }

  private build(direction: Direction, rule: RuleModel, slot: number, local: PodEntry): Contribution[] {
    const out: Contribution[] = [];
    const staticBoxes: Box[] = [];
    const named: Extract<PortModel, { kind: 'named' }>[] = [];
    if (rule.ports === 'any') staticBoxes.push(ANY_BOX);
    else {
      for (const p of rule.ports) {
        if (p.kind === 'range') staticBoxes.push({ proto: PROTO_NUM[p.protocol], lo: p.start, hi: p.end, slot: 0 });
        else if (p.kind === 'allPorts') staticBoxes.push({ proto: PROTO_NUM[p.protocol], lo: 1, hi: 65535, slot: 0 });
        else if (direction === 'Ingress') {
          const np = findNamedPort(local, p.name);
          if (np && (p.protocol === null || p.protocol === np.protocol)) staticBoxes.push({ proto: PROTO_NUM[np.protocol], lo: np.port, hi: np.port, slot: 0 });
        } else named.push(p);
      }
    }
    const withSlot = (boxes: readonly Box[]): Box[] => boxes.map((b) => ({ ...b, slot }));
    if (staticBoxes.length > 0) {
      if (rule.peers === 'any') {
        out.push({ cidr: ALL_V4, boxes: staticBoxes }, { cidr: ALL_V6, boxes: staticBoxes });
      } else {
        for (const peer of rule.peers) {
          if (peer.kind === 'domainNames') {
            if (direction === 'Egress') out.push({ cidr: ALL_V4, boxes: withSlot(staticBoxes) }, { cidr: ALL_V6, boxes: withSlot(staticBoxes) });
            continue;
          }
          for (const cidr of this.peerCidrs(peer)) out.push({ cidr, boxes: staticBoxes });
        }
      }
    }
    if (direction === 'Egress') {
      this.namedEgress(rule, named, slot, out);
      this.services(rule, out);
    }
    return out;
  }

  private namedEgress(rule: RuleModel, named: readonly Extract<PortModel, { kind: 'named' }>[], slot: number, out: Contribution[]): void {
    for (const p of named) {
      for (const pod of this.view.podsWithNamedPort(p.name)) {
        const np = findNamedPort(pod, p.name);
        if (!np || (p.protocol !== null && p.protocol !== np.protocol)) continue;
        const box: Box = { proto: PROTO_NUM[np.protocol], lo: np.port, hi: np.port, slot: 0 };
        for (const ip of this.view.ownedIPs(pod)) {
          if (rule.peers === 'any') {
            out.push({ cidr: hostCidr(ip), boxes: [box] });
            continue;
          }
          const boxes: Box[] = [];
          if (rule.peers.some((peer) => this.peerHasPodIP(peer, pod, ip))) boxes.push(box);
          if (slot !== 0 && rule.peers.some((peer) => peer.kind === 'domainNames')) boxes.push({ ...box, slot });
          if (boxes.length > 0) out.push({ cidr: hostCidr(ip), boxes });
        }
      }
    }
  }

  private services(rule: RuleModel, out: Contribution[]): void {
    if (rule.peers !== 'any' && !rule.peers.some((p) => p.kind === 'pods')) return;
    for (const svc of this.view.services.values()) {
      const cips = this.view.serviceClusterIPs(svc);
      if (cips.length === 0) continue;
      for (const sp of svc.ports) {
        const hit = this.view.backends(svc, sp.protocol, sp.port).some((b) => {
          const peerOk =
            rule.peers === 'any' || (!b.pod.hostNetwork && rule.peers.some((p) => p.kind === 'pods' && this.selectedPods(p).has(b.pod)));
          if (!peerOk) return false;
          const target: Target = { ip: b.ip, pod: b.pod, nodes: [], port: b.targetPort, portOwner: b.pod, viaService: svc.key };
          return portsMatch(rule.ports, sp.protocol, target);
        });
        if (!hit) continue;
        const box: Box = { proto: PROTO_NUM[sp.protocol], lo: sp.port, hi: sp.port, slot: 0 };
        for (const ip of cips) out.push({ cidr: hostCidr(ip), boxes: [box] });
      }
    }
  }
}
