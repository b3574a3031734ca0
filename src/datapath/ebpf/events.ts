// Ring-buffer records -> DatapathEvent: the endpoint named by pod, the deciding rule named by
// policy and rule (src/compile's RuleRef), and the kernel's monotonic time turned into epoch ms.
import type { CompiledNode } from '../../compile/types.js';
import type { DatapathEvent } from '../types.js';
import { decodeEvent } from './layout.js';

export interface EventContext {
  readonly node: CompiledNode | null;
  readonly endpointOf: (epId: number) => string | undefined;
  /** One simultaneous reading of the epoch (ms) and CLOCK_MONOTONIC (ns) clocks. */
  readonly nowEpochMs: number;
  readonly nowMonoNs: bigint;
}

const TIER = { admin: 'Admin', np: 'NetworkPolicy', baseline: 'Baseline' } as const;

export function toDatapathEvent(record: Buffer, ctx: EventContext): DatapathEvent {
  const e = decodeEvent(record);
  const rule = e.reason === 'rule' ? ctx.node?.rules.get(e.ruleId) : undefined;
  return {
    at: ctx.nowEpochMs - Number(ctx.nowMonoNs - e.tsNs) / 1e6,
    endpoint: ctx.endpointOf(e.epId) ?? `ep:${e.epId}`,
    direction: e.dir,
    verdict: e.verdict,
    src: e.saddr,
    dst: e.daddr,
    peer: e.dir === 'egress' ? e.daddr : e.saddr,
    proto: e.proto,
    sport: e.sport,
    dport: e.dport,
    reason: e.reason,
    ...(e.reason === 'rule' && e.tier !== 'none' ? { tier: TIER[e.tier] } : {}),
    ...(rule !== undefined ? { rule } : {}),
  };
}
