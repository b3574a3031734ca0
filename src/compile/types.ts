// What the compiler produces for one node: per local pod (endpoint) its config and, per direction
// and address family, LPM prefixes each carrying the complete ordered rule list the datapath walks
// (bpf/README.md "Decision"). Shapes mirror src/datapath/ebpf/layout.ts field for field, so the
// eBPF backend encodes them without translation; src/compile may not import datapath, hence copies.
import type { CompileDiagnostic } from './diagnostics.js';

export type DirName = 'egress' | 'ingress';
export const DIR_NAMES: readonly DirName[] = ['egress', 'ingress'];
export type FamilyNumber = 4 | 6;
export type RuleTier = 'admin' | 'np' | 'baseline';
export type RuleAction = 'accept' | 'deny' | 'pass';
export type ModeName = 'notEnforced' | 'standard' | 'strict';

/** IP protocol numbers a rule may carry (0 = any protocol). */
export const PROTO = { any: 0, icmp: 1, tcp: 6, udp: 17, icmpv6: 58, sctp: 132 } as const;

/** One entry of a prefix's rule list (layout.ts `Rule`). portLo = portHi = 0 means any port. */
export interface CompiledRule {
  readonly proto: number;
  readonly portLo: number;
  readonly portHi: number;
  readonly tier: RuleTier;
  readonly action: RuleAction;
  readonly fqdn: boolean;
  /** 0 when `fqdn` is false. */
  readonly fqdnSlot: number;
  readonly ruleId: number;
}

export interface PrefixEntry {
  /** Canonical "addr/len". */
  readonly cidr: string;
  readonly family: FamilyNumber;
  /** Network address, canonical text. */
  readonly addr: string;
  readonly prefixLen: number;
  readonly rules: readonly CompiledRule[];
  /** Compact text of `rules`: equal keys = equal lists (what diff compares). */
  readonly key: string;
}

export interface DirectionTable {
  /** Some NetworkPolicy/ApplicationNetworkPolicy selects the pod for this direction. */
  readonly isolated: boolean;
  /** Keyed by `cidr`; both families in one map (the cidr text tells them apart). */
  readonly prefixes: ReadonlyMap<string, PrefixEntry>;
  /** True when a capacity or ordering problem replaced the table by the fail-closed fallback. */
  readonly fallback: boolean;
}

/** layout.ts `EndpointConfig` minus the backend's own knobs (allowSample, noCtInsert). */
export interface EndpointConfig {
  readonly epId: number;
  readonly mode: ModeName;
  readonly egressIsolated: boolean;
  readonly ingressIsolated: boolean;
  readonly podIp4?: string;
  readonly podIp6?: string;
  readonly nodeIp4?: string;
  readonly nodeIp6?: string;
}

export interface CompiledEndpoint {
  /** "namespace/name" of the pod (the Datapath's endpoint id). */
  readonly key: string;
  readonly epId: number;
  readonly config: EndpointConfig;
  readonly egress: DirectionTable;
  readonly ingress: DirectionTable;
  /** FQDN slots the pod's egress rules use: the proxy learns (pod, slot, ip) only for these. */
  readonly slots: readonly number[];
}

/** What a rule id in an event or conntrack entry stands for. */
export interface RuleRef {
  readonly ruleId: number;
  /** "Kind/namespace/name" or "Kind/name"; a reserved id names no policy. */
  readonly policy: string | null;
  readonly direction: 'Egress' | 'Ingress' | null;
  /** The rule's name, else its written index (as the evaluator reports it). */
  readonly rule: string | number | null;
  readonly tier: 'Admin' | 'NetworkPolicy' | 'Baseline' | null;
  readonly note?: string;
}

/**
 * One FQDN slot = one egress rule's domainNames (all patterns of all its domainNames peers). A
 * learned (pod, name, ip) satisfies slot s iff the pod's endpoint uses s and name matches one of
 * s's patterns. `rule` is the Datapath's `DomainRuleRef.rule` ("<policy ref>/egress/<index>").
 */
export interface FqdnSlot {
  readonly slot: number;
  readonly rule: string;
  readonly policy: string;
  readonly ruleIndex: number;
  readonly patterns: readonly string[];
}

export interface CompiledNode {
  readonly endpoints: ReadonlyMap<string, CompiledEndpoint>;
  readonly slots: ReadonlyMap<number, FqdnSlot>;
  readonly rules: ReadonlyMap<number, RuleRef>;
  readonly diagnostics: readonly CompileDiagnostic[];
  readonly maxRules: number;
}

/** Rule ids with no policy behind them. Policy rule ids start at FIRST_POLICY_RULE_ID. */
export const RESERVED_RULE_ID = {
  /** The fail-closed fallback of an endpoint direction whose table could not be compiled exactly. */
  fallbackDeny: 1,
  /** A second pod IP or node address of the endpoint (the endpoint config holds one per family). */
  implicitAllow: 2,
} as const;
export const FIRST_POLICY_RULE_ID = 16;

/** layout.ts MAX_RULES (src/compile may not import datapath; test/compile checks they agree). */
export const DEFAULT_MAX_RULES = 64;
/** layout.ts POLICY_V4_MAX / POLICY_V6_MAX: LPM entries per family for the whole node. */
export const DEFAULT_MAX_PREFIXES_PER_FAMILY = 65536;
/** layout.ts MAX_ENDPOINTS: ep ids are 1..MAX-1. */
export const DEFAULT_MAX_ENDPOINTS = 4096;
