// The fixed pieces of endpoint direction tables: prefix entries, the implicit allow of the pod's
// extra addresses, and the fail-closed fallback that replaces a direction the compiler cannot
// express exactly (see direction.ts for the table builder).
import { type Cidr, formatCidr, hostCidr } from '../policy/cidr.js';
import { type IPAddress, formatIP } from '../policy/ip.js';
import { PrefixTable } from './prefix-table.js';
import { ruleListKey } from './rule-list.js';
import { ALL_V4, ALL_V6 } from './variants.js';
import { type CompiledRule, type DirectionTable, type PrefixEntry, RESERVED_RULE_ID } from './types.js';

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

export const IMPLICIT_ALLOW: readonly CompiledRule[] = [
  { proto: 0, portLo: 0, portHi: 0, tier: 'admin', action: 'accept', fqdn: false, fqdnSlot: 0, ruleId: RESERVED_RULE_ID.implicitAllow },
];
const FALLBACK_DENY: readonly CompiledRule[] = [
  { proto: 0, portLo: 0, portHi: 0, tier: 'admin', action: 'deny', fqdn: false, fqdnSlot: 0, ruleId: RESERVED_RULE_ID.fallbackDeny },
];

const DENY_ALL = [prefixEntry(ALL_V4, FALLBACK_DENY), prefixEntry(ALL_V6, FALLBACK_DENY)];
const fallbacks = new Map<string, DirectionTable>();

/** The fail-closed table: deny everything except the implicitly allowed addresses. */
export function fallbackTable(input: { readonly isolated: boolean; readonly implicit: readonly IPAddress[] }): DirectionTable {
  // Most fallbacks are alike (no extra addresses): share them, so a diff skips them by identity.
  if (input.implicit.length === 0) {
    const key = String(input.isolated);
    let t = fallbacks.get(key);
    if (!t) fallbacks.set(key, (t = makeFallback(input)));
    return t;
  }
  return makeFallback(input);
}

function makeFallback(input: { readonly isolated: boolean; readonly implicit: readonly IPAddress[] }): DirectionTable {
  const prefixes = new Map<string, PrefixEntry>();
  for (const e of DENY_ALL) prefixes.set(e.cidr, e);
  for (const ip of input.implicit) {
    const e = prefixEntry(hostCidr(ip), IMPLICIT_ALLOW);
    prefixes.set(e.cidr, e);
  }
  return { isolated: input.isolated, prefixes: PrefixTable.of(prefixes), fallback: true };
}
