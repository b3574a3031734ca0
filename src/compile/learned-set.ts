// The learned (endpoint, slot, ip) -> expiry set as the datapath holds it (dg_learned), built from
// the proxy's (pod, name, ip, expiresAt) learnings through the slot table.
import type { LearnedIP } from '../fqdn/learned.js';
import { canonicalIP } from '../policy/ip.js';
import { slotsForLearned } from './slots.js';
import type { CompiledNode } from './types.js';

export class LearnedSet {
  private readonly entries = new Map<string, number>();

  private static key(epId: number, slot: number, ip: string): string {
    return `${epId}|${slot}|${canonicalIP(ip)}`;
  }

  /** Inserts or extends (an expiry is never shortened, like the datapath's learn). */
  add(epId: number, slot: number, ip: string, expiresAt: number): void {
    const k = LearnedSet.key(epId, slot, ip);
    const have = this.entries.get(k);
    if (have === undefined || have < expiresAt) this.entries.set(k, expiresAt);
  }

  /** Live at `now`: expiry is exclusive, as in the evaluator and the program. */
  live(epId: number, slot: number, ip: string, now: number): boolean {
    const e = this.entries.get(LearnedSet.key(epId, slot, ip));
    return e !== undefined && now < e;
  }

  get size(): number {
    return this.entries.size;
  }

  /** What the datapath would hold for these learnings on this node's endpoints. */
  static fromLearned(node: CompiledNode, learned: readonly LearnedIP[]): LearnedSet {
    const set = new LearnedSet();
    for (const l of learned) {
      const ep = node.endpoints.get(l.pod);
      if (!ep) continue;
      for (const slot of slotsForLearned(node, l.pod, l.name)) set.add(ep.epId, slot, l.ip, l.expiresAt);
    }
    return set;
  }
}
