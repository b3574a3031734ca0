// The shape of a coexistence report: what `dnsgate coexist -o json` prints, field for field.
// Every value is plain JSON (no Maps, no bigints) so the JSON output is the report itself.

export type QueryType = 'A' | 'AAAA';

/** What the pod's resolver sees. NOERROR-NODATA = NOERROR without a record of the asked type. */
export type PodRcode = 'NOERROR' | 'NOERROR-NODATA' | 'NXDOMAIN' | 'SERVFAIL' | 'REFUSED';

export type OutcomeKind =
  /** The firewall answers (no rule or ALLOW) and the pod's egress policy allows the addresses. */
  | 'reachable'
  /** Like reachable, but an ALERT rule matched: answered and logged. */
  | 'alert-only'
  /** A BLOCK rule (NXDOMAIN or NODATA) matched the name or a name of its chain, or fail-closed SERVFAIL. */
  | 'blocked-by-firewall'
  /** The name resolves but the pod's egress policy denies every probed port to the addresses. */
  | 'blocked-by-policy'
  /** OVERRIDE rewrote the answer to a target the pod may reach. */
  | 'override-allowed'
  /** OVERRIDE rewrote the answer to a target the pod may not reach. */
  | 'override-denied'
  /** Nothing to connect to: the zones hold no address of this type (NXDOMAIN or NODATA, not the firewall). */
  | 'no-address'
  /** The pod has no address of this family (IPv4-only pod, AAAA question). */
  | 'no-family'
  /** dnsgate's proxy answers SERVFAIL: the answer's CNAME chain loops, forks or is too long to learn from. */
  | 'refused-by-proxy';

export type NameSource =
  | { readonly kind: 'policy'; readonly policy: string; readonly rule: string | number; readonly pattern: string }
  | { readonly kind: 'firewall'; readonly ruleGroup: string; readonly rule: string; readonly domainList: string; readonly entry: string }
  | { readonly kind: 'user'; readonly entry: string };

export interface NameEntry {
  /** Canonical name that is analysed. */
  readonly name: string;
  /** Set when `name` is a representative of a wildcard (`*.x.com` -> `dnsgate-probe.x.com`). */
  readonly probeFor: string | null;
  readonly sources: readonly NameSource[];
}

export interface Subject {
  /** The first pod of the group ("namespace/name"). */
  readonly id: string;
  /** Pods selected by exactly the same policies for egress, with the same IP families. */
  readonly pods: readonly string[];
  /** Refs of the policies that select these pods for egress (every tier). */
  readonly policies: readonly string[];
  readonly families: readonly (4 | 6)[];
  /** Probed destination ports, as PROTOCOL/PORT. */
  readonly ports: readonly string[];
}

export interface PatternRef {
  readonly pattern: string;
  readonly policy: string;
  readonly rule: string | number;
}

export interface FirewallView {
  readonly verdict: 'ANSWER' | 'BLOCK' | 'SERVFAIL';
  readonly action: 'ALLOW' | 'ALERT' | 'BLOCK' | null;
  readonly blockResponse: 'NODATA' | 'NXDOMAIN' | 'OVERRIDE' | null;
  readonly overrideDomain: string | null;
  readonly ruleGroup: string | null;
  readonly rule: string | null;
  readonly domainList: string | null;
  /** The domain list entry that matched, as written. */
  readonly entry: string | null;
  /** The name of the chain the deciding rule matched, and its position (0 = the query name). */
  readonly matchedName: string | null;
  readonly chainIndex: number | null;
  readonly redirection: 'INSPECT_REDIRECTION_DOMAIN' | 'TRUST_REDIRECTION_DOMAIN' | null;
  /** Names the firewall inspected, in chain order. */
  readonly inspected: readonly string[];
  /** Firewall unavailable and failing open: the query went through uninspected. */
  readonly bypassed: boolean;
}

export interface AnswerRecord {
  readonly name: string;
  readonly type: string;
  readonly ttl: number;
  readonly data: string;
}

export interface DnsView {
  readonly rcode: PodRcode;
  readonly answers: readonly AnswerRecord[];
  /**
   * False when part of the answer comes from outside --zones (the real resolver's records are not
   * known here): the rcode and answers above are then the emulator's stand-in, not a prediction.
   */
  readonly known: boolean;
}

/** One entry dnsgate's proxy would learn for the pod (SEMANTICS.md section 5). */
export interface LearnedView {
  /** Always the query name: an OVERRIDE target's addresses are learned under the name asked. */
  readonly name: string;
  /** An address of the answer, or "?" when the answer's addresses are not known (outside --zones). */
  readonly ip: string;
  /** Lowest TTL along the CNAME chain to the record (before minTTL/maxTTL clamping); null if unknown. */
  readonly ttl: number | null;
  /** How long the learning opens new connections: the TTL clamped to the report's `learning` bounds. */
  readonly learnedForSeconds: number | null;
  /** The pod's patterns that match the query name (the reason the proxy learns at all). */
  readonly patterns: readonly string[];
}

export interface PolicyView {
  /** Allow when at least one probed port is allowed to every address. */
  readonly verdict: 'Allow' | 'Deny';
  readonly addresses: readonly string[];
  /** False when the addresses are placeholders (240.0.0.1 / 100::1) for an answer not in --zones. */
  readonly addressesKnown: boolean;
  readonly allowedPorts: readonly string[];
  readonly deniedPorts: readonly string[];
  /** The allow exists only because of what the proxy learned (a domainNames rule). */
  readonly byLearning: boolean;
  readonly tier: string;
  readonly policy: string | null;
  readonly rule: string | number | null;
  readonly reason: string;
}

export interface Outcome {
  readonly kind: OutcomeKind;
  /** The rcode the pod sees. */
  readonly rcode: PodRcode | null;
  readonly summary: string;
}

export interface TypeResult {
  readonly qtype: QueryType;
  readonly firewall: FirewallView;
  readonly dns: DnsView;
  /** What the proxy learns from this answer for this pod (empty when none of its patterns match). */
  readonly learned: readonly LearnedView[];
  /** Policy verdict on what the pod actually gets (after the firewall); null when nothing to connect to. */
  readonly policy: PolicyView | null;
  /** Policy verdict on the name's own records, as if there were no firewall; null without a family. */
  readonly intended: PolicyView | null;
  readonly outcome: Outcome;
}

export interface Row {
  readonly subject: string;
  readonly name: string;
  readonly probeFor: string | null;
  /** The subject's domainNames patterns that match the name. */
  readonly patterns: readonly PatternRef[];
  readonly results: readonly TypeResult[];
  /** The outcome of the A question (the AAAA one for IPv6-only subjects). */
  readonly outcome: OutcomeKind;
  readonly notes: readonly string[];
}

export type ConflictKind =
  | 'dead-rule'
  | 'override-unreachable'
  | 'wildcard-apex'
  | 'wildcard-semantics'
  | 'qtype-split'
  | 'redirection-chain';

export interface Conflict {
  readonly kind: ConflictKind;
  readonly name: string | null;
  readonly subjects: readonly string[];
  /** The policy side: "Kind/ns/name rule R pattern P". */
  readonly policy: string | null;
  /** The firewall side: "group/rule (list: entry)". */
  readonly firewall: string | null;
  readonly detail: string;
}

export interface CoexistReport {
  readonly version: 1;
  readonly mode: 'standard' | 'strict';
  /** The emulator settings the firewall's answers were computed under (undocumented AWS behaviour). */
  readonly firewall: {
    readonly wildcardMatchesApex: boolean;
    readonly gluedWildcard: string;
    readonly trustRedirectionScope: string;
    readonly keepChainBeforeBlock: boolean;
    readonly overrideResolvesTarget: boolean;
    readonly inspectOverrideTarget: boolean;
    readonly available: boolean;
    readonly failOpen: string;
  };
  readonly zonesGiven: boolean;
  /** The proxy's learned-TTL bounds the analysis assumed (`--min-ttl`, `--max-ttl`). */
  readonly learning: { readonly minTTL: number; readonly maxTTL: number };
  readonly subjects: readonly Subject[];
  readonly names: readonly NameEntry[];
  readonly rows: readonly Row[];
  readonly conflicts: readonly Conflict[];
  readonly notes: readonly string[];
}
