// The contract between dnsgate's control plane and an enforcement backend (eBPF maps or the
// in-memory model). Two callers use it:
//
//   * the DNS proxy (learning side): `learn` / `forget` per-pod FQDN-derived allow entries. The
//     proxy holds an answer until `learn` has resolved ("hold until programmed", SEMANTICS.md 5),
//     so a backend must resolve `learn` only once a NEW connection to those IPs would be allowed.
//   * the reconciler (policy side): `applyNode` with each new compilation of the node
//     (src/compile), `sweep`, events and counters.
//
// Both backends apply the same expiry rule to learned entries: an entry allows new connections
// while `now < expiresAt` (milliseconds since the epoch), and not from `expiresAt` on.
import type { CompiledNode, RuleRef } from '../compile/types.js';

/** Which domain rule a learned entry satisfies: the rule's stable id and the pattern text in it. */
export interface DomainRuleRef {
  /** Stable id of the rule: src/compile's `FqdnSlot.rule` (`<policy ref>/egress/<index>`). */
  readonly rule: string;
  /** The `domainNames` pattern as written in the rule (`api.example.com`, `*.example.com`). */
  readonly pattern: string;
}

/** One learned (pod, name, IP): pod `pod` resolved `name` through the proxy and got `ip`. */
export interface LearnedEntry {
  /** Endpoint identity of the pod (`namespace/name`), as `CompiledEndpoint.key`. */
  readonly pod: string;
  /** The normalized (lower-case, no trailing dot) query name the pod asked for. */
  readonly name: string;
  /** Canonical textual IP (`1.2.3.4`, or the RFC 5952 form of an IPv6 address). */
  readonly ip: string;
  /** Milliseconds since the epoch; the entry stops allowing new connections at this instant. */
  readonly expiresAt: number;
  /**
   * Every domain rule of the pod whose pattern matched `name` when it was learned (kept for
   * logs). Backends place the entry in the FQDN slots of the current compilation whose patterns
   * match `name` (src/compile `slotsForLearned`), which is the evaluator's rule: a learning
   * serves every matching domain rule, including one added after it was learned.
   */
  readonly rules: readonly DomainRuleRef[];
}

/** Identity of a learned entry, enough to remove it. */
export interface LearnedRef {
  readonly pod: string;
  readonly name: string;
  readonly ip: string;
}

// ----------------------------------------------------------------------------------------------
// Reconciler side.

export type Direction = 'ingress' | 'egress';

/**
 * Where an endpoint's pod is plugged in: the ifindex of the host side of its veth (where the tc
 * programs attach), or undefined while it is not known yet (the endpoint is then not enforced;
 * a later `applyNode` picks it up).
 */
export type IfindexOf = (endpoint: string) => number | undefined;

export interface ApplyResult {
  /** Endpoints enforced after this call. */
  readonly enforced: number;
  /** Endpoints of the compilation without an ifindex (not enforced yet). */
  readonly pending: readonly string[];
  readonly prefixesWritten: number;
  readonly prefixesDeleted: number;
  readonly learnedWritten: number;
  readonly learnedDeleted: number;
}

export type DecisionReason = 'rule' | 'npNoMatch' | 'default' | 'nodeIp' | 'self' | 'malformed' | 'notEnforced';

/** A decision the datapath reports (the eBPF ring buffer; the memory backend's `decide`). */
export interface DatapathEvent {
  /** Milliseconds since the epoch. */
  readonly at: number;
  /** The pod (`namespace/name`), or `ep:<id>` for an endpoint id this backend does not know. */
  readonly endpoint: string;
  readonly direction: Direction;
  readonly verdict: 'allow' | 'deny';
  readonly src: string;
  readonly dst: string;
  /** The remote end: destination for egress, source for ingress. */
  readonly peer: string;
  /** IP protocol number (6 TCP, 17 UDP, 132 SCTP, 1 ICMP, 58 ICMPv6, ...). */
  readonly proto: number;
  readonly sport: number;
  readonly dport: number;
  readonly reason: DecisionReason;
  /** The deciding rule's tier when a rule decided (the fail-closed fallback included). */
  readonly tier?: 'Admin' | 'NetworkPolicy' | 'Baseline';
  /** Set when a rule decided (`reason: 'rule'`): which policy rule, in the evaluator's words. */
  readonly rule?: RuleRef;
}

export interface DirectionCounters {
  readonly allowedPackets: number;
  readonly deniedPackets: number;
  readonly newFlows: number;
  readonly eventsLost: number;
}

export interface EndpointCounters {
  readonly egress: DirectionCounters;
  readonly ingress: DirectionCounters;
}

export interface DatapathCounters {
  /** Endpoints enforced (with an ifindex). */
  readonly endpoints: number;
  /** LPM prefix entries written for the current compilation. */
  readonly policyEntries: number;
  /** Learned (pod, name, ip) entries held. */
  readonly learnedEntries: number;
  /** (endpoint, slot, ip) keys those entries program (dg_learned). */
  readonly learnedKeys: number;
  readonly learnCalls: number;
  readonly learnFailures: number;
  /** Packets (eBPF) or decisions (memory) allowed/denied, over every endpoint. */
  readonly allowed: number;
  readonly denied: number;
}

export interface Datapath {
  // ---- learning side (the DNS proxy) --------------------------------------------------------

  /**
   * Program (insert or refresh) learned entries. Resolves only once every entry is in effect;
   * rejects with a typed error if any could not be programmed (the caller then fails closed).
   * Re-learning an existing (pod, name, ip) replaces its rules and extends its expiry (an
   * expiry is never shortened, like src/fqdn's LearnedStore).
   */
  learn(entries: readonly LearnedEntry[]): Promise<void>;

  /**
   * Remove learned entries (expiry sweeps, cap evictions, pod removal). Unknown refs are ignored.
   * An IP stays allowed for a slot while another live name of the pod still maps to it.
   */
  forget(refs: readonly LearnedRef[]): Promise<void>;

  // ---- reconciler side ----------------------------------------------------------------------

  /**
   * Enforce `next`, the node's current compilation: writes only what differs from the last
   * applied one (new entries before old ones are deleted, so no window opens), starts enforcing
   * endpoints whose ifindex is known and stops for the rest.
   */
  applyNode(next: CompiledNode, ifindexOf: IfindexOf): Promise<ApplyResult>;
  /** Removes up to `maxWork` learned entries expired at `now` (epoch ms); returns them. */
  sweep(now: number, maxWork?: number): Promise<LearnedRef[]>;
  /** Subscribe to decision events; returns the unsubscribe function. */
  onEvent(listener: (event: DatapathEvent) => void): () => void;
  counters(): DatapathCounters;
  endpointCounters(endpoint: string): EndpointCounters | undefined;
  close(): Promise<void>;
}
