// Domain list entries with the DNS Firewall syntax: a name, optionally starting with `*`.
//
// AWS documents only the syntax (an optional leading `*`, then A-Z a-z 0-9 - and dots, 1..255
// characters); it does not say whether `*.example.com` matches `example.com` itself. The emulator
// follows dnsgate's own pattern semantics (SEMANTICS.md section 5): `*.` matches one or more whole
// labels and never the apex, unless the `wildcardMatchesApex` setting is on. A lone `*` matches
// every name (the "walled garden" catch-all). A `*` glued to a label (`*example.com`) is rejected
// because its meaning is not documented.
import { canonicalName, parentOf } from './names.js';

export type DomainEntry =
  | { readonly kind: 'exact'; readonly raw: string; readonly name: string }
  | { readonly kind: 'wildcard'; readonly raw: string; readonly suffix: string }
  | { readonly kind: 'any'; readonly raw: string };

const BODY = /^[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.?$/;

/** Parses one entry; returns the reason as a string when it is not valid. */
export function parseDomainEntry(raw: string): DomainEntry | string {
  if (typeof raw !== 'string') return 'must be a string';
  const text = raw.trim();
  if (text.length < 1 || text.length > 255) return 'must be 1..255 characters';
  if (text === '*') return { kind: 'any', raw: text };
  if (text.startsWith('*.')) {
    const rest = text.slice(2);
    if (!BODY.test(rest)) return 'after "*." only A-Z, a-z, 0-9, "-" and "." between labels are allowed';
    return { kind: 'wildcard', raw: text, suffix: canonicalName(rest) };
  }
  if (text.startsWith('*')) return '"*" must be alone or followed by "." (the emulator does not guess partial-label wildcards)';
  if (!BODY.test(text)) return 'only A-Z, a-z, 0-9, "-" and "." between labels are allowed (and an optional leading "*")';
  return { kind: 'exact', raw: text, name: canonicalName(text) };
}

export interface MatchOptions {
  readonly wildcardMatchesApex: boolean;
}

/** A domain list compiled for lookups that cost one map probe per label of the query name. */
export class CompiledDomainList {
  private readonly exact = new Map<string, string>();
  private readonly wildcard = new Map<string, string>();
  private anyEntry: string | undefined;
  /** The entries as given, for tools that list what the firewall names (`dnsgate coexist`). */
  readonly entries: readonly DomainEntry[];

  constructor(entries: readonly DomainEntry[]) {
    this.entries = [...entries];
    for (const e of entries) {
      if (e.kind === 'exact') this.exact.set(e.name, e.raw);
      else if (e.kind === 'wildcard') this.wildcard.set(e.suffix, e.raw);
      else this.anyEntry = e.raw;
    }
  }

  get size(): number {
    return this.exact.size + this.wildcard.size + (this.anyEntry === undefined ? 0 : 1);
  }

  /** The entry (as written) that matches `name`, or undefined. `name` must be canonical. */
  match(name: string, options: MatchOptions): string | undefined {
    const exact = this.exact.get(name);
    if (exact !== undefined) return exact;
    if (options.wildcardMatchesApex) {
      const apex = this.wildcard.get(name);
      if (apex !== undefined) return apex;
    }
    for (let p = parentOf(name); p !== undefined && p !== ''; p = parentOf(p)) {
      const hit = this.wildcard.get(p);
      if (hit !== undefined) return hit;
    }
    return this.anyEntry;
  }
}
