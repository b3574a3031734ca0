// Whether one rule matches one remote end and port (SEMANTICS.md section 4).
import type { PodEntry, NodeEntry } from './cluster-index.js';
import { findNamedPorts } from './cluster-index.js';
import { cidrContainsIP, ipBlockContains } from './cidr.js';
import { type IPAddress, formatIP } from './ip.js';
import type { LearnedIndex, LearnedIP } from './learned.js';
import type { Direction, PeerModel, PodSelection, PortModel, RuleModel } from './model.js';
import { selectorMatches } from './selector.js';
import type { FlowProtocol } from './verdict.js';

/**
 * One candidate remote end of a rule. Usually the flow's other end; for egress to a Service
 * ClusterIP, also each backend pod with the Service port translated to its target port.
 */
export interface Target {
  readonly ip: IPAddress;
  /** The remote pod, host-network pods included (pod peers then skip it). */
  readonly pod: PodEntry | null;
  readonly nodes: readonly NodeEntry[];
  /** Destination port on this target (undefined for ICMP). */
  readonly port: number | undefined;
  /** The pod whose container ports name the destination port: always the DESTINATION pod. */
  readonly portOwner: PodEntry | null;
  /** Set for a Service backend: only pod-selecting peers (and "any") may match it. */
  readonly viaService: string | null;
}

export interface MatchContext {
  readonly direction: Direction;
  /** The enforcing pod (source for egress, destination for ingress). */
  readonly local: PodEntry;
  readonly protocol: FlowProtocol;
  readonly now: number;
  /** The options' learned IPs, plus the flow's own `fqdn` learning when it has one. */
  readonly learned: readonly LearnedIndex[];
}

/** Memoised pod-selection tests: the same selection objects are asked about the same pods. */
export class SelectionCache {
  private readonly cache = new WeakMap<PodSelection, Map<string, boolean>>();

  selects(sel: PodSelection, pod: PodEntry): boolean {
    let perPod = this.cache.get(sel);
    if (!perPod) {
      perPod = new Map();
      this.cache.set(sel, perPod);
    }
    let hit = perPod.get(pod.key);
    if (hit === undefined) {
      const nsOk =
        sel.namespaces.kind === 'same'
          ? pod.namespace === sel.namespaces.namespace
          : selectorMatches(sel.namespaces.selector, pod.namespaceLabels);
      hit = nsOk && selectorMatches(sel.podSelector, pod.labels);
      perPod.set(pod.key, hit);
    }
    return hit;
  }
}

export function portsMatch(ports: RuleModel['ports'], protocol: FlowProtocol, target: Target): boolean {
  if (ports === 'any') return true;
  // A rule that lists ports never matches ICMP, which has none.
  if (protocol === 'ICMP' || target.port === undefined) return false;
  const port = target.port;
  return ports.some((p: PortModel) => {
    switch (p.kind) {
      case 'range':
        return p.protocol === protocol && p.start <= port && port <= p.end;
      case 'allPorts':
        return p.protocol === protocol;
      case 'named': {
        // An IP with no pod has no named ports. A name may be on several containers: any of its
        // ports with the flow's protocol (and the rule's, when it states one) and number matches.
        const owned = target.portOwner ? findNamedPorts(target.portOwner, p.name) : [];
        return owned.some((np) => np.protocol === protocol && np.port === port && (p.protocol === null || p.protocol === np.protocol));
      }
    }
  });
}

export function peerMatches(peer: PeerModel, target: Target, ctx: MatchContext, selections: SelectionCache): boolean {
  if (peer.kind === 'pods') {
    // Host-network pods are never selected as peers: their traffic carries the node's IP.
    return target.pod !== null && !target.pod.hostNetwork && selections.selects(peer, target.pod);
  }
  if (target.viaService !== null) return false;
  switch (peer.kind) {
    case 'ipBlock':
      return ipBlockContains(peer.block, target.ip);
    case 'networks':
      return peer.cidrs.some((c) => cidrContainsIP(c, target.ip));
    case 'nodes':
      return target.nodes.some((n) => selectorMatches(peer.selector, n.labels));
    case 'domainNames': {
      if (ctx.direction !== 'Egress') return false;
      return learnedMatch(peer.patterns, target.ip, ctx) !== undefined;
    }
  }
}

/** The learning that opens `ip` for the local pod under one of `patterns`, if any. */
export function learnedMatch(patterns: readonly string[], ip: IPAddress, ctx: MatchContext): LearnedIP | undefined {
  const key = formatIP(ip);
  for (const source of ctx.learned) {
    const found = source.find(ctx.local.key, key, patterns, ctx.now);
    if (found) return found;
  }
  return undefined;
}

export function ruleMatches(rule: RuleModel, targets: readonly Target[], ctx: MatchContext, selections: SelectionCache): boolean {
  return targets.some(
    (t) => (rule.peers === 'any' || rule.peers.some((p) => peerMatches(p, t, ctx, selections))) && portsMatch(rule.ports, ctx.protocol, t),
  );
}
