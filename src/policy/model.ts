// The one internal model of every accepted policy kind. The evaluator and the compiler both
// consume it, so every defaulting rule of the APIs (policyTypes, port protocol, EKS rule
// precedence, NetworkPolicy peer scoping) is applied here once, and nowhere else.
import type {
  ApplicationNetworkPolicy,
  ClusterNetworkPolicy,
  ClusterNetworkPolicySubject,
  EksPort,
  IPBlock,
  LabelSelector,
  NetworkPolicy,
  NetworkPolicyPeer,
  NetworkPolicyPort,
  PolicyType,
  Protocol,
  RuleAction,
  Tier,
  UpstreamProtocol,
  ApplicationNetworkPolicyPeer,
  EksEgressPeer,
  ClusterState,
} from '../api/types.js';
import { objectRef } from '../api/types.js';
import { type Cidr, type IPBlockModel, InvalidCidrError, parseCidr } from './cidr.js';

export type Direction = 'Ingress' | 'Egress';
export const DIRECTIONS: readonly Direction[] = ['Egress', 'Ingress'];

/** eks = networking.k8s.aws (Deny > Accept > Pass at equal priority); upstream = written order. */
export type RuleGroup = 'eks' | 'upstream';

/** The namespaces a pod selection covers: the policy's own namespace, or those a selector picks. */
export type NamespaceScope =
  | { readonly kind: 'same'; readonly namespace: string }
  | { readonly kind: 'selector'; readonly selector: LabelSelector };

/** A set of pods: namespace scope AND pod selector. Never includes host-network pods as a peer. */
export interface PodSelection {
  readonly namespaces: NamespaceScope;
  readonly podSelector: LabelSelector;
}

/**
 * One peer of a rule. A rule matches a remote end if ANY of its peers does.
 * - pods: NetworkPolicy pod/namespace selectors, CNP `pods` and `namespaces` (as pods with `{}`)
 * - ipBlock: NetworkPolicy CIDR minus except (matches pod and node IPs too)
 * - networks: CNP CIDR list (any address of the CIDR's family)
 * - nodes: CNP node selector, matched against the nodes' addresses
 * - domainNames: patterns matched against the local pod's learned IPs (egress only)
 */
export type PeerModel =
  | ({ readonly kind: 'pods' } & PodSelection)
  | { readonly kind: 'ipBlock'; readonly block: IPBlockModel }
  | { readonly kind: 'networks'; readonly cidrs: readonly Cidr[] }
  | { readonly kind: 'nodes'; readonly selector: LabelSelector }
  | { readonly kind: 'domainNames'; readonly patterns: readonly string[] };

/**
 * One port entry. A rule matches a (protocol, port) if ANY entry does.
 * - range: [start, end] of one protocol (a single port has start === end)
 * - allPorts: every port of one protocol (NetworkPolicy protocol without port, CNP tcp: {})
 * - named: a container port name of the destination pod; `protocol` null = whatever protocol the
 *   container port declares (CNP), else it must equal it (NetworkPolicy, default TCP)
 */
export type PortModel =
  | { readonly kind: 'range'; readonly protocol: Protocol; readonly start: number; readonly end: number }
  | { readonly kind: 'allPorts'; readonly protocol: Protocol }
  | { readonly kind: 'named'; readonly protocol: Protocol | null; readonly name: string };

export interface RuleModel {
  /** Position in the written list (0-based). */
  readonly index: number;
  readonly name: string | null;
  /** What explain reports: the rule's name, else its index. */
  readonly id: string | number;
  /** NetworkPolicy/ApplicationNetworkPolicy rules are all 'Accept'. */
  readonly action: RuleAction;
  /** 'any' = every remote end (a NetworkPolicy rule without from/to). */
  readonly peers: readonly PeerModel[] | 'any';
  /** 'any' = every protocol and port, ICMP included. */
  readonly ports: readonly PortModel[] | 'any';
}

export interface ClusterPolicyModel {
  readonly kind: 'ClusterNetworkPolicy';
  readonly apiVersion: string;
  readonly group: RuleGroup;
  readonly name: string;
  /** "ClusterNetworkPolicy/name". */
  readonly ref: string;
  readonly tier: Tier;
  readonly priority: number;
  readonly subject: PodSelection;
  /**
   * Rules in EVALUATION order: written order for the upstream group; for the EKS group stably
   * sorted Deny, Accept, Pass. First match wins in both cases; `index` keeps the written position.
   */
  readonly ingress: readonly RuleModel[];
  readonly egress: readonly RuleModel[];
}

export interface NamespacedPolicyModel {
  readonly kind: 'NetworkPolicy' | 'ApplicationNetworkPolicy';
  readonly namespace: string;
  readonly name: string;
  /** "Kind/namespace/name". */
  readonly ref: string;
  readonly subject: PodSelection;
  /** After defaulting: Ingress always unless stated; Egress when stated or egress rules exist. */
  readonly policyTypes: readonly Direction[];
  readonly ingress: readonly RuleModel[];
  readonly egress: readonly RuleModel[];
}

export interface PolicyModel {
  /** Sorted by tier (Admin first), priority, then tiebreak order (see comparePolicyNames). */
  readonly cluster: readonly ClusterPolicyModel[];
  /** Sorted by ref. */
  readonly namespaced: readonly NamespacedPolicyModel[];
}

export class PolicyModelError extends Error {
  constructor(
    readonly ref: string,
    readonly field: string,
    readonly reason: string,
  ) {
    super(`${ref}: ${field}: ${reason}`);
    this.name = 'PolicyModelError';
  }
}

const ACTION_RANK: Record<RuleAction, number> = { Deny: 0, Accept: 1, Pass: 2 };

/** Deny < Accept < Pass: the order in which equal-priority actions win. */
export function actionRank(action: RuleAction): number {
  return ACTION_RANK[action];
}

function cidrOf(text: string, ref: string, field: string): Cidr {
  try {
    return parseCidr(text);
  } catch (err) {
    if (err instanceof InvalidCidrError) throw new PolicyModelError(ref, field, err.message);
    throw err;
  }
}

function ipBlockModel(block: IPBlock, ref: string, field: string): IPBlockModel {
  return {
    cidr: cidrOf(block.cidr, ref, `${field}.cidr`),
    except: (block.except ?? []).map((e, i) => cidrOf(e, ref, `${field}.except[${i}]`)),
  };
}

// ------------------------------------------------------------------ NetworkPolicy / ANP

function npPeers(
  peers: readonly (NetworkPolicyPeer | ApplicationNetworkPolicyPeer)[] | undefined,
  namespace: string,
  ref: string,
  field: string,
): readonly PeerModel[] | 'any' {
  if (peers === undefined || peers.length === 0) return 'any';
  const out: PeerModel[] = [];
  peers.forEach((peer, i) => {
    const f = `${field}[${i}]`;
    if (peer.ipBlock) out.push({ kind: 'ipBlock', block: ipBlockModel(peer.ipBlock, ref, `${f}.ipBlock`) });
    if ('domainNames' in peer && peer.domainNames) out.push({ kind: 'domainNames', patterns: [...peer.domainNames] });
    if (peer.podSelector || peer.namespaceSelector) {
      out.push({
        kind: 'pods',
        // podSelector alone = the policy's namespace; namespaceSelector (alone or with podSelector) = AND.
        namespaces: peer.namespaceSelector ? { kind: 'selector', selector: peer.namespaceSelector } : { kind: 'same', namespace },
        podSelector: peer.podSelector ?? {},
      });
    }
  });
  return out;
}

function npPorts(ports: readonly NetworkPolicyPort[] | undefined): readonly PortModel[] | 'any' {
  if (ports === undefined || ports.length === 0) return 'any';
  return ports.map((p): PortModel => {
    const protocol = p.protocol ?? 'TCP';
    if (p.port === undefined) return { kind: 'allPorts', protocol };
    if (typeof p.port === 'string') return { kind: 'named', protocol, name: p.port };
    return { kind: 'range', protocol, start: p.port, end: p.endPort ?? p.port };
  });
}

function defaultPolicyTypes(spec: { policyTypes?: PolicyType[]; egress?: unknown[] }): Direction[] {
  if (spec.policyTypes && spec.policyTypes.length > 0) {
    return DIRECTIONS.filter((d) => spec.policyTypes?.includes(d));
  }
  return (spec.egress?.length ?? 0) > 0 ? ['Egress', 'Ingress'] : ['Ingress'];
}

export function namespacedPolicyModel(policy: NetworkPolicy | ApplicationNetworkPolicy): NamespacedPolicyModel {
  const ref = objectRef(policy);
  const namespace = policy.metadata.namespace;
  const spec = policy.spec;
  return {
    kind: policy.kind,
    namespace,
    name: policy.metadata.name,
    ref,
    subject: { namespaces: { kind: 'same', namespace }, podSelector: spec.podSelector ?? {} },
    policyTypes: defaultPolicyTypes(spec),
    ingress: (spec.ingress ?? []).map((r, i) => ({
      index: i,
      name: null,
      id: i,
      action: 'Accept',
      peers: npPeers(r.from, namespace, ref, `spec.ingress[${i}].from`),
      ports: npPorts(r.ports),
    })),
    egress: (spec.egress ?? []).map((r, i) => ({
      index: i,
      name: null,
      id: i,
      action: 'Accept',
      peers: npPeers(r.to, namespace, ref, `spec.egress[${i}].to`),
      ports: npPorts(r.ports),
    })),
  };
}

// ------------------------------------------------------------------ ClusterNetworkPolicy (both shapes)

function subjectModel(subject: ClusterNetworkPolicySubject): PodSelection {
  if (subject.pods) {
    return { namespaces: { kind: 'selector', selector: subject.pods.namespaceSelector ?? {} }, podSelector: subject.pods.podSelector };
  }
  // The validator guarantees exactly one field; a subject with neither selects nothing.
  if (subject.namespaces) return { namespaces: { kind: 'selector', selector: subject.namespaces }, podSelector: {} };
  return { namespaces: { kind: 'selector', selector: { matchExpressions: [{ key: 'x', operator: 'In', values: [] }] } }, podSelector: {} };
}

function cnpPeers(peers: readonly EksEgressPeer[], ref: string, field: string): PeerModel[] {
  const out: PeerModel[] = [];
  peers.forEach((peer, i) => {
    const f = `${field}[${i}]`;
    if (peer.namespaces) out.push({ kind: 'pods', namespaces: { kind: 'selector', selector: peer.namespaces }, podSelector: {} });
    if (peer.pods) {
      // Upstream namespaceSelector is optional (a struct, not a pointer): absent = all namespaces.
      out.push({ kind: 'pods', namespaces: { kind: 'selector', selector: peer.pods.namespaceSelector ?? {} }, podSelector: peer.pods.podSelector });
    }
    if (peer.nodes) out.push({ kind: 'nodes', selector: peer.nodes });
    if (peer.networks) out.push({ kind: 'networks', cidrs: peer.networks.map((n, j) => cidrOf(n, ref, `${f}.networks[${j}]`)) });
    if (peer.domainNames) out.push({ kind: 'domainNames', patterns: [...peer.domainNames] });
  });
  return out;
}

function eksPorts(ports: readonly EksPort[] | undefined): readonly PortModel[] | 'any' {
  if (ports === undefined || ports.length === 0) return 'any';
  return ports.flatMap((p): PortModel[] => {
    if (p.portNumber) return [{ kind: 'range', protocol: p.portNumber.protocol, start: p.portNumber.port, end: p.portNumber.port }];
    if (p.portRange) return [{ kind: 'range', protocol: p.portRange.protocol, start: p.portRange.start, end: p.portRange.end }];
    if (p.namedPort !== undefined) return [{ kind: 'named', protocol: null, name: p.namedPort }];
    return [];
  });
}

function upstreamPorts(protocols: readonly UpstreamProtocol[] | undefined): readonly PortModel[] | 'any' {
  if (protocols === undefined || protocols.length === 0) return 'any';
  return protocols.flatMap((p): PortModel[] => {
    if (p.destinationNamedPort !== undefined) return [{ kind: 'named', protocol: null, name: p.destinationNamedPort }];
    const entries: [Protocol, UpstreamProtocol['tcp']][] = [
      ['TCP', p.tcp],
      ['UDP', p.udp],
      ['SCTP', p.sctp],
    ];
    return entries.flatMap(([protocol, match]): PortModel[] => {
      if (!match) return [];
      const dp = match.destinationPort;
      if (dp?.number !== undefined) return [{ kind: 'range', protocol, start: dp.number, end: dp.number }];
      if (dp?.range) return [{ kind: 'range', protocol, start: dp.range.start, end: dp.range.end }];
      return [{ kind: 'allPorts', protocol }];
    });
  });
}

interface WrittenCnpRule {
  name?: string;
  action: RuleAction;
  peers: readonly EksEgressPeer[];
  ports: readonly PortModel[] | 'any';
}

function cnpRules(rules: readonly WrittenCnpRule[], group: RuleGroup, ref: string, field: string): RuleModel[] {
  const models = rules.map(
    (r, i): RuleModel => ({
      index: i,
      name: r.name ?? null,
      id: r.name ?? i,
      action: r.action,
      peers: cnpPeers(r.peers, ref, `${field}[${i}]`),
      ports: r.ports,
    }),
  );
  if (group === 'upstream') return models;
  // EKS: precedence by action, written order only among equal actions (Array.prototype.sort is stable).
  return [...models].sort((a, b) => actionRank(a.action) - actionRank(b.action) || a.index - b.index);
}

export function clusterPolicyModel(policy: ClusterNetworkPolicy): ClusterPolicyModel {
  const ref = objectRef(policy);
  const base = {
    kind: 'ClusterNetworkPolicy' as const,
    apiVersion: policy.apiVersion,
    name: policy.metadata.name,
    ref,
    tier: policy.spec.tier,
    priority: policy.spec.priority,
    subject: subjectModel(policy.spec.subject),
  };
  if (policy.apiVersion === 'networking.k8s.aws/v1alpha1') {
    const s = policy.spec;
    return {
      ...base,
      group: 'eks',
      ingress: cnpRules((s.ingress ?? []).map((r) => ({ ...r, peers: r.from, ports: eksPorts(r.ports) })), 'eks', ref, 'spec.ingress'),
      egress: cnpRules((s.egress ?? []).map((r) => ({ ...r, peers: r.to, ports: eksPorts(r.ports) })), 'eks', ref, 'spec.egress'),
    };
  }
  const s = policy.spec;
  return {
    ...base,
    group: 'upstream',
    ingress: cnpRules((s.ingress ?? []).map((r) => ({ ...r, peers: r.from, ports: upstreamPorts(r.protocols) })), 'upstream', ref, 'spec.ingress'),
    egress: cnpRules((s.egress ?? []).map((r) => ({ ...r, peers: r.to, ports: upstreamPorts(r.protocols) })), 'upstream', ref, 'spec.egress'),
  };
}

/**
 * Deterministic order of two cluster policies of the same tier and priority when their verdicts
 * tie on action: kind, then name, then apiVersion (so the EKS and upstream CNPs of one name differ).
 */
export function comparePolicyNames(a: ClusterPolicyModel, b: ClusterPolicyModel): number {
  return cmp(a.kind, b.kind) || cmp(a.name, b.name) || cmp(a.apiVersion, b.apiVersion);
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

const TIER_RANK: Record<Tier, number> = { Admin: 0, Baseline: 1 };

export function buildPolicyModel(state: ClusterState): PolicyModel {
  const cluster = state.clusterNetworkPolicies
    .map(clusterPolicyModel)
    .sort((a, b) => TIER_RANK[a.tier] - TIER_RANK[b.tier] || a.priority - b.priority || comparePolicyNames(a, b));
  const namespaced = [...state.networkPolicies, ...state.applicationNetworkPolicies]
    .map(namespacedPolicyModel)
    .sort((a, b) => cmp(a.ref, b.ref));
  return { cluster, namespaced };
}
