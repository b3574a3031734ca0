// The decision log: one JSON line per datapath decision event the agent receives (every deny; the
// allows the datapath samples), naming the tier, policy and rule that decided (the compiled
// RuleRef). Capped per second so a flood of denies cannot make logging the bottleneck; dropped
// lines are counted and reported on the next line that gets through.
import type { Logger } from 'pino';
import type { DatapathEvent } from '../datapath/types.js';
import type { AgentMetrics } from './metrics.js';

const PROTO_NAME: Record<number, string> = { 1: 'ICMP', 6: 'TCP', 17: 'UDP', 58: 'ICMPv6', 132: 'SCTP' };

/** The fields of one decision line (also what the demo and the e2e tests read back). */
export interface DecisionRecord {
  readonly decision: 'allow' | 'deny';
  readonly pod: string;
  readonly direction: 'egress' | 'ingress';
  readonly src: string;
  readonly dst: string;
  readonly protocol: string;
  readonly sport: number;
  readonly dport: number;
  /** Admin / NetworkPolicy / Baseline / Default / NotEnforced, or null when no tier applies. */
  readonly tier: string | null;
  readonly policy: string | null;
  readonly rule: string | number | null;
  readonly reason: string;
  readonly note?: string;
}

function tierOf(e: DatapathEvent): string | null {
  if (e.rule?.tier) return e.rule.tier;
  switch (e.reason) {
    case 'npNoMatch':
      return 'NetworkPolicy';
    case 'default':
      return 'Default';
    case 'notEnforced':
    case 'self':
    case 'nodeIp':
      return 'NotEnforced';
    default:
      return null;
  }
}

/** The human reason, in the words `dnsgate explain` uses. */
function reasonText(e: DatapathEvent): string {
  switch (e.reason) {
    case 'rule':
      return e.rule?.policy ? `${e.rule.policy} rule ${String(e.rule.rule)} (${e.rule.tier ?? '?'} tier)` : (e.rule?.note ?? 'a reserved rule');
    case 'npNoMatch':
      return `selected by a NetworkPolicy/ApplicationNetworkPolicy for ${e.direction}, and no rule of them matches`;
    case 'default':
      return `no policy decided: default mode`;
    case 'nodeIp':
      return "the pod's node address (kubelet probes are always allowed)";
    case 'self':
      return 'the pod talking to itself';
    case 'malformed':
      return 'malformed packet';
    case 'notEnforced':
      return 'not enforced';
  }
}

export function decisionRecord(e: DatapathEvent): DecisionRecord {
  return {
    decision: e.verdict,
    pod: e.endpoint,
    direction: e.direction,
    src: e.src,
    dst: e.dst,
    protocol: PROTO_NAME[e.proto] ?? String(e.proto),
    sport: e.sport,
    dport: e.dport,
    tier: tierOf(e),
    policy: e.rule?.policy ?? null,
    rule: e.rule?.rule ?? null,
    reason: reasonText(e),
    ...(e.rule?.note !== undefined && e.rule.policy === null ? { note: e.rule.note } : {}),
  };
}

export class DecisionLog {
  private windowStart = 0;
  private lines = 0;
  private suppressed = 0;

  constructor(
    private readonly logger: Logger,
    private readonly metrics: AgentMetrics | undefined,
    private readonly linesPerSecond = 200,
    private readonly clock: () => number = Date.now,
  ) {}

  record(e: DatapathEvent): void {
    const rec = decisionRecord(e);
    this.metrics?.decisions.labels(e.direction, e.verdict, rec.tier ?? 'none').inc();
    const now = this.clock();
    let extra: { suppressed?: number } = {};
    if (now - this.windowStart >= 1000) {
      if (this.suppressed > 0) extra = { suppressed: this.suppressed };
      this.windowStart = now;
      this.lines = 0;
      this.suppressed = 0;
    }
    if (this.lines >= this.linesPerSecond) {
      this.suppressed++;
      this.metrics?.decisionLogSuppressed.inc();
      return;
    }
    this.lines++;
    const line = { event: 'decision', ...rec, ...extra };
    if (e.verdict === 'deny') this.logger.warn(line, 'decision');
    else this.logger.info(line, 'decision');
  }
}
