// The public vocabulary of a verdict: what `dnsgate explain` prints and the datapath is tested against.
import type { LearnedIP } from './learned.js';

export type Verdict = 'Allow' | 'Deny';
export type TierName = 'Admin' | 'NetworkPolicy' | 'Baseline' | 'Default' | 'NotEnforced';
export type FlowProtocol = 'TCP' | 'UDP' | 'SCTP' | 'ICMP';
export const FLOW_PROTOCOLS: readonly FlowProtocol[] = ['TCP', 'UDP', 'SCTP', 'ICMP'];

export interface DirectionVerdict {
  verdict: Verdict;
  tier: TierName;
  /** "Kind/namespace/name" or "Kind/name"; null when no policy decided. */
  policy: string | null;
  /** The deciding rule's name, else its index; null when no rule decided. */
  rule: string | number | null;
  /** One human sentence. */
  reason: string;
}

/**
 * A connection attempt. `from`/`to` are "namespace/pod" or an IP literal. `port` is required for
 * TCP/UDP/SCTP and ignored for ICMP. `fqdn`: `to` was learned by the `from` pod resolving this
 * name now (default TTL), as if it had gone through dnsgate's DNS proxy.
 */
export interface Flow {
  from: string;
  to: string;
  protocol: FlowProtocol;
  port?: number;
  fqdn?: string;
}

export interface FlowVerdict {
  flow: Flow;
  verdict: Verdict;
  egress: DirectionVerdict;
  ingress: DirectionVerdict;
}

export type EnforcementMode = 'standard' | 'strict';

export interface EvalOptions {
  /** What happens when no tier decides: standard = allow (Kubernetes default), strict = deny. */
  mode: EnforcementMode;
  /** Milliseconds (same clock as LearnedIP.expiresAt). */
  now: number;
  /**
   * The learned IPs in force. A frozen array (Object.freeze) is indexed once and the index reused
   * for every call given that same array; any other array is re-indexed on every call, so callers
   * may mutate it between calls, at O(n) per call. Entries themselves must not change.
   */
  learned: readonly LearnedIP[];
}
