// One prefix's final rule list from the (rule, boxes) that apply there, in list order: shadowing
// inside multi-policy levels, dead-entry removal, merging of adjacent port ranges. Never drops an
// entry that could be the first match.
import { type Box, boxCovers, boxesOverlap, subtractAll } from './boxes.js';
import type { OrderedRule } from './order.js';
import type { CompiledRule } from './types.js';

export interface ListItem {
  readonly rule: OrderedRule;
  readonly boxes: readonly Box[];
}

export type ListResult = { readonly ok: true; readonly rules: CompiledRule[] } | { readonly ok: false; readonly conflictPolicy: string; readonly policies: string[] };

function toRule(item: OrderedRule, b: Box): CompiledRule {
  const allPorts = b.lo === 1 && b.hi === 65535;
  return {
    proto: b.proto,
    portLo: allPorts ? 0 : b.lo,
    portHi: allPorts ? 0 : b.hi,
    tier: item.tier,
    action: item.action,
    fqdn: b.slot !== 0,
    fqdnSlot: b.slot,
    ruleId: item.ruleId,
  };
}

// Port 0-0 means "all ports" in a list; compare in the 1..65535 form.
function boxOf(r: CompiledRule): Box {
  const b: Box = { proto: r.proto, lo: r.portLo, hi: r.portHi, slot: r.fqdnSlot };
  return b.proto !== 0 && b.lo === 0 && (b.proto === 6 || b.proto === 17 || b.proto === 132) ? { ...b, lo: 1, hi: 65535 } : b;
}

/**
 * A later entry `e` never fires if an earlier `f` (at index `at` of `kept`) covers it and would
 * stop the walk first. An Admin Accept/Deny stops a walk of a lower tier only if no Admin Pass
 * before it can match e's packets: the Pass skips the rest of the Admin tier, f included.
 */
function shadows(kept: readonly CompiledRule[], at: number, e: CompiledRule): boolean {
  const f = kept[at] as CompiledRule;
  if (f.tier !== e.tier && !(f.tier === 'admin' && f.action !== 'pass')) return false;
  if (!boxCovers(boxOf(f), boxOf(e))) return false;
  if (f.tier === e.tier) return true;
  for (let i = 0; i < at; i++) {
    const p = kept[i] as CompiledRule;
    if (p.tier === 'admin' && p.action === 'pass' && boxesOverlap(boxOf(p), boxOf(e))) return false;
  }
  return true;
}

/** `items` sorted by rule.pos, one item per rule. */
export function buildRuleList(items: readonly ListItem[], family: 4 | 6): ListResult {
  const raw: CompiledRule[] = [];
  for (const item of items) {
    let boxes = item.boxes;
    if (item.rule.multi) {
      // Earlier rules of the same policy with a weaker action are that policy's first match
      // wherever they match, so this rule must not fire there.
      for (const other of items) {
        const o = other.rule;
        if (o.policyPos !== item.rule.policyPos || o.evalIdx >= item.rule.evalIdx || o.rank <= item.rule.rank) continue;
        const staticBoxes = other.boxes.filter((b) => b.slot === 0);
        const dynamic = other.boxes.filter((b) => b.slot !== 0);
        if (dynamic.some((d) => boxes.some((b) => boxesOverlap(d, b)))) {
          const policies = [...new Set(items.filter((i) => i.rule.tier === item.rule.tier && i.rule.multi).map((i) => i.rule.policyRef))];
          return { ok: false, conflictPolicy: item.rule.policyRef, policies: [item.rule.policyRef, ...policies.filter((p) => p !== item.rule.policyRef)] };
        }
        boxes = subtractAll(boxes, staticBoxes, family);
        if (boxes.length === 0) break;
      }
    }
    for (const b of boxes) raw.push(toRule(item.rule, b));
  }
  const kept: CompiledRule[] = [];
  for (const e of raw) if (!kept.some((_f, i) => shadows(kept, i, e))) kept.push(e);
  const merged: CompiledRule[] = [];
  for (const e of kept) {
    const last = merged[merged.length - 1];
    if (
      last &&
      last.ruleId === e.ruleId &&
      last.tier === e.tier &&
      last.action === e.action &&
      last.proto === e.proto &&
      last.fqdnSlot === e.fqdnSlot &&
      last.portLo !== 0 &&
      e.portLo !== 0 &&
      e.portLo <= last.portHi + 1 &&
      last.portLo <= e.portHi + 1
    ) {
      merged[merged.length - 1] = { ...last, portLo: Math.min(last.portLo, e.portLo), portHi: Math.max(last.portHi, e.portHi) };
    } else merged.push(e);
  }
  return { ok: true, rules: merged };
}

export function ruleListKey(rules: readonly CompiledRule[]): string {
  let s = '';
  for (const r of rules) s += `${r.proto}:${r.portLo}-${r.portHi}:${r.tier[0]}${r.action[0]}:${r.fqdnSlot}:${r.ruleId},`;
  return s;
}
