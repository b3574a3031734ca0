// FQDN slots: one per egress rule with domainNames peers (the union of that rule's patterns), and
// the questions the DNS proxy asks of them: which slots does a learned (pod, name, ip) satisfy?
import { normalizeName, patternMatchesName } from '../fqdn/pattern.js';
import type { RuleModel } from '../policy/model.js';
import type { CompiledNode, FqdnSlot } from './types.js';

/** The rule's domainNames patterns (deduplicated, written order), or [] if it has none. */
export function rulePatterns(rule: RuleModel): string[] {
  if (rule.peers === 'any') return [];
  const out: string[] = [];
  for (const p of rule.peers) if (p.kind === 'domainNames') for (const pat of p.patterns) if (!out.includes(pat)) out.push(pat);
  return out;
}

/** Stable allocation key of a slot: changing the patterns makes a new slot (old learnings die with the old one). */
export function slotKey(policyRef: string, rule: RuleModel, patterns: readonly string[]): string {
  return `${policyRef}/egress/${rule.index}|${patterns.join(',')}`;
}

export function slotMatchesName(slot: FqdnSlot, name: string): boolean {
  const n = normalizeName(name);
  return slot.patterns.some((p) => patternMatchesName(p, n));
}

/** The slots a learned (pod, name) satisfies: slots the pod's endpoint uses whose patterns match. */
export function slotsForLearned(node: CompiledNode, pod: string, name: string): number[] {
  const ep = node.endpoints.get(pod);
  if (!ep) return [];
  return ep.slots.filter((s) => {
    const slot = node.slots.get(s);
    return slot !== undefined && slotMatchesName(slot, name);
  });
}
