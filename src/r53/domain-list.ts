// Domain list entries with the DNS Firewall syntax: a name, optionally starting with `*`.
//
// AWS documents only the syntax (an optional leading `*`, then A-Z a-z 0-9 - and dots, 1..255
// characters), not what a `*` matches. The emulator follows dnsgate's own pattern semantics
// (SEMANTICS.md section 5) for `*.example.com`: one or more whole labels, never the apex, unless
// the `wildcardMatchesApex` setting is on. A lone `*` matches every name (the "walled garden"
// catch-all). A `*` glued to the text (`*example.com`, which the API accepts) has two readings,
// chosen by the `gluedWildcard` setting: `text-suffix` (default: any name whose text ends with
// "example.com", so "badexample.com" too, as a plain glob reads it) or `label-suffix`
// ("example.com" and the names below it). Loading such an entry warns, since AWS does not say.
import { canonicalName, parentOf } from './names.js';

export type DomainEntry =
  | { readonly kind: 'exact'; readonly raw: string; readonly name: string }
  | { readonly kind: 'wildcard'; readonly raw: string; readonly suffix: string }
  /** `*` directly followed by text: `rest` is that text, canonical. */
  | { readonly kind: 'glued'; readonly raw: string; readonly rest: string }
  | { readonly kind: 'any'; readonly raw: string };

export type GluedWildcard = 'text-suffix' | 'label-suffix';
export const GLUED_WILDCARD_READINGS: readonly GluedWildcard[] = ['text-suffix', 'label-suffix'];

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
  if (text.startsWith('*')) {
    const rest = text.slice(1);
    if (!BODY.test(rest)) return 'after "*" only A-Z, a-z, 0-9, "-" and "." between labels are allowed';
    return { kind: 'glued', raw: text, rest: canonicalName(rest) };
  }
  if (!BODY.test(text)) return 'only A-Z, a-z, 0-9, "-" and "." between labels are allowed (and an optional leading "*")';
  return { kind: 'exact', raw: text, name: canonicalName(text) };
}

export interface MatchOptions {
  readonly wildcardMatchesApex: boolean;
  /** How `*example.com` matches (default text-suffix). */
  readonly gluedWildcard?: GluedWildcard;
}

/** A domain list compiled for lookups that cost one map probe per label of the query name. */
export class CompiledDomainList {
  private readonly exact = new Map<string, string>();
  private readonly wildcard = new Map<string, string>();
  /** Glued entries by their rest: probed per label (label-suffix) or scanned (text-suffix). */
  private readonly glued = new Map<string, string>();
  private anyEntry: string | undefined;
  /** The entries as given, for tools that list what the firewall names (`dnsgate coexist`). */
  readonly entries: readonly DomainEntry[];

  constructor(entries: readonly DomainEntry[]) {
    this.entries = [...entries];
    for (const e of entries) {
      if (e.kind === 'exact') this.exact.set(e.name, e.raw);
      else if (e.kind === 'wildcard') this.wildcard.set(e.suffix, e.raw);
      else if (e.kind === 'glued') {
        if (!this.glued.has(e.rest)) this.glued.set(e.rest, e.raw);
      } else this.anyEntry = e.raw;
    }
  }

  get size(): number {
    return this.exact.size + this.wildcard.size + this.glued.size + (this.anyEntry === undefined ? 0 : 1);
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
    if (this.glued.size > 0) {
      const hit = (options.gluedWildcard ?? 'text-suffix') === 'text-suffix' ? this.gluedByText(name) : this.gluedByLabel(name);
      if (hit !== undefined) return hit;
    }
    return this.anyEntry;
  }

  private gluedByText(name: string): string | undefined {
    for (const [rest, raw] of this.glued) if (name.endsWith(rest)) return raw;
    return undefined;
  }

  private gluedByLabel(name: string): string | undefined {
    for (let p: string | undefined = name; p !== undefined && p !== ''; p = parentOf(p)) {
      const hit = this.glued.get(p);
      if (hit !== undefined) return hit;
    }
    return undefined;
  }
}
