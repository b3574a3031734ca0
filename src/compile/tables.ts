// One endpoint direction's LPM table: every prefix that some rule contributes, each carrying the
// rules of all prefixes containing it (the datapath does ONE longest-prefix lookup, so a narrower
// prefix must repeat what broader ones say). Overflow or an inexpressible order replaces the whole
// direction with the fail-closed fallback.
import { type Cidr, formatCidr, hostCidr, makeCidr } from '../policy/cidr.js';
import { type IPAddress, formatIP } from '../policy/ip.js';
import { ALL_V4, ALL_V6, type Contribution } from './contributions.js';
import { AmbiguousFqdnOrder, type CompileDiagnostic, RuleListOverflow } from './diagnostics.js';
import type { OrderedRule } from './order.js';
import { type ListItem, buildRuleList, ruleListKey } from './rule-list.js';
import { type CompiledRule, type DirName, type DirectionTable, type PrefixEntry, RESERVED_RULE_ID } from './types.js';

interface Node {
  readonly cidr: Cidr;
  readonly items: { rule: OrderedRule; boxes: Contribution['boxes'] }[];
}

function nodeKey(c: Cidr): string {
  return `${c.family}|${c.prefixLength}|${c.base}`;
}

export function prefixEntry(cidr: Cidr, rules: readonly CompiledRule[]): PrefixEntry {
  return {
    cidr: formatCidr(cidr),
    family: cidr.family,
    addr: formatIP({ family: cidr.family, value: cidr.base }),
    prefixLen: cidr.prefixLength,
    rules,
    key: ruleListKey(rules),
  };
}

const IMPLICIT_ALLOW: readonly CompiledRule[] = [
  { proto: 0, portLo: 0, portHi: 0, tier: 'admin', action: 'accept', fqdn: false, fqdnSlot: 0, ruleId: RESERVED_RULE_ID.implicitAllow },
];
const FALLBACK_DENY: readonly CompiledRule[] = [
  { proto: 0, portLo: 0, portHi: 0, tier: 'admin', action: 'deny', fqdn: false, fqdnSlot: 0, ruleId: RESERVED_RULE_ID.fallbackDeny },
];

export interface DirectionInput {
  readonly endpoint: string;
  readonly direction: DirName;
  readonly isolated: boolean;
  readonly rules: readonly { rule: OrderedRule; contributions: readonly Contribution[] }[];
  /** Addresses that are always allowed but do not fit the endpoint config (extra pod/node IPs). */
  readonly implicit: readonly IPAddress[];
  readonly maxRules: number;
}

/** The fail-closed table: deny everything except the implicitly allowed addresses. */
export function fallbackTable(input: Pick<DirectionInput, 'isolated' | 'implicit'>): DirectionTable {
  const prefixes = new Map<string, PrefixEntry>();
  for (const c of [ALL_V4, ALL_V6]) {
    const e = prefixEntry(c, FALLBACK_DENY);
    prefixes.set(e.cidr, e);
  }
  for (const ip of input.implicit) {
    const e = prefixEntry(hostCidr(ip), IMPLICIT_ALLOW);
    prefixes.set(e.cidr, e);
  }
  return { isolated: input.isolated, prefixes, fallback: true };
}

export function buildDirectionTable(input: DirectionInput): { table: DirectionTable; diagnostics: CompileDiagnostic[] } {
  const nodes = new Map<string, Node>();
  const lengths: Record<4 | 6, Set<number>> = { 4: new Set(), 6: new Set() };
  for (const { rule, contributions } of input.rules) {
    for (const c of contributions) {
      const k = nodeKey(c.cidr);
      let n = nodes.get(k);
      if (!n) {
        nodes.set(k, (n = { cidr: c.cidr, items: [] }));
        lengths[c.cidr.family].add(c.cidr.prefixLength);
      }
      n.items.push({ rule, boxes: c.boxes });
    }
  }
  const sortedLengths = { 4: [...lengths[4]].sort((a, b) => a - b), 6: [...lengths[6]].sort((a, b) => a - b) };
  const prefixes = new Map<string, PrefixEntry>();
  // Many host prefixes see the same rules with the same boxes: build each distinct list once.
  const memo = new Map<string, ReturnType<typeof buildRuleList>>();
  for (const n of nodes.values()) {
    const byPos = new Map<number, { rule: OrderedRule; boxes: Contribution['boxes'][number][] }>();
    for (const len of sortedLengths[n.cidr.family]) {
      if (len > n.cidr.prefixLength) break;
      const anc = len === n.cidr.prefixLength ? n : nodes.get(nodeKey(makeCidr(n.cidr.family, n.cidr.base, len)));
      if (!anc) continue;
      for (const it of anc.items) {
        const have = byPos.get(it.rule.pos);
        if (have) have.boxes.push(...it.boxes);
        else byPos.set(it.rule.pos, { rule: it.rule, boxes: [...it.boxes] });
      }
    }
    const items: ListItem[] = [...byPos.values()].sort((a, b) => a.rule.pos - b.rule.pos);
    let sig = `${n.cidr.family}`;
    for (const it of items) {
      sig += `|${it.rule.pos}`;
      for (const b of it.boxes) sig += `,${b.proto}:${b.lo}:${b.hi}:${b.slot}`;
    }
    let res = memo.get(sig);
    if (!res) memo.set(sig, (res = buildRuleList(items, n.cidr.family)));
    const cidrText = formatCidr(n.cidr);
    if (!res.ok) {
      return { table: fallbackTable(input), diagnostics: [new AmbiguousFqdnOrder(input.endpoint, input.direction, cidrText, res.policies)] };
    }
    if (res.rules.length > input.maxRules) {
      const policies = [...new Set(items.map((i) => i.rule.policyRef))];
      return {
        table: fallbackTable(input),
        diagnostics: [new RuleListOverflow(input.endpoint, input.direction, cidrText, res.rules.length, input.maxRules, policies)],
      };
    }
    prefixes.set(cidrText, prefixEntry(n.cidr, res.rules));
  }
  for (const ip of input.implicit) {
    const e = prefixEntry(hostCidr(ip), IMPLICIT_ALLOW);
    prefixes.set(e.cidr, e);
  }
  return { table: { isolated: input.isolated, prefixes, fallback: false }, diagnostics: [] };
}
