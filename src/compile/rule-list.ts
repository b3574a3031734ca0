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

/** A later entry never fires if an earlier one covers it and would stop the walk first. */
function shadows(f: CompiledRule, e: CompiledRule): boolean {
  if (f.tier !== e.tier && !(f.tier === 'admin' && f.action !== 'pass')) return false;
  const fb: Box = { proto: f.proto, lo: f.portLo, hi: f.portHi, slot: f.fqdnSlot };
  const eb: Box = { proto: e.proto, lo: e.portLo, hi: e.portHi, slot: e.fqdnSlot };
  // Port 0-0 means "all ports" in a list; compare in the 1..65535 form.
  const norm = (b: Box): Box => (b.proto !== 0 && b.lo === 0 && (b.proto === 6 || b.proto === 17 || b.proto === 132) ? { ...b, lo: 1, hi: 65535 } : b);
  return boxCovers(norm(fb), norm(eb));
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
  for (const e of raw) if (!kept.some((f) => shadows(f, e))) kept.push(e);
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
