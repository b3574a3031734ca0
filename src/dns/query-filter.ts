// queryFilter (SEMANTICS.md 5): with `refuse` or `nxdomain`, an egress-isolated pod asking for a
// name that matches none of its domain patterns nor an always-allowed suffix gets REFUSED/NXDOMAIN
// instead of an upstream answer. `off` (the default) forwards everything.
import { Rcode } from './wire.js';

export type QueryFilterMode = 'off' | 'refuse' | 'nxdomain';

/** Is `name` (normalized) equal to or under one of the suffixes (normalized, no leading dot)? */
export function underSuffix(name: string, suffixes: readonly string[]): boolean {
  for (const s of suffixes) {
    if (name === s) return true;
    if (name.length > s.length && name.endsWith(s) && name.charCodeAt(name.length - s.length - 1) === 0x2e) return true;
  }
  return false;
}

/** The rcode to answer with instead of forwarding, or undefined to forward. */
export function filterRcode(
  mode: QueryFilterMode,
  egressIsolated: boolean,
  matchesAPattern: boolean,
  name: string,
  allowedSuffixes: readonly string[],
): number | undefined {
  if (mode === 'off' || !egressIsolated || matchesAPattern || underSuffix(name, allowedSuffixes)) return undefined;
  return mode === 'refuse' ? Rcode.REFUSED : Rcode.NXDOMAIN;
}
