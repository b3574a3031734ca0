// The contract between dnsgate's control plane and an enforcement backend (eBPF maps or the
// in-memory model). Two callers use it:
//
//   * the DNS proxy (learning side): `learn` / `forget` per-pod FQDN-derived allow entries. The
//     proxy holds an answer until `learn` has resolved ("hold until programmed", SEMANTICS.md 5),
//     so a backend must resolve `learn` only once a NEW connection to those IPs would be allowed.
//   * the reconciler (policy side): attach/detach endpoints, apply compiled diffs, read events
//     and counters.
//
// Both backends must apply the same expiry rule to learned entries: an entry allows new
// connections while `now < expiresAt` (milliseconds since the epoch), and not from `expiresAt` on.

/** Which domain rule a learned entry satisfies: the rule's stable id and the pattern text in it. */
export interface DomainRuleRef {
  /** Stable id of the rule, e.g. `cnp/allow-api/egress/0` (the compiler chooses the format). */
  readonly rule: string;
  /** The `domainNames` pattern as written in the rule (`api.example.com`, `*.example.com`). */
  readonly pattern: string;
}

/** One learned (pod, name, IP): pod `pod` resolved `name` through the proxy and got `ip`. */
export interface LearnedEntry {
  /** Endpoint identity of the pod (`namespace/name` for pods; the agent's pod key). */
  readonly pod: string;
  /** The normalized (lower-case, no trailing dot) query name the pod asked for. */
  readonly name: string;
  /** Canonical textual IP (`1.2.3.4`, or the RFC 5952 form of an IPv6 address). */
  readonly ip: string;
  /** Milliseconds since the epoch; the entry stops allowing new connections at this instant. */
  readonly expiresAt: number;
  /** Every domain rule of the pod whose pattern matched `name` when it was learned. */
  readonly rules: readonly DomainRuleRef[];
}

/** Identity of a learned entry, enough to remove it. */
export interface LearnedRef {
  readonly pod: string;
  readonly name: string;
  readonly ip: string;
}

// ----------------------------------------------------------------------------------------------
// Reconciler side. Provisional shapes: when src/compile defines its output types these become
// re-exports of them; the memory backend only stores and returns what it is given.

export type Direction = 'ingress' | 'egress';

/** A local pod the datapath enforces, identified like `LearnedEntry.pod`. */
export interface EndpointSpec {
  readonly id: string;
  /** Host-side interface of the pod (veth) the programs attach to; absent in memory. */
  readonly ifname?: string;
  readonly ips: readonly string[];
  /** Which directions are isolated (enforced) for this pod; an absent direction allows all. */
  readonly isolated: { readonly ingress: boolean; readonly egress: boolean };
}

/** One compiled rule entry for one endpoint and direction. */
export interface PolicyEntry {
  /** Unique id of the entry (stable across compiles so diffs stay small). */
  readonly id: string;
  readonly endpoint: string;
  readonly direction: Direction;
  /** Peer prefix in CIDR form; FQDN peers are not here, they come through `learn`. */
  readonly cidr: string;
  readonly protocol: 'tcp' | 'udp' | 'sctp' | 'any';
  readonly portStart: number;
  readonly portEnd: number;
  readonly verdict: 'allow' | 'deny' | 'pass';
  /** Evaluation order: lower first (tier, priority and rule order folded into one number). */
  readonly order: number;
}

export interface PolicyDiff {
  readonly upsert: readonly PolicyEntry[];
  readonly remove: readonly string[];
}

/** A decision the datapath reports (the eBPF ring buffer; the memory backend's `decide`). */
export interface DatapathEvent {
  readonly at: number;
  readonly endpoint: string;
  readonly direction: Direction;
  readonly verdict: 'allow' | 'deny';
  readonly peer: string;
  readonly protocol: string;
  readonly port: number;
  /** Entry id or `learned:<name>` that decided, absent for defaults. */
  readonly by?: string;
}

export interface DatapathCounters {
  readonly endpoints: number;
  readonly policyEntries: number;
  readonly learnedEntries: number;
  readonly learnCalls: number;
  readonly learnFailures: number;
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

  /** Remove learned entries (expiry sweeps, cap evictions, pod removal). Unknown refs are ignored. */
  forget(refs: readonly LearnedRef[]): Promise<void>;

  // ---- reconciler side ----------------------------------------------------------------------

  /** Start enforcing for a local pod (idempotent: re-attaching updates the spec). */
  attach(endpoint: EndpointSpec): Promise<void>;
  /** Stop enforcing for a pod and drop everything learned for it. */
  detach(endpointId: string): Promise<void>;
  /** Apply a compiled diff atomically per endpoint. */
  apply(diff: PolicyDiff): Promise<void>;
  /** Subscribe to decision events; returns the unsubscribe function. */
  onEvent(listener: (event: DatapathEvent) => void): () => void;
  counters(): DatapathCounters;
  close(): Promise<void>;
}
